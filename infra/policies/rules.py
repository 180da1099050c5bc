"""Every rule of the pack, in one list: the policy pack and the offline runner use the same objects."""

from __future__ import annotations

from pulumi_policy import ResourceValidationPolicy, StackValidationPolicy

from infra.policies import compute, identity, ml, observability, stack, storage

RULES: list[ResourceValidationPolicy | StackValidationPolicy] = [
    obj
    for module in (storage, identity, compute, observability, ml, stack)
    for obj in vars(module).values()
    if isinstance(obj, ResourceValidationPolicy | StackValidationPolicy)
]


def rules_markdown() -> str:
    """The rule table of the README (a test keeps the two identical)."""
    rows = ["| rule | level | checks |", "|---|---|---|"]
    for r in sorted(RULES, key=lambda r: r.name):
        rows.append(f"| `{r.name}` | {r.enforcement_level.value} | {r.description} |")
    return "\n".join(rows)
