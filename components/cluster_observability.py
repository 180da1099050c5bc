"""Observability inside the training cluster: Prometheus, Alertmanager and Grafana
(kube-prometheus-stack), the NVIDIA DCGM exporter, a GPU dashboard from ``dashboards/gpu.json``
and alert rules for GPU health and waste. Alertmanager routes to the platform's alert topic, with
the role the platform project binds to its service account (components/cluster_integration.py).

Kubernetes resources only: applied by the in-cluster project (``cluster/``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pulumi

from foundation.conventions import ALERTMANAGER_SERVICE_ACCOUNT, MONITORING_NAMESPACE

NAMESPACE = MONITORING_NAMESPACE
GRAFANA = "monitoring-grafana"  # its Deployment, Service and admin Secret
ALWAYS_FIRING = ("Watchdog", "InfoInhibitor")
DASHBOARDS = Path(__file__).resolve().parents[1] / "dashboards"
GPU_NODES = {"mlplatform/gpu": "true"}
GPU_TOLERATION = {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}

# A GPU is allocated when the pod its metrics name (dcgm-exporter maps a GPU in use to its pod) is a
# running pod that requests GPUs (kube-state-metrics). A `pod` label alone does not say so: an unmapped
# GPU's series carry the exporter's own pod and namespace, the target labels Prometheus adds to every
# series (prometheus-operator promcfg.go); honorLabels only settles conflicts.
GPU_ALLOCATED = (
    " and on (namespace, pod)"
    ' (max by (namespace, pod) (kube_pod_container_resource_requests{resource="nvidia_com_gpu"}) > 0)'
    ' and on (namespace, pod) (max by (namespace, pod) (kube_pod_status_phase{phase="Running"}) == 1)'
)
IDLE_GPUS = f"(max by (namespace, pod, Hostname, gpu) (DCGM_FI_DEV_GPU_UTIL) == 0){GPU_ALLOCATED}"

# Alert rules for GPU health and waste. The expressions use the DCGM exporter's default counters
# and kube-state-metrics (both scraped by the stack); tests run them in promtool on synthetic series.
GPU_RULES = [
    {
        "alert": "GpuAllocatedButIdle",
        # Idle at every evaluation for 30 minutes of running: a job whose image is still pulling is
        # Pending, not idle, and one that starts computing within the window never fires.
        "expr": IDLE_GPUS,
        "for": "30m",
        "labels": {"severity": "warning", "category": "waste"},
        "annotations": {
            "summary": "{{ $labels.namespace }}/{{ $labels.pod }} holds GPU {{ $labels.gpu }} on {{ $labels.Hostname }}"
            " and has not used it for 30 minutes"
        },
    },
    {
        "alert": "GpuXidError",
        "expr": "max by (Hostname, gpu, namespace, pod) (DCGM_FI_DEV_XID_ERRORS) > 0",
        "for": "0m",
        "labels": {"severity": "critical", "category": "health"},
        "annotations": {"summary": "GPU {{ $labels.gpu }} on {{ $labels.Hostname }} reported XID {{ $value }}"},
    },
    {
        "alert": "GpuTemperatureHigh",
        "expr": "max by (Hostname, gpu) (DCGM_FI_DEV_GPU_TEMP) > 85",
        "for": "5m",
        "labels": {"severity": "warning", "category": "health"},
        "annotations": {"summary": "GPU {{ $labels.gpu }} on {{ $labels.Hostname }} is at {{ $value }} C"},
    },
    {
        "alert": "GpuPodPending",
        "expr": (
            'sum by (namespace, pod) (kube_pod_container_resource_requests{resource="nvidia_com_gpu"})'
            " * on (namespace, pod) group_left ()"
            ' (max by (namespace, pod) (kube_pod_status_phase{phase="Pending"}) == 1)'
            " > 0"
        ),
        "for": "15m",
        "labels": {"severity": "warning", "category": "capacity"},
        "annotations": {"summary": "{{ $labels.namespace }}/{{ $labels.pod }} has waited 15 minutes for a GPU"},
    },
]


@dataclass(frozen=True)
class ClusterObservabilityArgs:
    environment: str
    region: str
    kubernetes_provider: pulumi.ProviderResource
    alert_topic_arn: pulumi.Input[str]
    # AWS Chatbot subscribes to the alert topic: Alertmanager's messages use its custom-notification
    # format, which it posts (plain text it drops). Otherwise the topic's subscribers are emails.
    chat: bool = False
    retention_days: int = 15
    storage_gi: int = 50
    kube_prometheus_stack_version: str = "80.7.0"
    dcgm_exporter_version: str = "4.1.1"
    # Persistent volumes (Prometheus, Alertmanager) are encrypted with this key.
    volume_key_arn: pulumi.Input[str] | None = None
    # Protected stacks keep a volume when its claim goes; disposable ones delete it with the claim,
    # so a `pulumi destroy` of dev leaves no EBS volume behind.
    protect: bool = True


class ClusterObservability(pulumi.ComponentResource):
    def __init__(self, name: str, args: ClusterObservabilityArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("mlplatform:cluster_observability:ClusterObservability", name, None, opts)
        import pulumi_kubernetes as k8s

        on_k8s = pulumi.ResourceOptions(parent=self, provider=args.kubernetes_provider)
        storage = k8s.storage.v1.StorageClass(
            f"{name}-gp3",
            metadata=k8s.meta.v1.ObjectMetaArgs(name="gp3-encrypted"),
            provisioner="ebs.csi.aws.com",
            # aws-ebs-csi-driver docs/parameters.md: encrypted, and kmsKeyId (the full key ARN).
            parameters={"type": "gp3", "encrypted": "true"}
            | ({"kmsKeyId": args.volume_key_arn} if args.volume_key_arn is not None else {}),
            volume_binding_mode="WaitForFirstConsumer",
            reclaim_policy="Retain" if args.protect else "Delete",
            allow_volume_expansion=True,
            opts=on_k8s,
        )
        stack = k8s.helm.v3.Release(
            f"{name}-kube-prometheus-stack",
            k8s.helm.v3.ReleaseArgs(
                name="kube-prometheus-stack",
                chart="kube-prometheus-stack",
                version=args.kube_prometheus_stack_version,
                repository_opts=k8s.helm.v3.RepositoryOptsArgs(
                    repo="https://prometheus-community.github.io/helm-charts"
                ),
                namespace=NAMESPACE,
                create_namespace=True,
                values=stack_values(args),
            ),
            opts=pulumi.ResourceOptions(parent=self, provider=args.kubernetes_provider, depends_on=[storage]),
        )
        after_stack = pulumi.ResourceOptions(parent=self, provider=args.kubernetes_provider, depends_on=[stack])
        k8s.helm.v3.Release(
            f"{name}-dcgm-exporter",
            k8s.helm.v3.ReleaseArgs(
                name="dcgm-exporter",
                chart="dcgm-exporter",
                version=args.dcgm_exporter_version,
                repository_opts=k8s.helm.v3.RepositoryOptsArgs(
                    repo="https://nvidia.github.io/dcgm-exporter/helm-charts"
                ),
                namespace=NAMESPACE,
                values=dcgm_values(),
            ),
            opts=after_stack,  # its ServiceMonitor needs the operator's CRDs
        )
        k8s.core.v1.ConfigMap(
            f"{name}-gpu-dashboard",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name="gpu-dashboard", namespace=NAMESPACE, labels={"grafana_dashboard": "1"}
            ),
            data={"gpu.json": (DASHBOARDS / "gpu.json").read_text()},
            opts=after_stack,
        )
        k8s.apiextensions.CustomResource(
            f"{name}-gpu-rules",
            api_version="monitoring.coreos.com/v1",
            kind="PrometheusRule",
            metadata={"name": "gpu", "namespace": NAMESPACE},
            spec={"groups": [{"name": "gpu", "rules": GPU_RULES}]},
            opts=after_stack,
        )
        self.register_outputs({"namespace": NAMESPACE})


def dcgm_values() -> dict:
    """The exporter on GPU nodes only. honorLabels keeps the pod/namespace labels the exporter puts
    on a GPU's metrics (the pod using it); the chart's default (false) would rename them
    exported_pod/exported_namespace and leave pod/namespace naming the exporter (charts.py)."""
    return {
        "serviceMonitor": {"enabled": True, "interval": "15s", "honorLabels": True},
        "nodeSelector": GPU_NODES,
        "tolerations": [GPU_TOLERATION],
    }


# Alertmanager's message templates (alertmanager.templateFiles, mounted where the chart's default
# config reads *.tmpl). Only functions of Alertmanager 0.25 (Debian's amtool, the tests) and 0.30 (the
# chart's image): no toJson before 0.30, so text is made JSON-safe by replacing quotes, backslashes and
# control characters.
#  - subject: SNS Publish refuses a Subject of 100 characters or more, or with a line break (API
#    reference), and Alertmanager does not shorten it (notify/sns/sns.go): cut at 99.
#  - chatbot: AWS Chatbot custom notifications: {"version": "1.0", "source": "custom", "content":
#    {"textType": "client-markdown", "title": ..., "description": ...}} (Chatbot administrator guide,
#    custom-notifs); messages in other formats are not posted.
# no control character, quote or backslash (JSON-safe without toJson, which Alertmanager 0.25 lacks)
_SAFE = r'reReplaceAll "[\x00-\x1f]+" " " | reReplaceAll "[\"\\\\]" ' + '"\'"'
_CUT = 'reReplaceAll "^(.{99}).+$" "$1"'  # at most SNS's 99 characters
_TITLE = "(toUpper .Status) .CommonLabels.alertname .CommonLabels.severity"
_SUMMARY = "or .Annotations.summary .Annotations.description .Labels.alertname"
TEMPLATES = "\n".join(
    [
        '{{ define "mlplatform.subject" }}{{ if .CommonLabels.namespace }}'
        f'{{{{ printf "[%s] %s (%s) in %s" {_TITLE} .CommonLabels.namespace | {_SAFE} | {_CUT} }}}}'
        f'{{{{ else }}}}{{{{ printf "[%s] %s (%s)" {_TITLE} | {_SAFE} | {_CUT} }}}}'
        "{{ end }}{{ end }}",
        '{{ define "mlplatform.chatbot" }}{"version":"1.0","source":"custom","content":{"textType":"client-markdown",'
        '"title":"{{ template "mlplatform.subject" . }}",'
        f'"description":"{{{{ range .Alerts }}}}*{{{{ .Status }}}}* {{{{ {_SUMMARY} | {_SAFE} }}}}\\n{{{{ end }}}}"}}}}'
        "{{ end }}",
        '{{ define "mlplatform.email" }}{{ template "mlplatform.subject" . }}\n{{ range .Alerts }}\n'
        f"{{{{ .Status | toUpper }}}}: {{{{ {_SUMMARY} }}}}\n"
        "{{ range .Labels.SortedPairs }}  {{ .Name }} = {{ .Value }}\n{{ end }}"
        "{{ if .Annotations.runbook_url }}  runbook: {{ .Annotations.runbook_url }}\n{{ end }}{{ end }}{{ end }}",
    ]
)


def stack_values(args: ClusterObservabilityArgs) -> dict:
    subject = '{{ template "mlplatform.subject" . }}'
    message = '{{ template "mlplatform.chatbot" . }}' if args.chat else '{{ template "mlplatform.email" . }}'
    return {
        "fullnameOverride": "monitoring",
        # EKS runs the control plane: no controller-manager, scheduler or etcd pods to scrape (their
        # metrics only through /apis/metrics.eks.amazonaws.com, EKS user guide view-raw-metrics), so
        # their scrapes and the rules that read them (absent(up{...}), critical) are off. kube-proxy:
        # whether the add-on serves metrics beyond 127.0.0.1 is unverified; off rather than a target
        # that may be down for ever (TargetDown, KubeProxyDown). Facts: upstream/kube_prometheus_stack.json.
        "kubeControllerManager": {"enabled": False},
        "kubeScheduler": {"enabled": False},
        "kubeEtcd": {"enabled": False},
        "kubeProxy": {"enabled": False},
        "prometheus": {
            "prometheusSpec": {
                "retention": f"{args.retention_days}d",
                # Pick up ServiceMonitors and rules of every release (dcgm-exporter, the GPU rules).
                "serviceMonitorSelectorNilUsesHelmValues": False,
                "ruleSelectorNilUsesHelmValues": False,
                "podMonitorSelectorNilUsesHelmValues": False,
                "nodeSelector": {"mlplatform/pool": "system"},
                # A StatefulSet keeps its claims when it is deleted unless told otherwise; disposable
                # stacks delete them (and, with reclaim Delete, their volumes). Chart 80.7.0 values.yaml
                # prometheus.prometheusSpec.persistentVolumeClaimRetentionPolicy (Kubernetes 1.27+).
                "persistentVolumeClaimRetentionPolicy": {
                    "whenDeleted": "Retain" if args.protect else "Delete",
                    "whenScaled": "Retain",
                },
                "storageSpec": {
                    "volumeClaimTemplate": {
                        "spec": {
                            "storageClassName": "gp3-encrypted",
                            "accessModes": ["ReadWriteOnce"],
                            "resources": {"requests": {"storage": f"{args.storage_gi}Gi"}},
                        }
                    }
                },
            }
        },
        "alertmanager": {
            "serviceAccount": {"create": True, "name": ALERTMANAGER_SERVICE_ACCOUNT},
            "templateFiles": {"mlplatform.tmpl": TEMPLATES},
            "config": {
                "route": {
                    "receiver": "platform-alerts",
                    "group_by": ["alertname", "namespace"],
                    # Always firing by design (the chart's general rules): Watchdog proves the pipeline
                    # works, InfoInhibitor mutes info alerts; both "routed to a null receiver".
                    "routes": [{"receiver": "null", "matchers": [f'alertname = "{name}"']} for name in ALWAYS_FIRING],
                },
                "receivers": [
                    {"name": "null"},
                    {
                        "name": "platform-alerts",
                        "sns_configs": [
                            {
                                "topic_arn": args.alert_topic_arn,
                                "sigv4": {"region": args.region},
                                "subject": subject,
                                "message": message,
                            }
                        ],
                    },
                ],
            },
        },
        "grafana": {
            # The parent's fullnameOverride does not reach the subchart (grafana 10.4.0 _helpers.tpl):
            # this names its admin Secret as the docs do.
            "fullnameOverride": GRAFANA,
            # Empty: the Grafana chart generates a random admin password into its Secret.
            "adminPassword": "",
            "sidecar": {"dashboards": {"enabled": True, "label": "grafana_dashboard", "searchNamespace": "ALL"}},
        },
    }
