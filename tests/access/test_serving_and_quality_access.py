"""What the roles AWS services assume for the platform can reach, with real calls in moto: an
endpoint's execution role reads its own family's model artifacts in the registry of record and
writes only its capture prefix; a drift job reads only its endpoint's capture and baseline and
writes only its reports; a dataset's Glue role reads only that dataset and writes only its results.
Every bucket of the stack (and of the registry's stack) and every object in them is tried, so
"nothing else" is checked, not assumed; the expected cells come from the settings and dataset files,
not from infra/access.py."""

from __future__ import annotations

import pytest

from infra.definitions import load_datasets
from tests.access.lab import DENIED, AccessLab
from tests.plans import settings_of, stack_plan


def _objects(stack: str) -> tuple[str, ...]:
    """An object under each prefix the roles of the stack (and of its registry) might be granted."""
    keys = set()
    for name in {stack, settings_of(stack).serving.registry_stack or stack}:
        s = settings_of(name)
        for family in s.registry.model_families:
            keys.add(f"models/{family}/v1/model.tar.gz")
        for e in s.serving.endpoints:
            keys |= {f"capture/{e.name}/primary/x.jsonl", f"monitoring/{e.name}/reports/r.json"}
            if e.monitor:
                keys.add(f"{e.monitor.baseline_prefix}baseline.json")
        for d in load_datasets(s.data_quality.datasets):
            keys |= {f"{d.prefix}part-0.parquet", f"data-quality/{d.name}/result.json"}
    return tuple(sorted(keys))


@pytest.fixture(scope="module", params=["dev", "prod"])
def lab(request):
    stack = request.param
    registry = settings_of(stack).serving.registry_stack or stack
    others = tuple(stack_plan(n) for n in sorted({registry, "prod" if stack == "dev" else "dev"} - {stack}))
    with AccessLab(stack_plan(stack), others, objects=_objects(stack)).running() as lab:
        yield lab


def _everything(lab: AccessLab, *, foreign: bool = True) -> list[tuple[str, str]]:
    """Every data zone of the stack and (reads) the same zones of the other stacks loaded, one of
    them the registry's, with an object under every prefix any of these roles is granted."""
    zones = ("raw", "curated", "artifacts")
    buckets = [lab.buckets[z] for z in zones]
    if foreign:
        buckets += [name for key, name in lab.foreign_buckets.items() if key.split(":")[1] in zones]
    return [(b, k) for b in buckets for k in (*lab.objects, f"models/{lab.family}/1")]


def _readable(lab: AccessLab, role: str) -> set[tuple[str, str]]:
    def get(bucket, key):
        return lambda s, _: s.client("s3").get_object(Bucket=bucket, Key=key)

    return {(b, k) for b, k in _everything(lab) if lab.attempt(role, get(b, k)) is None}


def _writable(lab: AccessLab, role: str) -> set[tuple[str, str]]:
    def put(bucket, key):
        return lambda s, _: s.client("s3").put_object(Bucket=bucket, Key=key, Body=b"x")

    # Writes are tried on the stack's own zones: the registry's bucket admits consumers to read only.
    outcomes = {(b, k): lab.attempt(role, put(b, k)) for b, k in _everything(lab, foreign=False)}
    assert set(outcomes.values()) <= {None, DENIED}, outcomes
    return {cell for cell, outcome in outcomes.items() if outcome is None}


def _bucket(stack: str, zone: str) -> str:
    return stack_plan(stack).outputs["buckets"][zone]


def test_an_endpoint_reads_only_its_model_and_writes_only_its_capture(lab):
    settings = settings_of(lab.plan.stack)
    registry = settings.serving.registry_stack or lab.plan.stack
    assert settings.serving.endpoints, "every example stack serves at least one endpoint"
    for e in settings.serving.endpoints:
        role = f"serving-{e.name}"
        models = _bucket(registry, "artifacts")
        family = f"models/{e.model_family}/"
        assert _readable(lab, role) == {(b, k) for b, k in _everything(lab) if b == models and k.startswith(family)}
        capture = (_bucket(lab.plan.stack, "artifacts"), f"capture/{e.name}/primary/x.jsonl")
        assert _writable(lab, role) == {capture}


def test_a_datasets_glue_role_reads_only_its_dataset_and_writes_only_its_results(lab):
    settings = settings_of(lab.plan.stack)
    for d in load_datasets(settings.data_quality.datasets):
        role = "data-quality-" + d.name.replace("_", "-")
        assert _readable(lab, role) == {(_bucket(lab.plan.stack, d.zone), f"{d.prefix}part-0.parquet")}
        results = (_bucket(lab.plan.stack, "artifacts"), f"data-quality/{d.name}/result.json")
        assert _writable(lab, role) == {results}


def test_a_drift_job_reads_only_its_endpoints_capture_and_baseline_and_writes_only_its_reports(lab):
    """The drift job runs as the endpoint's monitor role (functions/drift): it reads what SageMaker
    captured for this endpoint and the baseline it is given, and writes its reports, nothing else."""
    settings = settings_of(lab.plan.stack)
    monitored = [e for e in settings.serving.endpoints if e.monitor]
    assert monitored
    artifacts = _bucket(lab.plan.stack, "artifacts")
    for e in monitored:
        role = f"model-monitor-{e.name}"
        baseline = {(b, k) for b, k in _everything(lab) if b == artifacts and k.startswith(e.monitor.baseline_prefix)}
        capture = (artifacts, f"capture/{e.name}/primary/x.jsonl")
        assert baseline and _readable(lab, role) == {capture, *baseline}
        assert _writable(lab, role) == {(artifacts, f"monitoring/{e.name}/reports/r.json")}
