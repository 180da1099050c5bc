"""`mlplatform baseline`: a baseline the drift job reads where the plan says, with every feature the
stack's alarms watch, and that measures the training data itself as no drift."""

from __future__ import annotations

import csv
import json
import random
from pathlib import Path

import pytest

from functions.drift import drift
from pipelines.baseline import destination
from pipelines.cli import main
from pipelines.offline import REPO_ROOT
from tests.plans import STACKS, stack_plan


def drift_jobs(stack: str) -> dict[str, dict]:
    """endpoint (short name) -> the event the plan's drift schedule sends its job."""
    plan, events = stack_plan(stack), {}
    for schedule in plan.of_type("aws:scheduler/schedule:Schedule"):
        event = json.loads(schedule.inputs["target"]["input"])
        if "baselineUri" in event:
            events[event["endpointName"].removeprefix(f"mlplatform-{plan.stack}-")] = event
    return events


def watched_features(stack: str, endpoint_name: str) -> set[str]:
    """The features the plan's drift alarms on that endpoint read."""
    found = set()
    for alarm in stack_plan(stack).of_type("aws:cloudwatch/metricAlarm:MetricAlarm"):
        dims = alarm.inputs.get("dimensions") or {}
        if dims.get("Endpoint") == endpoint_name and "Feature" in dims:
            found.add(dims["Feature"])
    return found


CASES = [(s, e) for s in STACKS for e in drift_jobs(s)]


def _a_case() -> tuple[str, str]:
    """A stack and an endpoint its drift job measures (a fork may have none: then there is nothing to check)."""
    if not CASES:
        pytest.skip("no stack has an endpoint with a drift job")
    return CASES[0]


@pytest.mark.parametrize(("stack", "endpoint"), CASES)
def test_the_baseline_goes_where_the_drift_job_reads_it_with_the_features_its_alarms_watch(stack, endpoint):
    event = drift_jobs(stack)[endpoint]
    where = destination(REPO_ROOT, stack, endpoint)
    assert where.uri == event["baselineUri"]
    assert set(where.features) == watched_features(stack, event["endpointName"])


def write_csv(path: Path, header: list[str], rows: list[list]) -> Path:
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def training_rows(n: int = 500, seed: int = 7) -> list[list]:
    rng = random.Random(seed)
    return [[rng.gauss(300, 90), rng.choice(["basic", "pro", "team"]), rng.expovariate(1 / 900), 0] for _ in range(n)]


HEADER = ["tenure_days", "plan", "lifetime_value", "churned"]


def test_a_baseline_from_the_cli_sees_its_own_training_data_as_no_drift_and_a_shift_as_drift(tmp_path, capsys):
    rows = training_rows()
    training = write_csv(tmp_path / "train.csv", HEADER, rows)
    out = tmp_path / "baseline.json"
    args = ["baseline", str(training), "--columns", "tenure_days,plan,lifetime_value", "--categorical", "plan"]
    assert main([*args, "-o", str(out)]) == 0
    assert "3 features (2 numeric, 1 categorical)" in capsys.readouterr().out
    baseline = json.loads(out.read_text())
    assert baseline["columns"] == ["tenure_days", "plan", "lifetime_value"]  # the label left out, order kept
    # requests as the endpoint receives them: CSV rows without a header, the label not among them
    same = [dict(zip(baseline["columns"], r[:3], strict=True)) for r in training_rows(seed=8)]
    assert all(d is not None and d < 0.1 for d in drift.drift(baseline, same).values())
    shifted = [{**r, "tenure_days": r["tenure_days"] + 200, "plan": "enterprise"} for r in same]
    measured = drift.drift(baseline, shifted)
    assert measured["tenure_days"] > 0.25 and measured["plan"] > 0.25 and measured["lifetime_value"] < 0.1


def test_with_a_stack_it_names_the_object_to_upload(tmp_path, capsys):
    stack, endpoint = _a_case()
    where = destination(REPO_ROOT, stack, endpoint)
    header = [*where.features, "label"]
    rows = [[random.Random(i).random() for _ in where.features] + [0] for i in range(50)]
    training = write_csv(tmp_path / "train.csv", header, rows)
    out = tmp_path / "b.json"
    argv = ["baseline", str(training), "--columns", ",".join(where.features), "-o", str(out)]
    assert main([*argv, "--stack", stack, "--endpoint", endpoint]) == 0
    assert f"aws s3 cp {out} {where.uri}" in capsys.readouterr().out


def _refusal(tmp_path, capsys, argv: list[str]) -> str:
    out = tmp_path / "refused.json"
    assert main(["baseline", *argv, "-o", str(out)]) == 2
    assert not out.exists()
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return err


def test_mistakes_are_refused_with_what_is_wrong_and_nothing_written(tmp_path, capsys):
    good = write_csv(tmp_path / "train.csv", HEADER, training_rows(40))
    ragged = tmp_path / "ragged.csv"
    ragged.write_text("a,b\n1,2\n3\n")
    stack, endpoint = _a_case()
    where = destination(REPO_ROOT, stack, endpoint)
    cases = {
        "cannot read it": [str(tmp_path / "missing.csv")],
        "line 3: 1 values, the header has 2 columns": [str(ragged)],
        "no column age (the header has: tenure_days": [str(good), "--columns", "age"],
        "feature 'plan' has no numeric value: mark it categorical": [str(good)],
        "--categorical churn: not a baseline column": [str(good), "--columns", "tenure_days", "--categorical", "churn"],
        "--bins 1: between 2 and 100": [str(good), "--categorical", "plan", "--bins", "1"],
        "--stack and --endpoint go together": [str(good), "--stack", stack],
        "has no endpoint 'nope' in serving.endpoints": [str(good), "--stack", stack, "--endpoint", "nope"],
        f"watch {', '.join(where.features)}, which the baseline would not have": [
            str(write_csv(tmp_path / "other.csv", ["not_a_watched_feature"], [[1.0], [2.0]])),
            "--stack",
            stack,
            "--endpoint",
            endpoint,
        ],
    }
    for expected, argv in cases.items():
        assert expected in _refusal(tmp_path, capsys, argv), argv


def test_an_endpoint_without_the_drift_job_is_refused(tmp_path, capsys):
    """No monitor: nothing reads a baseline; Model Monitor opted in: it reads its own two files."""
    import shutil

    import yaml

    stack, endpoint = _a_case()
    project = tmp_path / "project"
    shutil.copytree(REPO_ROOT / "stacks", project / "stacks")
    shutil.copy(REPO_ROOT / "Pulumi.yaml", project)
    path = project / "stacks" / f"Pulumi.{stack}.yaml"
    good = write_csv(tmp_path / "train.csv", ["x"], [[1], [2]])
    argv = [str(good), "--stack", stack, "--endpoint", endpoint, "--project-dir", str(project)]
    for change, expected in [
        (lambda e: e.update(monitor={**e["monitor"], "modelMonitor": True}), "is measured by Model Monitor"),
        (lambda e: e.pop("monitor"), "has no `monitor`"),
    ]:
        doc = yaml.safe_load(path.read_text())
        served = next(e for e in doc["config"]["mlplatform:serving"]["endpoints"] if e["name"] == endpoint)
        change(served)
        path.write_text(yaml.safe_dump(doc))
        assert expected in _refusal(tmp_path, capsys, argv)
