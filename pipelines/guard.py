"""Decisions on a Pulumi preview: would it replace or delete stateful resources (promotion guard),
and has a stack drifted (nightly drift check)?

Both work on the PreviewDigest that `pulumi preview --json` prints (pulumi/pulumi
sdk/go/common/display/json.go): {config, steps: [{op, urn, provider, oldState, newState,
diffReasons, replaceReasons, detailedDiff}], diagnostics, duration, changeSummary}.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from foundation.conventions import STATEFUL_TYPES

DESTRUCTIVE_OPS = {"delete", "replace", "create-replacement", "delete-replaced", "discard", "discard-replaced"}
NO_CHANGE_OPS = {"same", "read", "refresh", "read-discard"}


def _type(step: Mapping[str, Any]) -> str:
    for state in (step.get("newState"), step.get("oldState")):
        if state and state.get("type"):
            return state["type"]
    return step["urn"].split("::")[2].split("$")[-1]


def _name(step: Mapping[str, Any]) -> str:
    return step["urn"].split("::")[-1]


@dataclass(frozen=True)
class Refusal:
    op: str
    type: str
    name: str
    reasons: tuple[str, ...]

    def __str__(self) -> str:
        why = f" (changed: {', '.join(self.reasons)})" if self.reasons else ""
        return f"{self.op} of {self.type} {self.name}{why}: it holds data, keys, identity or evidence"


def stateful_losses(preview: Mapping[str, Any]) -> list[Refusal]:
    """Steps that would replace or delete a stateful resource."""
    found = []
    for step in preview.get("steps", []):
        if step.get("op") in DESTRUCTIVE_OPS and _type(step) in STATEFUL_TYPES:
            reasons = tuple(step.get("replaceReasons") or step.get("diffReasons") or ())
            found.append(Refusal(step["op"], _type(step), _name(step), reasons))
    return found


@dataclass(frozen=True)
class DriftReport:
    stack: str
    drifted: list[tuple[str, str, str, tuple[str, ...]]]  # (op, type, name, diff reasons)

    @property
    def clean(self) -> bool:
        return not self.drifted

    def markdown(self) -> str:
        if self.clean:
            return f"Stack `{self.stack}` matches its program: no drift."
        lines = [
            f"Stack `{self.stack}` has drifted: {len(self.drifted)} resource(s) differ from the program.",
            "",
            "| change | type | resource | properties |",
            "|---|---|---|---|",
        ]
        lines += [f"| {op} | `{t}` | {n} | {', '.join(r) or '-'} |" for op, t, n, r in self.drifted]
        lines += [
            "",
            "Someone changed these outside Pulumi, or the program changed without a deploy. See docs/ci.md",
            "(When drift is reported) before running `pulumi up`.",
        ]
        return "\n".join(lines)


def drift_report(stack: str, preview: Mapping[str, Any]) -> DriftReport:
    """What a `pulumi preview --refresh` would change: every step that is not a no-op."""
    drifted = [
        (s["op"], _type(s), _name(s), tuple(s.get("diffReasons") or ()))
        for s in preview.get("steps", [])
        if s.get("op") not in NO_CHANGE_OPS and _type(s) != "pulumi:pulumi:Stack"
    ]
    return DriftReport(stack, drifted)
