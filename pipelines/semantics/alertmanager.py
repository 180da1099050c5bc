"""Where Alertmanager sends an alert (prometheus/alertmanager docs/configuration.md, <route>): the
alert enters the root route, is matched against its child routes in order, descends into the first
that matches (and, with `continue: true`, into later matching siblings too) and ends at the deepest
matching routes; a route with no matching child takes the alert itself. Matchers are
`label op "value"` with op one of =, !=, =~, !~ (regexes are anchored); all of a route's must match."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

_MATCHER = re.compile(r'^\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*"?(.*?)"?\s*$')


def _matches(matcher: str, labels: Mapping[str, str]) -> bool:
    found = _MATCHER.match(matcher)
    if not found:
        raise ValueError(f"not an Alertmanager matcher: {matcher!r}")
    name, op, value = found.groups()
    have = labels.get(name, "")
    if op == "=":
        return have == value
    if op == "!=":
        return have != value
    full = re.fullmatch(value, have) is not None
    return full if op == "=~" else not full


def route(tree: Mapping[str, Any], labels: Mapping[str, str]) -> list[str]:
    """The receivers an alert with these labels reaches."""

    def visit(node: Mapping[str, Any], receiver: str) -> list[str]:
        receiver = node.get("receiver", receiver)
        found: list[str] = []
        for child in node.get("routes") or []:
            if all(_matches(m, labels) for m in child.get("matchers") or []):
                found += visit(child, receiver)
                if not child.get("continue"):
                    break
        return found or [receiver]

    return visit(tree, tree["receiver"])


def notifies(receiver: Mapping[str, Any]) -> bool:
    """A receiver that sends somewhere (any *_configs); the `null` receiver sends nothing."""
    return any(key.endswith("_configs") and value for key, value in receiver.items())
