"""What runs inside the training cluster: Karpenter with CPU and GPU NodePools that scale to zero,
the NVIDIA device plugin, a distributed-training operator (KubeRay), and one namespace per team
with quotas, limits, a default-deny network policy and a ``trainer`` service account.

Kubernetes resources only, applied through the cluster's (private) API by the in-cluster project
(``cluster/``) where that API answers. Their AWS side (Karpenter's roles and queue, the Pod
Identity associations) is components/cluster_integration.py in the platform project.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import pulumi

from foundation.conventions import (
    KARPENTER_NAMESPACE,
    KARPENTER_SERVICE_ACCOUNT,
    MONITORING_NAMESPACE,
    TRAINER_SERVICE_ACCOUNT,
)
from foundation.upstream import charts as chart_facts

OPERATOR_NAMESPACE = "kuberay-system"
GPU_TAINT = {"key": "nvidia.com/gpu", "value": "true", "effect": "NoSchedule"}
# Labels every GPU node gets from its NodePool. nvidia.com/gpu.present is the label the device
# plugin chart's default affinity accepts when NFD is not installed (foundation/upstream/charts.py).
GPU_NODE_LABELS = {"mlplatform/gpu": "true", "nvidia.com/gpu.present": "true"}
POD_IDENTITY_AGENT = "169.254.170.23/32"  # where pods get their EKS Pod Identity credentials
# GPU nodes: removed when empty for this long (they never move pods around to save money), and when
# expired (720h) a running job gets this long to finish before it is evicted.
GPU_CONSOLIDATE_AFTER = "5m"
GPU_TERMINATION_GRACE = "24h"


@dataclass(frozen=True)
class GpuPool:
    name: str
    instance_families: Sequence[str]
    capacity_types: Sequence[str]
    gpu_limit: int


@dataclass(frozen=True)
class Team:
    name: str
    gpu_quota: int
    cpu_quota: int
    memory_quota_gi: int
    # Environment for the team's jobs (MLflow, artifacts): the ConfigMap "mlplatform" in its namespace.
    environment: dict[str, pulumi.Input[str]] = field(default_factory=dict)


@dataclass(frozen=True)
class Charts:
    karpenter: str = "1.11.1"
    nvidia_device_plugin: str = "0.17.1"
    kuberay_operator: str = "1.5.1"
    kube_prometheus_stack: str = "80.7.0"  # its Prometheus scrapes team pods (the NetworkPolicies admit it)


@dataclass(frozen=True)
class ClusterAddonsArgs:
    environment: str
    cluster_name: pulumi.Input[str]
    # The cluster's Kubernetes provider (foundation/conventions.kubernetes_provider).
    kubernetes_provider: pulumi.ProviderResource
    # Karpenter's interruption queue and its nodes' role (components/cluster_integration.py).
    interruption_queue: pulumi.Input[str]
    node_role_name: pulumi.Input[str]
    cpu_families: Sequence[str] = ("m6i", "m7i", "c6i", "c7i", "r6i")
    cpu_capacity_types: Sequence[str] = ("spot", "on-demand")
    cpu_limit: int = 256
    gpu_pools: Sequence[GpuPool] = ()
    teams: Sequence[Team] = ()
    operator: str = "kuberay"
    charts: Charts = field(default_factory=Charts)
    node_volume_gi: int = 200
    # Node root volumes and persistent volumes are encrypted with this key (the cluster domain's).
    cluster_key_arn: pulumi.Input[str] | None = None
    # A pinned AL2023 release (al2023@vYYYYMMDD): `@latest` would drift every node on each AMI release.
    node_image: str = "al2023@v20260714"
    # How many system nodes there are at least: the Karpenter chart spreads its replicas one per node.
    system_nodes: int = 2


class ClusterAddons(pulumi.ComponentResource):
    def __init__(self, name: str, args: ClusterAddonsArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("mlplatform:cluster_addons:ClusterAddons", name, None, opts)
        self.args = args
        self.component_name = name
        self._on_k8s = pulumi.ResourceOptions(parent=self, provider=args.kubernetes_provider)
        self._karpenter()
        self._gpu_software()
        # Team namespaces wait for the operator, so a destroy deletes them (and the RayJobs in them)
        # while it still runs: KubeRay puts a finalizer on every RayJob that only it removes.
        operator = self._operator() if args.operator == "kuberay" else None
        for team in args.teams:
            self._team(team, operator)
        self.register_outputs({"nodePools": list(self.node_pools), "teams": [t.name for t in args.teams]})

    # --- Karpenter: chart, node class and pools --------------------------------------------------

    def _karpenter(self) -> None:
        import pulumi_kubernetes as k8s

        name, args = self.component_name, self.args
        # CRDs first (custom resources wait for them).
        crds = k8s.helm.v3.Release(
            f"{name}-karpenter-crd",
            k8s.helm.v3.ReleaseArgs(
                name="karpenter-crd",
                chart="oci://public.ecr.aws/karpenter/karpenter-crd",
                version=args.charts.karpenter,
                namespace=KARPENTER_NAMESPACE,
            ),
            opts=self._on_k8s,
        )
        karpenter = k8s.helm.v3.Release(
            f"{name}-karpenter",
            k8s.helm.v3.ReleaseArgs(
                name="karpenter",
                chart="oci://public.ecr.aws/karpenter/karpenter",
                version=args.charts.karpenter,
                namespace=KARPENTER_NAMESPACE,
                skip_crds=True,
                values=karpenter_values(args),
            ),
            opts=pulumi.ResourceOptions.merge(self._on_k8s, pulumi.ResourceOptions(depends_on=[crds])),
        )
        # Node class and pools are deleted before the controller: its finalizers (karpenter.sh/termination
        # on NodeClaims and nodes, karpenter.k8s.aws/termination on the EC2NodeClass) terminate the
        # instances and delete the instance profiles, and only the running controller removes them
        # (kubernetes-sigs/karpenter v1.11.1 nodeclaim/lifecycle finalize; aws nodeclass finalize).
        # pulumi-kubernetes deletes with foreground propagation, so a NodePool is gone only once its
        # NodeClaims are: allow for draining and terminating GPU nodes beyond its 10-minute default.
        after_karpenter = pulumi.ResourceOptions.merge(
            self._on_k8s,
            pulumi.ResourceOptions(depends_on=[crds, karpenter], custom_timeouts=pulumi.CustomTimeouts(delete="30m")),
        )
        self.node_class = k8s.apiextensions.CustomResource(
            f"{name}-default",
            api_version="karpenter.k8s.aws/v1",
            kind="EC2NodeClass",
            metadata={"name": "default"},
            spec=node_class_spec(args),
            opts=after_karpenter,
        )
        pools = {"cpu": cpu_pool_spec(args)} | {p.name: gpu_pool_spec(p) for p in args.gpu_pools}
        self.node_pools = {
            pool: k8s.apiextensions.CustomResource(
                f"{name}-pool-{pool}",
                api_version="karpenter.sh/v1",
                kind="NodePool",
                metadata={"name": pool},
                spec=spec,
                opts=pulumi.ResourceOptions.merge(
                    after_karpenter, pulumi.ResourceOptions(depends_on=[self.node_class])
                ),
            )
            for pool, spec in pools.items()
        }

    # --- GPU software: the device plugin that advertises nvidia.com/gpu --------------------------

    def _gpu_software(self) -> None:
        import pulumi_kubernetes as k8s

        name, args = self.component_name, self.args
        k8s.helm.v3.Release(
            f"{name}-nvidia-device-plugin",
            k8s.helm.v3.ReleaseArgs(
                name="nvidia-device-plugin",
                chart="nvidia-device-plugin",
                version=args.charts.nvidia_device_plugin,
                repository_opts=k8s.helm.v3.RepositoryOptsArgs(repo="https://nvidia.github.io/k8s-device-plugin"),
                namespace="nvidia-device-plugin",
                create_namespace=True,
                values=device_plugin_values(),
            ),
            opts=self._on_k8s,
        )

    def _operator(self) -> pulumi.Resource:
        import pulumi_kubernetes as k8s

        name, args = self.component_name, self.args
        return k8s.helm.v3.Release(
            f"{name}-kuberay-operator",
            k8s.helm.v3.ReleaseArgs(
                name="kuberay-operator",
                chart="kuberay-operator",
                version=args.charts.kuberay_operator,
                repository_opts=k8s.helm.v3.RepositoryOptsArgs(repo="https://ray-project.github.io/kuberay-helm/"),
                namespace=OPERATOR_NAMESPACE,
                create_namespace=True,
                values={"nodeSelector": {"mlplatform/pool": "system"}},
            ),
            opts=self._on_k8s,
        )

    # --- team namespaces ----------------------------------------------------------------------

    def _team(self, team: Team, operator: pulumi.Resource | None) -> None:
        import pulumi_kubernetes as k8s

        name, ns_name = self.component_name, team.name
        ns = k8s.core.v1.Namespace(
            f"{name}-team-{ns_name}",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=ns_name,
                labels={
                    "mlplatform/team": ns_name,
                    # GPU training pods run under "baseline"; "restricted" is reported, not enforced.
                    "pod-security.kubernetes.io/enforce": "baseline",
                    "pod-security.kubernetes.io/warn": "restricted",
                    "pod-security.kubernetes.io/audit": "restricted",
                },
            ),
            opts=pulumi.ResourceOptions.merge(
                self._on_k8s, pulumi.ResourceOptions(depends_on=[operator] if operator else None)
            ),
        )
        in_ns = pulumi.ResourceOptions.merge(self._on_k8s, pulumi.ResourceOptions(depends_on=[ns]))
        meta = lambda n: k8s.meta.v1.ObjectMetaArgs(name=n, namespace=ns_name)  # noqa: E731
        k8s.core.v1.ResourceQuota(
            f"{name}-team-{ns_name}",
            metadata=meta("team-quota"),
            spec=k8s.core.v1.ResourceQuotaSpecArgs(hard=team_quota(team)),
            opts=in_ns,
        )
        k8s.core.v1.LimitRange(
            f"{name}-team-{ns_name}",
            metadata=meta("container-defaults"),
            spec=k8s.core.v1.LimitRangeSpecArgs(limits=[k8s.core.v1.LimitRangeItemArgs(**container_defaults(team))]),
            opts=in_ns,
        )
        for policy_name, spec in network_policies(self.args.operator == "kuberay", self.args.charts).items():
            k8s.networking.v1.NetworkPolicy(
                f"{name}-team-{ns_name}-{policy_name}",
                metadata=meta(policy_name),
                spec=spec,
                opts=in_ns,
            )
        # Bound to the team's training role by EKS Pod Identity (components/cluster_integration.py).
        k8s.core.v1.ServiceAccount(f"{name}-team-{ns_name}-trainer", metadata=meta(TRAINER_SERVICE_ACCOUNT), opts=in_ns)
        if team.environment:
            k8s.core.v1.ConfigMap(
                f"{name}-team-{ns_name}-environment",
                metadata=meta("mlplatform"),
                data=dict(team.environment),
                opts=in_ns,
            )


def karpenter_values(args: ClusterAddonsArgs) -> dict:
    """Values of the Karpenter chart. It runs only on system nodes (never on capacity it manages),
    with one replica per system node up to the chart's two (its required pod anti-affinity puts
    each replica on its own node, foundation/upstream/charts.py)."""
    return {
        "replicas": max(1, min(2, args.system_nodes)),
        "settings": {"clusterName": args.cluster_name, "interruptionQueue": args.interruption_queue},
        "serviceAccount": {"name": KARPENTER_SERVICE_ACCOUNT},
        "controller": {"resources": {"requests": {"cpu": "1", "memory": "1Gi"}, "limits": {"memory": "1Gi"}}},
        "nodeSelector": {"mlplatform/pool": "system"},
    }


def device_plugin_values() -> dict:
    """Only on GPU nodes: our pool label and the GPU taint. The chart's default affinity (NFD or
    nvidia.com/gpu.present labels) is replaced by one on the pool label, so the plugin does not
    depend on labels another component must set."""
    return {
        "nodeSelector": {"mlplatform/gpu": "true"},
        "affinity": {
            "nodeAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": {
                    "nodeSelectorTerms": [
                        {"matchExpressions": [{"key": "mlplatform/gpu", "operator": "In", "values": ["true"]}]}
                    ]
                }
            }
        },
        "tolerations": [{"key": GPU_TAINT["key"], "operator": "Exists", "effect": "NoSchedule"}],
    }


def node_class_spec(args: ClusterAddonsArgs) -> dict:
    ebs = {
        "volumeSize": f"{args.node_volume_gi}Gi",
        "volumeType": "gp3",
        "encrypted": True,
        "deleteOnTermination": True,
    }
    if args.cluster_key_arn is not None:
        ebs["kmsKeyID"] = args.cluster_key_arn
    return {
        "role": args.node_role_name,
        "amiSelectorTerms": [{"alias": args.node_image}],
        "subnetSelectorTerms": [{"tags": {"karpenter.sh/discovery": args.cluster_name}}],
        "securityGroupSelectorTerms": [{"tags": {"aws:eks:cluster-name": args.cluster_name}}],
        "metadataOptions": {
            "httpEndpoint": "enabled",
            "httpTokens": "required",
            "httpPutResponseHopLimit": 1,
            "httpProtocolIPv6": "disabled",
        },
        "blockDeviceMappings": [{"deviceName": "/dev/xvda", "ebs": ebs}],
        "tags": {"environment": args.environment, "managed-by": "karpenter"},
    }


def team_quota(team: Team) -> dict[str, str]:
    return {
        "requests.nvidia.com/gpu": str(team.gpu_quota),
        "requests.cpu": str(team.cpu_quota),
        "requests.memory": f"{team.memory_quota_gi}Gi",
        "limits.memory": f"{team.memory_quota_gi}Gi",
    }


def container_defaults(team: Team) -> dict:
    """Requests for containers that name none, and a memory limit (the quota counts limits.memory).
    No default CPU limit: a limit throttles a training process that omits one; the CPU quota caps
    requests instead."""
    return {
        "type": "Container",
        "default": {"memory": "8Gi"},
        "default_request": {"cpu": "500m", "memory": "1Gi"},
        "max": {"memory": f"{team.memory_quota_gi}Gi"},
    }


def network_policies(kuberay: bool = True, charts: Charts | None = None) -> dict[str, dict]:
    """Default deny, then: traffic inside the namespace (distributed training), DNS, the Pod
    Identity agent, HTTPS out (AWS APIs, through the VPC endpoints where they exist), the KubeRay
    operator to Ray heads' dashboard (it polls job status there), and Prometheus to the pods' metrics."""
    charts = charts or Charts()
    prometheus = chart_facts.KUBE_PROMETHEUS_STACK[charts.kube_prometheus_stack]["prometheus_labels"]
    policies: dict[str, dict] = {
        "default-deny": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]},
        "allow-same-namespace": {
            "podSelector": {},
            "policyTypes": ["Ingress", "Egress"],
            "ingress": [{"from": [{"podSelector": {}}]}],
            "egress": [{"to": [{"podSelector": {}}]}],
        },
        "allow-dns": {
            "podSelector": {},
            "policyTypes": ["Egress"],
            "egress": [
                {
                    "to": [
                        {
                            "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
                            "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}},
                        }
                    ],
                    "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}],
                }
            ],
        },
        "allow-aws-apis": {
            "podSelector": {},
            "policyTypes": ["Egress"],
            "egress": [
                {"to": [{"ipBlock": {"cidr": POD_IDENTITY_AGENT}}], "ports": [{"protocol": "TCP", "port": 80}]},
                {"to": [{"ipBlock": {"cidr": "0.0.0.0/0"}}], "ports": [{"protocol": "TCP", "port": 443}]},
            ],
        },
    }
    if kuberay:
        ray = chart_facts.KUBERAY[charts.kuberay_operator]
        policies["allow-ray-operator"] = {
            "podSelector": {"matchLabels": dict(ray["head_labels"])},
            "policyTypes": ["Ingress"],
            "ingress": [
                {
                    "from": [
                        {
                            "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": OPERATOR_NAMESPACE}},
                            "podSelector": {"matchLabels": dict(ray["operator_labels"])},
                        }
                    ],
                    "ports": [{"protocol": "TCP", "port": ray["dashboard_port"]}],
                }
            ],
        }
        policies["allow-prometheus"] = {
            "podSelector": {},
            "policyTypes": ["Ingress"],
            "ingress": [
                {
                    "from": [
                        {
                            "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": MONITORING_NAMESPACE}},
                            "podSelector": {"matchLabels": dict(prometheus)},
                        }
                    ],
                    "ports": [{"protocol": "TCP", "port": ray["metrics_port"]}],
                }
            ],
        }
    return policies


def _requirements(families, capacity_types) -> list[dict]:
    return [
        {"key": "karpenter.k8s.aws/instance-family", "operator": "In", "values": list(families)},
        # Karpenter prefers spot when both are allowed and falls back to on-demand.
        {"key": "karpenter.sh/capacity-type", "operator": "In", "values": list(capacity_types)},
    ]


NODE_CLASS_REF = {"group": "karpenter.k8s.aws", "kind": "EC2NodeClass", "name": "default"}


def cpu_pool_spec(args: ClusterAddonsArgs) -> dict:
    return {
        "template": {
            "metadata": {"labels": {"mlplatform/pool": "cpu"}},
            "spec": {
                "nodeClassRef": dict(NODE_CLASS_REF),
                "requirements": [
                    *_requirements(args.cpu_families, args.cpu_capacity_types),
                    {"key": "kubernetes.io/arch", "operator": "In", "values": ["amd64"]},
                ],
                "expireAfter": "720h",
            },
        },
        "limits": {"cpu": str(args.cpu_limit)},
        # CPU nodes are packed: empty or underused ones go away after a minute.
        "disruption": {"consolidationPolicy": "WhenEmptyOrUnderutilized", "consolidateAfter": "1m"},
        "weight": 10,
    }


def gpu_pool_spec(pool: GpuPool) -> dict:
    """A GPU NodePool that scales to zero and leaves running training alone.

    ``WhenEmpty``: a GPU node goes away ``GPU_CONSOLIDATE_AFTER`` after its last pod, and is never
    drained to repack pods (WhenEmptyOrUnderutilized would move a running job). Drift (a changed
    pool or node class) replaces nodes only when they are empty: its budget is zero nodes. Expiry is
    forceful in Karpenter v1 (budgets and do-not-disrupt do not stop it): after ``expireAfter`` a
    node stops taking pods and a running job has ``terminationGracePeriod`` to finish."""
    return {
        "template": {
            "metadata": {"labels": {"mlplatform/pool": pool.name, **GPU_NODE_LABELS}},
            "spec": {
                "nodeClassRef": dict(NODE_CLASS_REF),
                "requirements": [
                    *_requirements(pool.instance_families, pool.capacity_types),
                    {"key": "karpenter.k8s.aws/instance-gpu-manufacturer", "operator": "In", "values": ["nvidia"]},
                ],
                # Only pods that tolerate the GPU taint (training jobs asking for GPUs) land here.
                "taints": [dict(GPU_TAINT)],
                "expireAfter": "720h",
                "terminationGracePeriod": GPU_TERMINATION_GRACE,
            },
        },
        "limits": {"nvidia.com/gpu": str(pool.gpu_limit)},
        "disruption": {
            "consolidationPolicy": "WhenEmpty",
            "consolidateAfter": GPU_CONSOLIDATE_AFTER,
            "budgets": [{"nodes": "10%", "reasons": ["Empty"]}, {"nodes": "0", "reasons": ["Drifted"]}],
        },
    }
