"""Offline plans of the real stacks, computed once per test session (plans are deterministic)."""

from __future__ import annotations

import json

from pipelines.offline import plan_stack
from pipelines.plan import Plan, Resource

STACKS = ("dev", "staging", "prod")
_PLANS: dict[str, Plan] = {}


def stack_plan(stack: str) -> Plan:
    if stack not in _PLANS:
        _PLANS[stack] = plan_stack(stack)
    return _PLANS[stack]


def policy(resource: Resource, prop: str = "policy") -> dict:
    """A JSON policy input of a resource, parsed."""
    return json.loads(resource.inputs[prop])
