"""Upstream facts the platform's code relies on, each read from its primary source at the version
the stacks pin (repository + path + tag, or a documentation page), kept as small data.

``STALE_WHEN`` maps every pinned version setting to the facts that were read at that version: a
stack that pins a version no fact was verified for is refused with the list of facts to re-read.
"""

from __future__ import annotations

from foundation.upstream import charts, karpenter

# setting path -> (versions the facts were read at, the facts to re-verify for another version)
STALE_WHEN: dict[str, tuple[frozenset[str], str]] = {
    "training.charts.karpenter": (
        frozenset({karpenter.VERSION}) & frozenset(charts.KARPENTER_CHART),
        "the controller IAM policy and interruption events (foundation/upstream/karpenter.py) and the "
        "chart's replicas, affinity and spread (foundation/upstream/charts.py KARPENTER_CHART)",
    ),
    "training.charts.nvidiaDevicePlugin": (
        frozenset(charts.DEVICE_PLUGIN),
        "the device plugin chart's default affinity, nodeSelector and tolerations (charts.py DEVICE_PLUGIN)",
    ),
    "training.charts.kuberayOperator": (
        frozenset(charts.KUBERAY),
        "the ports and labels the NetworkPolicies admit: dashboard port, operator and head labels (charts.py KUBERAY)",
    ),
    "monitoring.charts.kubePrometheusStack": (
        frozenset(charts.KUBE_PROMETHEUS_STACK),
        "Prometheus pod labels, kube-state-metrics label values and selector defaults "
        "(charts.py KUBE_PROMETHEUS_STACK)",
    ),
    "monitoring.charts.dcgmExporter": (
        frozenset(charts.DCGM_EXPORTER),
        "the exporter chart's ServiceMonitor honorLabels and scheduling defaults, and its metric labels "
        "(charts.py DCGM_EXPORTER)",
    ),
}


def stale(setting: str, version: str) -> str | None:
    """The message for a pinned version whose facts were not verified, or None."""
    verified, facts = STALE_WHEN[setting]
    if version in verified:
        return None
    return (
        f"{version} has no verified upstream facts (verified: {', '.join(sorted(verified))}); read {facts} "
        f"at {version} from their sources, record them, then pin it"
    )
