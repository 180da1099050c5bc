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


def _endpoints_with_model_monitor(stack: str) -> list[dict]:
    found = []
    for e in settings_of(stack).serving.endpoints:
        d = e.model_dump(by_alias=True, exclude_none=True)
        if e.monitor:
            d["monitor"]["modelMonitor"] = True
        found.append(d)
    return found


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
        # docs/models-and-serving.md: an account that still has Model Monitor opts in per endpoint
        "staging+model-monitor": ("staging", {"serving.endpoints": _endpoints_with_model_monitor("staging")}),
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


def _endpoints_on_day_two(name: str) -> list[dict]:
    """Each endpoint of a plan's settings on another instance type, with one instance more at most,
    another capture rate and, monitored, another baseline and window."""
    found = []
    for e in settings_for(name).serving.endpoints:
        d = e.model_dump(by_alias=True, exclude_none=True)
        d["instanceType"] = "ml.c5.xlarge" if e.instance_type != "ml.c5.xlarge" else "ml.m5.xlarge"
        d["maxInstances"] = e.max_instances + 1
        d["dataCapturePercent"] = max(1, e.data_capture_percent - 5)
        d["bakeMinutes"] = e.bake_minutes + 5
        if e.monitor:
            d["monitor"]["baselinePrefix"] = f"{e.monitor.baseline_prefix}v2/"
            d["monitor"]["schedule"] = "daily" if e.monitor.schedule == "hourly" else "hourly"
            d["monitor"]["instanceType"] = "ml.m5.large"
        found.append(d)
    return found


def _day_two(name: str) -> dict:
    s = settings_for(name)
    zones = ["eu-west-1a", "eu-west-1b", "eu-west-1c"]
    return {
        "serving.endpoints": _endpoints_on_day_two(name),
        "serving.modelVersions": {family: v + 1 for family, v in s.serving.model_versions.items()},
        "network.availabilityZones": zones if len(s.network.availability_zones) < 3 else zones[:2],
        "training.systemNodes.instanceTypes": ["m7i.large"],
        "training.systemNodes.diskGi": s.training.system_nodes.disk_gi + 10,
        "experiments.weeklyMaintenanceWindowStart": "Sat:03:00",
    }


# A plan -> the same stack after an ordinary day's changes (tests/invariants/test_replacements.py).
DAY_TWO = {f"{name}+day-two": (name, _day_two(name)) for name in (*STACKS, "staging+model-monitor")}


def day_two_plan(name: str) -> Plan:
    base, changes = DAY_TWO[name]
    stack = stack_of(base)
    return variant_plan(stack, {**(_variants()[base][1] if base not in STACKS else {}), **changes})
