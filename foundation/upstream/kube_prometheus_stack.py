"""The default alert rules kube-prometheus-stack 80.7.0 ships, and which of the jobs they read exist
on EKS. The rules, their conditions and the chart's default values are committed data
(kube_prometheus_stack.json, with its source); this file says, per job, whether the platform's cluster
has a target for it, and why."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

DATA = Path(__file__).with_name("kube_prometheus_stack.json")

# Job label -> (scraped on the platform's EKS cluster, why). Rules that need a job without a target are
# off (their `enabled` switch), or they would be permanently firing (absent(up{job=...}), TargetDown).
EKS_JOBS: dict[str, tuple[bool, str]] = {
    "apiserver": (True, "the `kubernetes` Service's endpoints: EKS serves the API server's /metrics"),
    "kubelet": (True, "each node's kubelet (10250, https), through the operator's kubelet Service"),
    "kube-state-metrics": (True, "the chart's kube-state-metrics subchart"),
    "node-exporter": (True, "the chart's prometheus-node-exporter subchart"),
    "<fullname>-alertmanager": (True, "the chart's Alertmanager"),
    "<fullname>-prometheus": (True, "the chart's Prometheus"),
    "<fullname>-operator": (True, "the chart's prometheus-operator"),
    "kube-controller-manager": (
        False,
        "EKS runs no controller-manager pod; its metrics only under /apis/metrics.eks.amazonaws.com/v1/kcm/"
        "container/metrics (EKS user guide, view-raw-metrics)",
    ),
    "kube-scheduler": (
        False,
        "EKS runs no scheduler pod; its metrics only under /apis/metrics.eks.amazonaws.com/v1/ksh/container/"
        "metrics (EKS user guide, view-raw-metrics)",
    ),
    ".*etcd.*": (False, "EKS exposes no etcd endpoint (the API server's apiserver_storage_* metrics stand in)"),
    "kube-proxy": (
        False,
        "UNVERIFIED: AWS's best-practices guide shows the add-on's metricsBindAddress 0.0.0.0:10249, older "
        "add-on versions 127.0.0.1:10249 (not reachable by Prometheus): not scraped",
    ),
}


@cache
def chart() -> dict[str, Any]:
    return json.loads(DATA.read_text())


def lookup(values: dict[str, Any], dotted: str) -> Any:
    node: Any = values
    for part in dotted.split("."):
        if not isinstance(node, dict):
            return None
        node = node.get(part)
    return node


def enabled_alerts(values: dict[str, Any]) -> list[dict[str, Any]]:
    """The chart's alerts that render with ``values`` (the chart's defaults merged with ours, as helm
    does): a rule file renders when every term of its `if` is truthy, an alert unless
    defaultRules.disabled names it or one of its own conditions is false."""
    disabled = lookup(values, "defaultRules.disabled") or {}
    found = []
    for group in chart()["groups"]:
        if not all(lookup(values, term) for term in group["condition"]):
            continue
        for alert in group["alerts"]:
            if disabled.get(alert["alert"]) or not all(lookup(values, c) for c in alert.get("extra_conditions", [])):
                continue
            found.append({**alert, "group": group["group"]})
    return found
