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


@pytest.fixture
def no_aws_credentials(monkeypatch, tmp_path):
    """No credential anywhere boto3 looks: environment, shared files, container and instance metadata."""
    for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
                "AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"):  # fmt: skip
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
