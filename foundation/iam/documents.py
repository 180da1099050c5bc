"""IAM-style policy documents (key, bucket, trust and identity policies) built from typed statements.

A typo in a hand-written JSON policy is found only when AWS rejects it; a ``Statement`` checks
its shape when it is built, and the rendered JSON is deterministic (keys in a fixed order).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import pulumi

Principals = Mapping[Literal["AWS", "Service", "Federated"], Any]


@dataclass(frozen=True)
class Statement:
    sid: str
    actions: Sequence[str]
    resources: Sequence[pulumi.Input[str]] = ()
    effect: Literal["Allow", "Deny"] = "Allow"
    principals: Principals | None = None
    conditions: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    # Everything but these (Deny statements with exceptions); exclusive with ``resources``.
    not_resources: Sequence[pulumi.Input[str]] = ()

    def __post_init__(self) -> None:
        if not self.sid.isalnum():
            raise ValueError(f"statement id {self.sid!r} must be alphanumeric")
        if not self.actions:
            raise ValueError(f"statement {self.sid} has no actions")
        if self.resources and self.not_resources:
            raise ValueError(f"statement {self.sid} has both Resource and NotResource")
        # Deny statements rightly apply to everyone; an Allow must name who it allows, except the
        # KMS form that admits the account's principals through one service (kms:CallerAccount and
        # kms:ViaService), as the aws/ebs key policy does.
        everyone = self.principals is not None and "*" in _flatten(self.principals.values())
        if self.effect == "Allow" and everyone and not account_through_service(self.conditions):
            raise ValueError(f"statement {self.sid} allows Principal '*'; name the principals")

    def render(self) -> dict[str, Any]:
        out: dict[str, Any] = {"Sid": self.sid, "Effect": self.effect}
        if self.principals is not None:
            out["Principal"] = {k: _one_or_list(v) for k, v in self.principals.items()}
        out["Action"] = _one_or_list(self.actions)
        if self.resources:
            out["Resource"] = _one_or_list(self.resources)
        if self.not_resources:
            out["NotResource"] = _one_or_list(self.not_resources)
        if self.conditions:
            out["Condition"] = {op: dict(kv) for op, kv in self.conditions.items()}
        return out


EVERYONE: Principals = {"AWS": "*"}


def account_through_service(conditions: Mapping[str, Mapping[str, Any]]) -> bool:
    """Conditions that limit Principal '*' of a key policy to one account's principals calling
    through one AWS service: StringEquals on both kms:CallerAccount and kms:ViaService."""
    equals = conditions.get("StringEquals") or {}
    return bool(equals.get("kms:CallerAccount")) and bool(equals.get("kms:ViaService"))


def document(statements: Sequence[Statement]) -> pulumi.Output[str]:
    """Render statements into a policy JSON string (an Output, since ARNs may be unknown)."""
    sids = [s.sid for s in statements]
    if len(set(sids)) != len(sids):
        raise ValueError(f"duplicate statement ids in {sids}")
    return pulumi.Output.json_dumps({"Version": "2012-10-17", "Statement": [s.render() for s in statements]})


def _one_or_list(value: Any) -> Any:
    if isinstance(value, str | pulumi.Output):
        return value
    values = list(value)
    return values[0] if len(values) == 1 else values


def _flatten(values: Any) -> list[Any]:
    flat: list[Any] = []
    for v in values:
        flat.extend([v] if isinstance(v, str | pulumi.Output) else list(v))
    return flat
