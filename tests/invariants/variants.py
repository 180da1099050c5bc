"""The plans the whole-plan invariants hold on: every stack file, and the variants the docs and the
stack files' comments offer, planned through setting changes as an engineer would make them. Each
option's values are all covered: a public dev endpoint with CIDRs and the private default; per-zone
and single NAT; private endpoints on and off; the online store on and off; endpoints with and without
a monitor; spot, on-demand and both."""

from __future__ import annotations

import shutil
import tempfile
from functools import cache
from pathlib import Path

import yaml

from infra.settings import Settings
from pipelines.offline import REPO_ROOT
from pipelines.plan import Plan
from tests.plans import STACKS, settings_of, stack_plan, variant_overrides, variant_plan, variant_settings

# A public range an office might have (not documentation, not private: the settings refuse those).
OFFICE = "81.2.69.0/24"


def _pools(stack: str, capacity: list[str]) -> list[dict]:
    return [
        {"name": p.name, "instanceFamilies": p.instance_families, "capacityTypes": capacity, "gpuLimit": p.gpu_limit}
        for p in settings_of(stack).training.gpu_pools
    ]


def _endpoints_without_monitor(stack: str) -> list[dict]:
    return [
        e.model_dump(by_alias=True, exclude={"monitor"}, exclude_none=True)
        for e in settings_of(stack).serving.endpoints
    ]


def _variants() -> dict[str, tuple[str, dict]]:
    return {
        # docs/deploying.md, "Later runs from a laptop": dev's endpoint opened to an office range
        "dev+public-endpoint": (
            "dev",
            {"training.endpointPublicAccess": True, "training.publicAccessCidrs": [OFFICE]},
        ),
        "dev+per-az-nat+private-endpoints+offline-only+on-demand": (
            "dev",
            {
                "network.natGateways": "per-az",
                "network.privateEndpoints": True,
                "featureStore.onlineStore": False,
                "training.cpuPool.capacityTypes": ["on-demand"],
                "training.gpuPools": _pools("dev", ["on-demand"]),
                # what cost-idle-within-budget asks for: interface endpoints and a NAT per zone cost
                # dev about 200 USD a month more at idle
                "monitoring.idleBudgetUsd": 600,
            },
        ),
        "staging+single-nat+no-private-endpoints+no-monitors": (
            "staging",
            {
                "network.natGateways": "single",
                "network.privateEndpoints": False,
                "serving.endpoints": _endpoints_without_monitor("staging"),
            },
        ),
    }


PLANS = (*STACKS, *_variants())


def plan_of(name: str) -> Plan:
    """A stack's plan, or a variant's."""
    if name in STACKS:
        return stack_plan(name)
    stack, changes = _variants()[name]
    return variant_plan(stack, changes)


def stack_of(name: str) -> str:
    return name if name in STACKS else _variants()[name][0]


def settings_for(name: str) -> Settings:
    """The settings a stack's or a variant's program reads."""
    if name in STACKS:
        return settings_of(name)
    return variant_settings(*_variants()[name])


@cache
def stacks_dir_for(name: str) -> Path:
    """A copy of stacks/ whose stack file is the variant's, for what reads stack files itself (the
    policy pack's cost rules read a stack's settings from its file, as on the engine)."""
    folder = Path(tempfile.mkdtemp(prefix="mlplatform-variant-")) / "stacks"
    shutil.copytree(REPO_ROOT / "stacks", folder)
    if name not in STACKS:
        stack, changes = _variants()[name]
        path = folder / f"Pulumi.{stack}.yaml"
        doc = yaml.safe_load(path.read_text())
        doc["config"].update(variant_overrides(stack, changes))
        path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return folder
