"""Will the scheduler place a pod on a node? The predicates that decide it for our pods: the node
selector, required node affinity (terms ORed, expressions ANDed) and taints against tolerations
(Kubernetes docs "Assigning Pods to Nodes" and "Taints and Tolerations")."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pipelines.semantics.selectors import requirement


@dataclass(frozen=True)
class Node:
    labels: Mapping[str, str]
    taints: Sequence[Mapping[str, str]] = ()


@dataclass(frozen=True)
class Placement:
    """The scheduling fields of a pod spec (as a chart renders them, or as a manifest has them)."""

    node_selector: Mapping[str, str] = field(default_factory=dict)
    affinity: Mapping[str, Any] = field(default_factory=dict)
    tolerations: Sequence[Mapping[str, Any]] = ()

    @classmethod
    def of(cls, spec: Mapping[str, Any]) -> Placement:
        return cls(spec.get("nodeSelector") or {}, spec.get("affinity") or {}, spec.get("tolerations") or ())


def tolerates(toleration: Mapping[str, Any], taint: Mapping[str, str]) -> bool:
    """A toleration matches a taint: same key (an empty key with Exists matches all), Equal needs the
    same value, and an empty effect matches every effect."""
    if toleration.get("effect") and toleration["effect"] != taint.get("effect"):
        return False
    op = toleration.get("operator", "Equal")
    if not toleration.get("key"):
        return op == "Exists"
    if toleration["key"] != taint.get("key"):
        return False
    return op == "Exists" or toleration.get("value", "") == taint.get("value", "")


def why_not(pod: Placement, node: Node) -> list[str]:
    """The reasons the pod cannot run on the node; empty when it can."""
    reasons = [f"nodeSelector {k}={v} not on the node" for k, v in pod.node_selector.items() if node.labels.get(k) != v]
    required = (pod.affinity.get("nodeAffinity") or {}).get("requiredDuringSchedulingIgnoredDuringExecution") or {}
    terms = required.get("nodeSelectorTerms")
    # "A null or empty node selector term matches no objects" (NodeSelectorTerm API docs).
    if terms is not None and not any(
        term.get("matchExpressions") and all(requirement(e, node.labels) for e in term["matchExpressions"])
        for term in terms
    ):
        reasons.append(f"no required nodeAffinity term matches the node's labels ({terms})")
    for taint in node.taints:
        if taint.get("effect") in ("NoSchedule", "NoExecute") and not any(tolerates(t, taint) for t in pod.tolerations):
            reasons.append(f"taint {taint.get('key')}={taint.get('value', '')}:{taint['effect']} not tolerated")
    return reasons
