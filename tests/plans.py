"""Offline plans of the real stacks, computed once per test session (plans are deterministic)."""

from __future__ import annotations

import json
from functools import cache

from infra.settings import Settings
from pipelines.offline import available_stacks, plan_stack, read_stack_config
from pipelines.plan import Plan, Resource

# Every stack file found: a fork's own stacks are tested like the examples.
STACKS = tuple(available_stacks())
_PLANS: dict[str, Plan] = {}


def stack_plan(stack: str) -> Plan:
    if stack not in _PLANS:
        _PLANS[stack] = plan_stack(stack)
    return _PLANS[stack]


@cache
def settings_of(stack: str) -> Settings:
    """A stack's settings as the program reads them: what a test expects comes from here, never from
    numbers copied out of the stack file."""
    from infra.settings import parse

    config = read_stack_config(stack).values
    return parse(stack, {k.removeprefix("mlplatform:"): v for k, v in config.items() if k.startswith("mlplatform:")})


def policy(resource: Resource, prop: str = "policy") -> dict:
    """A JSON policy input of a resource, parsed."""
    return json.loads(resource.inputs[prop])


def role_policies(plan: Plan, role: Resource) -> list[dict]:
    """Every identity policy document of a role: its inline policies and the customer-managed
    policies attached to it (the platform attaches AWS managed ones only to EKS roles)."""
    docs = [policy(rp) for rp in plan.of_type("aws:iam/rolePolicy:RolePolicy") if rp.inputs["role"] == role.id]
    managed = {p.outputs["arn"]: p for p in plan.of_type("aws:iam/policy:Policy")}
    for att in plan.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment"):
        if att.inputs["role"] == role.outputs["name"] and att.inputs["policyArn"] in managed:
            docs.append(policy(managed[att.inputs["policyArn"]]))
    return docs


def role_statements(plan: Plan, role: Resource) -> list[dict]:
    return [st for doc in role_policies(plan, role) for st in doc["Statement"]]


_VARIANTS: dict[tuple[str, str], Plan] = {}


def variant_plan(stack: str, changes: dict) -> Plan:
    """The plan of a stack with documented setting changes (dotted paths, e.g.
    ``training.endpointPublicAccess``) applied to its file's values, as an engineer would edit it."""
    if not changes:
        return stack_plan(stack)
    key = (stack, json.dumps(changes, sort_keys=True))
    if key not in _VARIANTS:
        _VARIANTS[key] = plan_stack(stack, overrides=variant_overrides(stack, changes))
    return _VARIANTS[key]


def variant_overrides(stack: str, changes: dict) -> dict[str, dict]:
    """Full config keys (``mlplatform:training``) with the changes applied to the file's values."""
    values = read_stack_config(stack).values
    overrides: dict[str, dict] = {}
    for path, value in changes.items():
        section, _, rest = path.partition(".")
        full = f"mlplatform:{section}"
        current = overrides.setdefault(full, json.loads(values.get(full, "{}")))
        *parents, leaf = rest.split(".")
        for part in parents:
            current = current.setdefault(part, {})
        current[leaf] = value
    return overrides


def variant_settings(stack: str, changes: dict) -> Settings:
    """The settings a variant's program reads."""
    from infra.settings import parse

    config = read_stack_config(stack, overrides=variant_overrides(stack, changes)).values
    return parse(stack, {k.removeprefix("mlplatform:"): v for k, v in config.items() if k.startswith("mlplatform:")})
