"""Offline plans of the bootstrap stacks (bootstrap/stacks), computed once per test session."""

from __future__ import annotations

import pytest

from pipelines.offline import REPO_ROOT, plan_stack
from pipelines.plan import Plan

BOOTSTRAP = REPO_ROOT / "bootstrap"
STACKS = ("dev", "staging", "prod")
_PLANS: dict[str, Plan] = {}


def bootstrap_plan(stack: str) -> Plan:
    if stack not in _PLANS:
        _PLANS[stack] = plan_stack(stack, root=BOOTSTRAP)
    return _PLANS[stack]


@pytest.fixture(params=STACKS)
def plan(request) -> Plan:
    return bootstrap_plan(request.param)
