"""Kubernetes label selectors (k8s.io/apimachinery pkg/apis/meta/v1 LabelSelector; docs "Labels and
Selectors"): matchLabels and matchExpressions are ANDed; operators In, NotIn, Exists, DoesNotExist.
An empty selector matches everything; a missing (None) selector matches nothing."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def requirement(expr: Mapping[str, Any], labels: Mapping[str, str]) -> bool:  # noqa: PLR0911 - one per operator
    key, op, values = expr["key"], expr["operator"], list(expr.get("values") or [])
    if op == "In":
        return key in labels and labels[key] in values
    if op == "NotIn":
        # "NotIn" matches objects without the key too (apimachinery labels.Requirement.Matches).
        return key not in labels or labels[key] not in values
    if op == "Exists":
        return key in labels
    if op == "DoesNotExist":
        return key not in labels
    if op in ("Gt", "Lt"):  # node selector requirements only: integer comparison
        if key not in labels:
            return False
        try:
            have, want = int(labels[key]), int(values[0])
        except (ValueError, IndexError):
            return False
        return have > want if op == "Gt" else have < want
    raise ValueError(f"unknown selector operator {op!r}")


def matches(selector: Mapping[str, Any] | None, labels: Mapping[str, str]) -> bool:
    if selector is None:
        return False
    if any(labels.get(k) != v for k, v in (selector.get("matchLabels") or {}).items()):
        return False
    return all(requirement(e, labels) for e in selector.get("matchExpressions") or [])
