"""The example training job fits the platform it documents, and ships everything it names."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest
import yaml

from pipelines.offline import REPO_ROOT
from tests.plans import STACKS, stack_plan

EXAMPLE = REPO_ROOT / "examples" / "rayjob"


def _job() -> dict:
    return yaml.safe_load((EXAMPLE / "rayjob.yaml").read_text())


def _pods(job: dict) -> list[dict]:
    spec = job["spec"]["rayClusterSpec"]
    return [spec["headGroupSpec"]["template"]["spec"]] + [g["template"]["spec"] for g in spec["workerGroupSpecs"]]


@pytest.mark.parametrize("stack", STACKS)
def test_rayjob_example_runs_as_the_team_on_gpu_nodes_within_its_quota(stack):
    job = _job()
    assert (job["apiVersion"], job["kind"]) == ("ray.io/v1", "RayJob")
    team = yaml.safe_load((EXAMPLE / "kustomization.yaml").read_text())["namespace"]
    plan = stack_plan(stack)
    quota = plan.get("kubernetes:core/v1:ResourceQuota", f"in-cluster-team-{team}").inputs["spec"]["hard"]
    assert all(p["serviceAccountName"] == "trainer" for p in _pods(job))
    gpus = 0
    for group in job["spec"]["rayClusterSpec"]["workerGroupSpecs"]:
        (container,) = group["template"]["spec"]["containers"]
        gpus += int(container["resources"]["requests"].get("nvidia.com/gpu", 0)) * group["maxReplicas"]
    assert 0 < gpus <= int(quota["requests.nvidia.com/gpu"])
    # the environment it reads is the one the platform writes into the team's namespace
    config = plan.get("kubernetes:core/v1:ConfigMap", f"in-cluster-team-{team}-environment").inputs
    assert config["metadata"] == {"name": "mlplatform", "namespace": team}
    assert {"MLFLOW_TRACKING_URI", "ARTIFACTS_URI", "AWS_REGION"} <= set(config["data"])
    assert config["data"]["ARTIFACTS_URI"].endswith(f"/experiments/{team}/")
    for pod in _pods(job):
        (container,) = pod["containers"]
        assert {"configMapRef": {"name": "mlplatform"}} in container["envFrom"]


def test_the_training_script_ships_with_the_job_and_takes_its_arguments():
    job = _job()
    entrypoint = job["spec"]["entrypoint"].split()
    assert entrypoint[:2] == ["python", "/home/ray/job/train.py"]
    kustomization = yaml.safe_load((EXAMPLE / "kustomization.yaml").read_text())
    (generator,) = kustomization["configMapGenerator"]
    assert generator["files"] == ["train.py"] and (EXAMPLE / "train.py").exists()
    for pod in _pods(job):
        (container,) = pod["containers"]
        mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
        volumes = {v["name"]: v["configMap"]["name"] for v in pod["volumes"]}
        assert mounts["job"] == "/home/ray/job" and volumes["job"] == generator["name"]
    # the script parses the entrypoint's arguments (heavy imports are lazy: no Ray needed here)
    done = subprocess.run(
        [sys.executable, str(EXAMPLE / "train.py"), "--help"], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    import importlib.util

    spec = importlib.util.spec_from_file_location("example_train", EXAMPLE / "train.py")
    train = importlib.util.module_from_spec(spec)
    previous, sys.dont_write_bytecode = sys.dont_write_bytecode, True  # leave no __pycache__ in examples/
    try:
        spec.loader.exec_module(train)
    finally:
        sys.dont_write_bytecode = previous
    args = train.parse_args(entrypoint[2:])
    assert (args.epochs, args.workers) == (3, 2)


def test_the_example_names_no_account_bucket_or_arn():
    for path in (p for p in EXAMPLE.iterdir() if p.is_file()):
        text = path.read_text()
        assert not re.search(r"\b\d{12}\b", text), path.name
        assert "arn:aws" not in text and "s3://" not in text, path.name
