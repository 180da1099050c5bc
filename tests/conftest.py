"""Shared fixtures: a clean Pulumi runtime for every test, and the plans of the real stacks."""

from __future__ import annotations

import asyncio

import pytest
from pulumi.runtime import settings as rt_settings

from pipelines.plan import Plan
from tests.plans import STACKS, stack_plan


@pytest.fixture(autouse=True)
def fresh_runtime():
    """A fresh event loop and reset Pulumi settings around every test (DESIGN: offline first)."""
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    rt_settings.reset_options()
    yield
    rt_settings.reset_options()
    loop.close()
    asyncio.set_event_loop(None)


@pytest.fixture(params=STACKS)
def any_plan(request) -> Plan:
    return stack_plan(request.param)
