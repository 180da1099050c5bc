"""Every rule of the pack, in one list: the policy pack and the offline runner use the same objects."""

from __future__ import annotations

import datetime as dt

from pulumi_policy import ResourceValidationPolicy, StackValidationPolicy

from infra.policies import compute, cost, identity, ml, observability, stack, storage
from infra.policies.framework import ExceptionsFileError, read_exceptions

RULES: list[ResourceValidationPolicy | StackValidationPolicy] = [
    obj
    for module in (storage, identity, compute, observability, ml, stack, cost)
    for obj in vars(module).values()
    if isinstance(obj, ResourceValidationPolicy | StackValidationPolicy)
]


def rules_markdown() -> str:
    """The rule table of docs/policy-pack.md (a test keeps the two identical)."""
    rows = ["| rule | level | checks |", "|---|---|---|"]
    for r in sorted(RULES, key=lambda r: r.name):
        rows.append(f"| `{r.name}` | {r.enforcement_level.value} | {r.description} |")
    return "\n".join(rows)


def check_exceptions(today: dt.date | None = None) -> list[str]:
    """exceptions.yaml against the pack, before anything is planned: an entry naming no rule is an
    error (ExceptionsFileError); an expired one is a notice, since its rule now applies again."""
    today = today or dt.date.today()
    entries = read_exceptions()
    ids = {r.name for r in RULES}
    unknown = [
        f"entry {i + 1}: rule {e['rule']!r} is not a rule of the pack"
        for i, e in enumerate(entries)
        if e["rule"] not in ids
    ]
    if unknown:
        raise ExceptionsFileError("\n".join(["infra/policies/exceptions.yaml names unknown rules:", *unknown]))
    return [
        f"notice: the exception for {e['rule']} on {e['resource']} expired on {e['expires']}: the rule applies again "
        f"(infra/policies/exceptions.yaml, entry {i + 1}: remove it, or renew it with a new expiry and approval)"
        for i, e in enumerate(entries)
        if e["expires"] < today
    ]
