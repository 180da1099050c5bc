"""The composition root of the in-cluster project (``cluster/``): what runs inside the training
cluster, applied through its Kubernetes API.

Why a project of its own: the cluster API of every stack is private (staging and prod always; dev
unless it names the admins' ranges), so only a place inside the VPC (the CI runner) or, in dev, an
allowed address can reach it. The platform project (``infra/``) calls AWS APIs only and runs from
anywhere, the first `pulumi up` from a laptop included; this one runs after it, where the API
answers, and is destroyed before it (docs: Deploying for real, Tearing a stack down).

It reads the same stack settings (``stacks/Pulumi.<stack>.yaml``: ``cluster/Pulumi.yaml`` sets
``stackConfigDir: ../stacks``) and what only a deployment knows (the endpoint, key and role ARNs)
from the platform stack of the same name, through a StackReference.
"""

from __future__ import annotations

from typing import Any

import pulumi

from components.cluster_addons import Charts, ClusterAddons, ClusterAddonsArgs, GpuPool, Team
from components.cluster_observability import ClusterObservability, ClusterObservabilityArgs
from foundation.conventions import PROJECT, kubernetes_provider
from infra.settings import Settings

PROJECT_NAME = "mlplatform-cluster"  # cluster/Pulumi.yaml


def platform_stack(stack: str) -> str:
    """The platform stack this one reads: same backend, same stack name, project ``mlplatform``.
    In a self-managed (S3) backend the organization is the literal ``organization`` (pulumi
    pkg/backend/diy/store.go ParseReference); ``get_organization`` returns it there."""
    return f"{pulumi.get_organization()}/{PROJECT}/{stack}"


class InCluster:
    """Karpenter, the GPU software, KubeRay, the team namespaces and the monitoring stack."""

    def __init__(self, settings: Settings, platform: pulumi.StackReference):
        s, tr, mon = settings, settings.training, settings.monitoring
        self.settings = s
        out = platform.get_output
        cluster_name = out("clusterName")
        self.k8s = kubernetes_provider(
            f"k8s-{s.environment}",
            cluster_name=cluster_name,
            endpoint=out("clusterEndpoint"),
            certificate_authority=out("clusterCertificateAuthority"),
            region=s.region,
        )
        cluster_key = out("kmsKeyArns").apply(lambda keys: keys["cluster"])
        artifacts = out("buckets").apply(lambda buckets: buckets["artifacts"])
        self.addons = ClusterAddons(
            "in-cluster",
            ClusterAddonsArgs(
                environment=s.environment,
                cluster_name=cluster_name,
                kubernetes_provider=self.k8s,
                interruption_queue=out("karpenterInterruptionQueue"),
                node_role_name=out("karpenterNodeRole"),
                cluster_key_arn=cluster_key,
                node_image=tr.node_image,
                system_nodes=tr.system_nodes.min_size,
                cpu_families=tr.cpu_pool.instance_families,
                cpu_capacity_types=tr.cpu_pool.capacity_types,
                cpu_limit=tr.cpu_pool.cpu_limit,
                gpu_pools=[GpuPool(p.name, p.instance_families, p.capacity_types, p.gpu_limit) for p in tr.gpu_pools],
                teams=[
                    Team(
                        t.name,
                        t.gpu_quota,
                        t.cpu_quota,
                        t.memory_quota_gi,
                        environment={
                            # What a job of the team needs to find the platform (examples/rayjob uses them).
                            "AWS_REGION": s.region,
                            "MLFLOW_TRACKING_URI": out("mlflowTrackingServerArn"),
                            "ARTIFACTS_URI": artifacts.apply(lambda b, team=t.name: f"s3://{b}/experiments/{team}/"),
                        },
                    )
                    for t in tr.teams
                ],
                operator=tr.distributed_training_operator,
                charts=Charts(
                    tr.charts.karpenter,
                    tr.charts.nvidia_device_plugin,
                    tr.charts.kuberay_operator,
                    mon.charts.kube_prometheus_stack,
                ),
            ),
        )
        self.observability = ClusterObservability(
            "observability",
            ClusterObservabilityArgs(
                environment=s.environment,
                region=s.region,
                kubernetes_provider=self.k8s,
                alert_topic_arn=out("alertTopicArn"),
                chat=bool(mon.slack_channels),
                retention_days=mon.prometheus_retention_days,
                storage_gi=mon.prometheus_storage_gi,
                kube_prometheus_stack_version=mon.charts.kube_prometheus_stack,
                dcgm_exporter_version=mon.charts.dcgm_exporter,
                volume_key_arn=cluster_key,
                protect=s.protect,
            ),
            # Its ServiceMonitors and rules scrape what the add-ons run; its namespace holds Prometheus.
            opts=pulumi.ResourceOptions(depends_on=[self.addons]),
        )
        self.outputs: dict[str, Any] = {
            "platformStack": platform.name,
            "nodePools": list(self.addons.node_pools),
            "teamNamespaces": [t.name for t in tr.teams],
        }
