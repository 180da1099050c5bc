"""Defaults of the Helm charts the platform installs, at the versions the stacks pin, that decide
where their pods run and how they are scraped. Checks merge these with our values the way Helm does
(``pipelines/semantics/helm.py``) and match the result against the GPU NodePools.

Each chart's facts are keyed by the chart version they were read at; a stack that pins another
version fails the ``upstream-facts-verified`` policy until they are read again.
"""

from __future__ import annotations

from typing import Any


# NVIDIA/k8s-device-plugin, tag v0.17.1, deployments/helm/nvidia-device-plugin/values.yaml (lines
# 62-92). The DaemonSet template renders them with `{{- with .Values.affinity }}` etc.
# (templates/daemonset-device-plugin.yml, lines 252-263). gfd.enabled is false and the NFD subchart
# is conditioned on `nfd.enabled,gfd.enabled` (Chart.yaml), so neither labels nodes by default: the
# three label keys below exist only where something else sets them.
def _term(key: str, value: str) -> dict[str, Any]:
    return {"matchExpressions": [{"key": key, "operator": "In", "values": [value]}]}


DEVICE_PLUGIN: dict[str, dict[str, Any]] = {
    "0.17.1": {
        "nodeSelector": {},
        "affinity": {
            "nodeAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": {
                    "nodeSelectorTerms": [
                        _term("feature.node.kubernetes.io/pci-10de.present", "true"),
                        _term("feature.node.kubernetes.io/cpu-model.vendor_id", "NVIDIA"),
                        _term("nvidia.com/gpu.present", "true"),
                    ]
                }
            }
        },
        "tolerations": [
            {"key": "CriticalAddonsOnly", "operator": "Exists"},
            {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"},
        ],
        "gfd": {"enabled": False},
    }
}

# NVIDIA/dcgm-exporter, chart 4.1.1 = tag 4.2.3-4.1.1 (tags are <DCGM>-<chart>), deployment/values.yaml
# lines 112-139; templates/service-monitor.yaml renders `honorLabels: {{ .Values.serviceMonitor.honorLabels }}`.
# The chart sets DCGM_EXPORTER_KUBERNETES=true, so metrics of a GPU in use carry the pod's `pod`,
# `namespace` and `container` labels (internal/pkg/transformation/const.go). With honorLabels false
# Prometheus renames them exported_pod, ... ("label conflicts are resolved by renaming conflicting
# labels in the scraped data to exported_<original-label>", prometheus.io configuration docs).
DCGM_EXPORTER: dict[str, dict[str, Any]] = {
    "4.1.1": {
        "serviceMonitor": {"enabled": True, "interval": "15s", "honorLabels": False, "relabelings": []},
        "nodeSelector": {},
        "tolerations": [],
        "affinity": {},
        "service": {"port": 9400},
    }
}
# Labels on every DCGM metric (same tag, Go code), and the pod-mapping labels of a GPU in use.
DCGM_LABELS = ("gpu", "UUID", "pci_bus_id", "device", "modelName", "Hostname")
DCGM_POD_LABELS = ("pod", "namespace", "container")

# aws/karpenter-provider-aws, tag v1.11.1, charts/karpenter/values.yaml (chart 1.11.1 differs from the
# tag only in its version strings, release commit c723345c6).
KARPENTER_CHART: dict[str, dict[str, Any]] = {
    "1.11.1": {
        "replicas": 2,
        "nodeSelector": {"kubernetes.io/os": "linux"},
        "tolerations": [{"key": "CriticalAddonsOnly", "operator": "Exists"}],
        "affinity": {
            "nodeAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": {
                    "nodeSelectorTerms": [
                        {"matchExpressions": [{"key": "karpenter.sh/nodepool", "operator": "DoesNotExist"}]}
                    ]
                }
            },
            # Two replicas need two nodes: required anti-affinity on the hostname.
            "podAntiAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": [{"topologyKey": "kubernetes.io/hostname"}]
            },
        },
        "topologySpreadConstraints": [
            {"maxSkew": 1, "topologyKey": "topology.kubernetes.io/zone", "whenUnsatisfiable": "DoNotSchedule"}
        ],
        "ports": {"metrics": 8080, "health": 8081},
    }
}

# ray-project/kuberay, tag v1.5.1. The RayJob controller polls the job's status itself, over HTTP, on
# the head Service's port named "dashboard" (ray-operator/controllers/ray/rayjob_controller.go;
# utils/constant.go: DefaultDashboardPort = 8265, DashboardPortName = "dashboard"). It never
# connects to GCS (6379): health checks are exec probes inside the Ray pods. The default submission
# mode (K8sJobMode) runs the submitter Job in the RayJob's own namespace. Ray pods are labelled
# ray.io/node-type head|worker (utils/constant.go); the operator pod app.kubernetes.io/name:
# kuberay-operator (helm-chart/kuberay-operator, chart 1.5.1). Ray's metrics port is 8080.
KUBERAY: dict[str, dict[str, Any]] = {
    "1.5.1": {
        "dashboard_port": 8265,
        "gcs_port": 6379,
        "client_port": 10001,
        "metrics_port": 8080,
        "head_labels": {"ray.io/node-type": "head"},
        "operator_labels": {"app.kubernetes.io/name": "kuberay-operator"},
    }
}

# prometheus-community/helm-charts, tag kube-prometheus-stack-80.7.0 (prometheus-operator v0.87.1):
# the operator labels Prometheus server pods app.kubernetes.io/name: prometheus. The chart depends
# on kube-state-metrics 7.0.0 (app v2.17.0), whose kube_pod_status_phase phases are capitalised
# (Pending, Running, Succeeded, Failed, Unknown) and whose resource label turns nvidia.com/gpu into
# nvidia_com_gpu. serviceMonitorSelectorNilUsesHelmValues etc. default to true (only objects
# labelled with the release are picked up), which our values turn off.
KUBE_PROMETHEUS_STACK: dict[str, dict[str, Any]] = {
    "80.7.0": {
        "prometheus_labels": {"app.kubernetes.io/name": "prometheus"},
        "pod_phases": ("Pending", "Running", "Succeeded", "Failed", "Unknown"),
        "gpu_resource_label": "nvidia_com_gpu",
        "selectors_nil_use_helm_values": True,
    }
}
# Same tag, charts/kube-prometheus-stack/values.yaml line 3882: prometheus.prometheusSpec.
# persistentVolumeClaimRetentionPolicy ({} by default: claims outlive the StatefulSet).
