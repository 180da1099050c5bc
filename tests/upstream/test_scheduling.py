"""Pods that must run on GPU nodes land there, and controllers land on system nodes: each chart's
defaults at the pinned version (foundation/upstream/charts.py) merged with our values as Helm does,
matched against the nodes the NodePools and the node group make, as the scheduler matches them."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from foundation.upstream import charts
from pipelines.semantics.helm import merge
from pipelines.semantics.scheduling import Node, Placement, why_not
from tests.plans import STACKS, stack_plan

RELEASE = "kubernetes:helm.sh/v3:Release"
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def gpu_nodes(plan) -> dict[str, Node]:
    """A node of each GPU pool as Karpenter makes it: the pool's template labels and taints, plus the
    labels Karpenter puts on every node it launches (karpenter.sh/nodepool, os, arch; and the GPU
    manufacturer the pool requires: aws/karpenter-provider-aws v1.11.1 pkg/apis/v1/labels.go)."""
    nodes = {}
    for pool in plan.of_type("kubernetes:karpenter.sh/v1:NodePool"):
        spec = pool.inputs["spec"]
        if "nvidia.com/gpu" not in spec.get("limits", {}):
            continue
        name = pool.inputs["metadata"]["name"]
        labels = {
            **spec["template"]["metadata"]["labels"],
            "karpenter.sh/nodepool": name,
            "kubernetes.io/os": "linux",
            "kubernetes.io/arch": "amd64",
            "karpenter.k8s.aws/instance-gpu-manufacturer": "nvidia",
        }
        nodes[name] = Node(labels, spec["template"]["spec"].get("taints", []))
    return nodes


def system_node(plan) -> Node:
    (group,) = plan.of_type("aws:eks/nodeGroup:NodeGroup")
    return Node({**group.inputs.get("labels", {}), "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64"})


def release_values(plan, name: str) -> dict:
    (release,) = [r for r in plan.of_type(RELEASE) if r.inputs["name"] == name]
    return release.inputs.get("values") or {}, release.inputs["version"]


@pytest.mark.parametrize("stack", STACKS)
def test_gpu_daemons_run_on_every_gpu_pool(stack):
    plan = stack_plan(stack)
    nodes = gpu_nodes(plan)
    assert nodes, "every example stack has a GPU pool"
    for release, facts in (("nvidia-device-plugin", charts.DEVICE_PLUGIN), ("dcgm-exporter", charts.DCGM_EXPORTER)):
        values, version = release_values(plan, release)
        pod = Placement.of(merge(facts[version], values))
        for pool, node in nodes.items():
            assert why_not(pod, node) == [], (release, pool)


def test_the_device_plugin_chart_defaults_alone_never_reach_a_gpu_node():
    """Why the values matter: without NFD nothing sets the labels the chart's default affinity asks
    for (charts.py), so an install with default values advertises no GPU."""
    pod = Placement.of(charts.DEVICE_PLUGIN["0.17.1"])
    bare_gpu_node = Node(
        {"mlplatform/gpu": "true", "karpenter.sh/nodepool": "gpu"},
        [{"key": "nvidia.com/gpu", "value": "true", "effect": "NoSchedule"}],
    )
    assert any("nodeAffinity" in r for r in why_not(pod, bare_gpu_node))


@pytest.mark.parametrize("stack", STACKS)
def test_gpu_daemons_stay_off_nodes_without_gpus(stack):
    plan = stack_plan(stack)
    for release, facts in (("nvidia-device-plugin", charts.DEVICE_PLUGIN), ("dcgm-exporter", charts.DCGM_EXPORTER)):
        values, version = release_values(plan, release)
        pod = Placement.of(merge(facts[version], values))
        assert why_not(pod, system_node(plan)), release


@pytest.mark.parametrize("stack", STACKS)
def test_karpenter_runs_on_system_nodes_one_replica_per_node(stack):
    plan = stack_plan(stack)
    values, version = release_values(plan, "karpenter")
    rendered = merge(charts.KARPENTER_CHART[version], values)
    assert why_not(Placement.of(rendered), system_node(plan)) == []
    for pool, node in gpu_nodes(plan).items():
        assert why_not(Placement.of(rendered), node), f"Karpenter must not run on capacity it manages ({pool})"
    # Required anti-affinity on the hostname: each replica needs its own system node.
    assert rendered["affinity"]["podAntiAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
    (group,) = plan.of_type("aws:eks/nodeGroup:NodeGroup")
    assert 1 <= rendered["replicas"] <= group.inputs["scalingConfig"]["minSize"]


def _pod_templates(doc: dict) -> list[tuple[str, dict]]:
    spec = doc["spec"]["rayClusterSpec"]
    pods = [("head", spec["headGroupSpec"]["template"])]
    pods += [(g["groupName"], g["template"]) for g in spec.get("workerGroupSpecs", [])]
    return pods


@pytest.mark.parametrize("stack", STACKS)
def test_the_example_rayjob_gpu_workers_fit_every_gpu_pool(stack):
    plan = stack_plan(stack)
    (job,) = [d for d in yaml.safe_load_all((EXAMPLES / "rayjob" / "rayjob.yaml").read_text()) if d["kind"] == "RayJob"]
    gpu_pods = [
        (name, t)
        for name, t in _pod_templates(job)
        if any("nvidia.com/gpu" in (c.get("resources", {}).get("requests") or {}) for c in t["spec"]["containers"])
    ]
    assert gpu_pods
    for name, template in gpu_pods:
        for pool, node in gpu_nodes(plan).items():
            assert why_not(Placement.of(template["spec"]), node) == [], (name, pool)
        # Running training must not be disrupted by consolidation.
        assert template["metadata"]["annotations"]["karpenter.sh/do-not-disrupt"] == "true"


@pytest.mark.parametrize("stack", STACKS)
def test_gpu_alerts_and_dashboard_read_the_labels_the_exporter_really_keeps(stack):
    """dcgm-exporter labels a GPU's metrics with the pod using it (pod, namespace, container); with the
    chart's default honorLabels: false Prometheus renames them exported_pod, ... (charts.py). Rules and
    panels that group DCGM metrics by pod or namespace need honorLabels on, and label values must be
    the exporters' own (kube-state-metrics phases are capitalised; nvidia.com/gpu is nvidia_com_gpu)."""
    import json as _json
    import re

    from components.cluster_observability import GPU_RULES
    from pipelines.offline import REPO_ROOT

    plan = stack_plan(stack)
    values, version = release_values(plan, "dcgm-exporter")
    monitor = merge(charts.DCGM_EXPORTER[version], values)["serviceMonitor"]
    panels = _json.loads((REPO_ROOT / "dashboards" / "gpu.json").read_text())["panels"]
    exprs = [r["expr"] for r in GPU_RULES] + [t["expr"] for p in panels for t in p["targets"]]
    dcgm = [e for e in exprs if "DCGM_" in e]
    uses_pod_labels = [e for e in dcgm if re.search(r"\b(pod|namespace)\b", e)]
    assert uses_pod_labels, "the GPU rules group DCGM metrics by pod"
    assert monitor["honorLabels"] is True
    assert not any("exported_" in e for e in exprs)
    facts = charts.KUBE_PROMETHEUS_STACK[release_values(plan, "kube-prometheus-stack")[1]]
    for expr in exprs:
        for phase in re.findall(r'phase\s*=\s*"([^"]+)"', expr):
            assert phase in facts["pod_phases"], expr
        for resource in re.findall(r'resource\s*=\s*"([^"]+)"', expr):
            assert resource == facts["gpu_resource_label"], expr
