"""The flows the platform needs inside the cluster get through the rendered NetworkPolicies, and the
ones it must refuse do not, evaluated as Kubernetes evaluates NetworkPolicies (pipelines/semantics).
Ports and labels come from the pinned charts' facts (foundation/upstream/charts.py), not from the
code that writes the policies."""

from __future__ import annotations

import pytest

from foundation.upstream import charts
from pipelines.semantics.netpol import Endpoint, Policy, allowed
from tests.plans import STACKS, stack_plan


def pinned(plan, release: str, facts: dict) -> dict:
    """The facts of the chart version the plan installs (settings refuse a version without facts)."""
    (r,) = [r for r in plan.of_type("kubernetes:helm.sh/v3:Release") if r.inputs["name"] == release]
    return facts[r.inputs["version"]]


RAY = charts.KUBERAY["1.5.1"]  # the example stacks' pin; each test re-reads the plan's own
PROMETHEUS = charts.KUBE_PROMETHEUS_STACK["80.7.0"]["prometheus_labels"]


def policies(plan) -> list[Policy]:
    return [
        Policy(r.inputs["metadata"]["namespace"], r.inputs["spec"])
        for r in plan.of_type("kubernetes:networking.k8s.io/v1:NetworkPolicy")
    ]


def teams(plan) -> list[str]:
    return [
        r.inputs["metadata"]["name"]
        for r in plan.of_type("kubernetes:core/v1:Namespace")
        if "mlplatform/team" in r.inputs["metadata"].get("labels", {})
    ]


OPERATOR = Endpoint("kuberay-system", dict(RAY["operator_labels"]))
PROM = Endpoint("monitoring", dict(PROMETHEUS))
DNS = Endpoint("kube-system", {"k8s-app": "kube-dns"})
POD_IDENTITY_AGENT = Endpoint(None, ip="169.254.170.23")
AWS_API = Endpoint(None, ip="52.94.133.131")  # an address outside the VPC (a public AWS endpoint)


def head(ns):
    return Endpoint(ns, {**RAY["head_labels"], "ray.io/cluster": "job"})


def worker(ns):
    return Endpoint(ns, {"ray.io/node-type": "worker", "ray.io/cluster": "job"})


def submitter(ns):
    return Endpoint(ns, {"job-name": "ranker-ddp"})  # KubeRay labels the submitter pods with nothing


@pytest.mark.parametrize("stack", STACKS)
def test_the_flows_the_platform_needs_get_through(stack):
    plan = stack_plan(stack)
    assert pinned(plan, "kuberay-operator", charts.KUBERAY) == RAY
    assert pinned(plan, "kube-prometheus-stack", charts.KUBE_PROMETHEUS_STACK)["prometheus_labels"] == PROMETHEUS
    pols = policies(plan)
    for team in teams(plan):
        needed = [
            ("operator polls the Ray dashboard", OPERATOR, head(team), RAY["dashboard_port"], "TCP"),
            ("submitter submits the job", submitter(team), head(team), RAY["dashboard_port"], "TCP"),
            ("workers reach GCS", worker(team), head(team), RAY["gcs_port"], "TCP"),
            ("head reaches workers", head(team), worker(team), 10002, "TCP"),
            ("Prometheus scrapes Ray metrics", PROM, worker(team), RAY["metrics_port"], "TCP"),
            ("DNS over UDP", worker(team), DNS, 53, "UDP"),
            ("DNS over TCP", worker(team), DNS, 53, "TCP"),
            ("Pod Identity credentials", worker(team), POD_IDENTITY_AGENT, 80, "TCP"),
            ("AWS APIs over HTTPS", worker(team), AWS_API, 443, "TCP"),
        ]
        blocked = [what for what, src, dst, port, proto in needed if not allowed(pols, src, dst, port, proto)]
        assert blocked == [], f"{stack}/{team}"


@pytest.mark.parametrize("stack", STACKS)
def test_the_flows_it_must_refuse_do_not(stack):
    plan = stack_plan(stack)
    pols = policies(plan)
    names = teams(plan)
    assert len(names) >= 2, "every example stack has two teams"
    for team in names:
        for other in (n for n in names if n != team):
            for port in (RAY["gcs_port"], RAY["dashboard_port"], RAY["metrics_port"]):
                assert not allowed(pols, worker(other), head(team), port), (other, team, port)
        outsiders = [
            ("a pod of another namespace to the dashboard", Endpoint("default", {}), head(team), RAY["dashboard_port"]),
            (
                "a look-alike of the operator elsewhere",
                Endpoint("default", dict(RAY["operator_labels"])),
                head(team),
                RAY["dashboard_port"],
            ),
            ("the operator to GCS", OPERATOR, head(team), RAY["gcs_port"]),
            ("the operator to a worker", OPERATOR, worker(team), RAY["dashboard_port"]),
            ("Prometheus to GCS", PROM, head(team), RAY["gcs_port"]),
            ("plain HTTP out", worker(team), AWS_API, 80),
            ("SSH out", worker(team), AWS_API, 22),
        ]
        let_through = [what for what, src, dst, port in outsiders if allowed(pols, src, dst, port)]
        assert let_through == [], f"{stack}/{team}"
