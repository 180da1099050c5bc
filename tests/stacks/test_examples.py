"""The example training job fits the platform it documents."""

from __future__ import annotations

import yaml

from pipelines.offline import REPO_ROOT
from tests.plans import stack_plan


def test_rayjob_example_runs_as_the_team_on_gpu_nodes_within_its_quota():
    job = yaml.safe_load((REPO_ROOT / "examples/rayjob-pytorch-ddp.yaml").read_text())
    assert (job["apiVersion"], job["kind"]) == ("ray.io/v1", "RayJob")
    team = job["metadata"]["namespace"]
    plan = stack_plan("dev")
    quota = plan.get("kubernetes:core/v1:ResourceQuota", f"in-cluster-team-{team}").inputs["spec"]["hard"]
    spec = job["spec"]["rayClusterSpec"]
    pods = [spec["headGroupSpec"]["template"]["spec"]] + [g["template"]["spec"] for g in spec["workerGroupSpecs"]]
    assert all(p["serviceAccountName"] == "trainer" for p in pods)
    gpus = 0
    for group in spec["workerGroupSpecs"]:
        pod = group["template"]["spec"]
        (container,) = pod["containers"]
        per_pod = int(container["resources"]["requests"].get("nvidia.com/gpu", 0))
        if per_pod:
            assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in pod["tolerations"]
            assert pod["nodeSelector"] == {"mlplatform/gpu": "true"}
        gpus += per_pod * group["maxReplicas"]
    assert 0 < gpus <= int(quota["requests.nvidia.com/gpu"])
    # the label it selects is the one the GPU NodePools put on their nodes
    pools = [r.inputs["spec"] for r in plan.of_type("kubernetes:karpenter.sh/v1:NodePool")]
    assert any(p["template"]["metadata"]["labels"].get("mlplatform/gpu") == "true" for p in pools)
