"""What runs inside the training cluster: Karpenter with CPU and GPU NodePools that scale to zero,
the NVIDIA device plugin, a distributed-training operator (KubeRay), and one namespace per team
with quotas, limits, a default-deny network policy and a ``trainer`` service account bound to the
team's training role through EKS Pod Identity.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field

import pulumi

from components.conventions import physical_name
from components.documents import Statement, document
from components.identity import Scope, pod_identity_statement, service_role, service_trust
from components.upstream import charts as chart_facts
from components.upstream import karpenter as karpenter_facts
from components.upstream.eks import KARPENTER_NODE_POLICIES, MANAGED

KARPENTER_NAMESPACE = "kube-system"
OPERATOR_NAMESPACE = "kuberay-system"
MONITORING_NAMESPACE = "monitoring"  # where kube-prometheus-stack runs (cluster_observability)
GPU_TAINT = {"key": "nvidia.com/gpu", "value": "true", "effect": "NoSchedule"}
# Labels every GPU node gets from its NodePool. nvidia.com/gpu.present is the label the device
# plugin chart's default affinity accepts when NFD is not installed (components/upstream/charts.py).
GPU_NODE_LABELS = {"mlplatform/gpu": "true", "nvidia.com/gpu.present": "true"}
POD_IDENTITY_AGENT = "169.254.170.23/32"  # where pods get their EKS Pod Identity credentials
INTERRUPTION_EVENTS = karpenter_facts.INTERRUPTION_EVENTS
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
    role_arn: pulumi.Input[str]
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
    account_id: str
    region: str
    cluster_name: pulumi.Input[str]
    cluster_endpoint: pulumi.Input[str]
    cluster_ca: pulumi.Input[str]
    permissions_boundary: pulumi.Input[str]
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
    # The caller's Kubernetes API access (access entries and policy associations): with the cluster
    # creator's implicit admin off, nothing in-cluster can be applied before these exist.
    api_access: Sequence[pulumi.Resource] = ()
    # The system node group and CoreDNS: where the controllers run, and what their pods need to start.
    system_ready: Sequence[pulumi.Resource] = ()
    # How many system nodes there are at least: the Karpenter chart spreads its replicas one per node.
    system_nodes: int = 2
    # EC2 needs the account's Spot service-linked role for spot capacity; create it unless the
    # account has it already (then set this false: `aws iam get-role --role-name AWSServiceRoleForEC2Spot`).
    create_spot_service_linked_role: bool = True

    @property
    def uses_spot(self) -> bool:
        return "spot" in self.cpu_capacity_types or any("spot" in p.capacity_types for p in self.gpu_pools)


def kubeconfig(name: pulumi.Input[str], endpoint: pulumi.Input[str], ca: pulumi.Input[str], region: str):
    """A kubeconfig that authenticates with `aws eks get-token` (the caller's AWS credentials)."""
    return pulumi.Output.all(name, endpoint, ca).apply(
        lambda a: json.dumps(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": a[0], "cluster": {"server": a[1], "certificate-authority-data": a[2]}}],
                "contexts": [{"name": a[0], "context": {"cluster": a[0], "user": a[0]}}],
                "current-context": a[0],
                "users": [
                    {
                        "name": a[0],
                        "user": {
                            "exec": {
                                "apiVersion": "client.authentication.k8s.io/v1beta1",
                                "command": "aws",
                                "args": ["eks", "get-token", "--cluster-name", a[0], "--region", region],
                            }
                        },
                    }
                ],
            }
        )
    )


class ClusterAddons(pulumi.ComponentResource):
    def __init__(self, name: str, args: ClusterAddonsArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("mlplatform:cluster_addons:ClusterAddons", name, None, opts)
        import pulumi_kubernetes as k8s

        self.args = args
        self.component_name = name
        self.scope = Scope(args.environment, args.account_id, args.region)
        self.k8s = k8s.Provider(
            f"{name}-k8s",
            k8s.ProviderArgs(
                kubeconfig=kubeconfig(args.cluster_name, args.cluster_endpoint, args.cluster_ca, args.region),
                enable_server_side_apply=True,
                delete_unreachable=False,
            ),
            opts=pulumi.ResourceOptions(parent=self, depends_on=list(args.api_access)),
        )
        # Charts wait for their pods to be ready: they need nodes and DNS first.
        self._on_system = pulumi.ResourceOptions(parent=self, provider=self.k8s, depends_on=list(args.system_ready))
        self._karpenter()
        self._gpu_software()
        if args.operator == "kuberay":
            self._operator()
        for team in args.teams:
            self._team(team)
        self.register_outputs({"nodePools": list(self.node_pools), "teams": [t.name for t in args.teams]})

    # --- Karpenter: roles, interruption queue, chart, node class and pools -------------------------

    def _karpenter(self) -> None:
        import pulumi_aws as aws
        import pulumi_kubernetes as k8s

        name, args, scope = self.component_name, self.args, self.scope
        env = args.environment
        aws_child = pulumi.ResourceOptions(parent=self)
        node_role = service_role(
            f"{name}-karpenter-node",
            parent=self,
            name=physical_name(env, "karpenter-node"),
            description="Nodes that Karpenter launches",
            boundary=args.permissions_boundary,
            trust=service_trust("Ec2", "ec2.amazonaws.com"),
            managed=[MANAGED + m for m in KARPENTER_NODE_POLICIES],
        )
        node_access = aws.eks.AccessEntry(
            f"{name}-karpenter-node",
            aws.eks.AccessEntryArgs(cluster_name=args.cluster_name, principal_arn=node_role.role.arn, type="EC2_LINUX"),
            opts=aws_child,
        )
        queue_name = physical_name(env, "karpenter")
        queue = aws.sqs.Queue(
            f"{name}-interruptions",
            aws.sqs.QueueArgs(
                name=queue_name,
                message_retention_seconds=karpenter_facts.QUEUE_RETENTION_SECONDS,
                sqs_managed_sse_enabled=True,
            ),
            opts=aws_child,
        )
        aws.sqs.QueuePolicy(
            f"{name}-interruptions",
            aws.sqs.QueuePolicyArgs(queue_url=queue.url, policy=document(interruption_queue_policy(queue.arn))),
            opts=aws_child,
        )
        for event, pattern in INTERRUPTION_EVENTS.items():
            rule = aws.cloudwatch.EventRule(
                f"{name}-{event}",
                aws.cloudwatch.EventRuleArgs(
                    name=physical_name(env, "karpenter", event), event_pattern=json.dumps(pattern)
                ),
                opts=aws_child,
            )
            aws.cloudwatch.EventTarget(
                f"{name}-{event}",
                aws.cloudwatch.EventTargetArgs(rule=rule.name, target_id="karpenter", arn=queue.arn),
                opts=aws_child,
            )
        controller = service_role(
            f"{name}-karpenter",
            parent=self,
            name=physical_name(env, "karpenter"),
            description="Karpenter controller (EKS Pod Identity, kube-system/karpenter)",
            boundary=args.permissions_boundary,
            trust=pod_identity_statement(scope, KARPENTER_NAMESPACE, "karpenter"),
            policy_name="controller",
            statements=karpenter_controller_statements(scope),
        )
        association = aws.eks.PodIdentityAssociation(
            f"{name}-karpenter",
            aws.eks.PodIdentityAssociationArgs(
                cluster_name=args.cluster_name,
                namespace=KARPENTER_NAMESPACE,
                service_account="karpenter",
                role_arn=controller.role.arn,
            ),
            opts=aws_child,
        )
        launch_prerequisites: list[pulumi.Resource] = [node_access]
        if args.uses_spot and args.create_spot_service_linked_role:
            # Account-wide and possibly shared: kept when the stack is destroyed.
            launch_prerequisites.append(
                aws.iam.ServiceLinkedRole(
                    f"{name}-spot",
                    aws.iam.ServiceLinkedRoleArgs(aws_service_name="spot.amazonaws.com"),
                    opts=pulumi.ResourceOptions(parent=self, retain_on_delete=True),
                )
            )

        # CRDs first (custom resources wait for them); the controller after its role can act.
        crds = k8s.helm.v3.Release(
            f"{name}-karpenter-crd",
            k8s.helm.v3.ReleaseArgs(
                name="karpenter-crd",
                chart="oci://public.ecr.aws/karpenter/karpenter-crd",
                version=args.charts.karpenter,
                namespace=KARPENTER_NAMESPACE,
            ),
            opts=pulumi.ResourceOptions(parent=self, provider=self.k8s),
        )
        karpenter = k8s.helm.v3.Release(
            f"{name}-karpenter",
            k8s.helm.v3.ReleaseArgs(
                name="karpenter",
                chart="oci://public.ecr.aws/karpenter/karpenter",
                version=args.charts.karpenter,
                namespace=KARPENTER_NAMESPACE,
                skip_crds=True,
                values=karpenter_values(args, queue_name),
            ),
            opts=pulumi.ResourceOptions.merge(
                self._on_system, pulumi.ResourceOptions(depends_on=[crds, association, *controller.ready])
            ),
        )
        # Node class and pools are deleted before the controller, its role and the node role: their
        # finalizers need the controller to terminate the nodes and delete the instance profiles.
        after_karpenter = pulumi.ResourceOptions(
            parent=self,
            provider=self.k8s,
            depends_on=[crds, karpenter, *launch_prerequisites, *node_role.ready, *controller.ready],
        )
        self.node_class = k8s.apiextensions.CustomResource(
            f"{name}-default",
            api_version="karpenter.k8s.aws/v1",
            kind="EC2NodeClass",
            metadata={"name": "default"},
            spec=node_class_spec(args, node_role_name=physical_name(env, "karpenter-node")),
            opts=pulumi.ResourceOptions.merge(after_karpenter, pulumi.ResourceOptions(depends_on=[node_role.role])),
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
            opts=self._on_system,
        )

    def _operator(self) -> None:
        import pulumi_kubernetes as k8s

        name, args = self.component_name, self.args
        k8s.helm.v3.Release(
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
            opts=self._on_system,
        )

    # --- team namespaces ----------------------------------------------------------------------

    def _team(self, team: Team) -> None:
        import pulumi_aws as aws
        import pulumi_kubernetes as k8s

        name, ns_name = self.component_name, team.name
        on_k8s = pulumi.ResourceOptions(parent=self, provider=self.k8s)
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
            opts=on_k8s,
        )
        in_ns = pulumi.ResourceOptions(parent=self, provider=self.k8s, depends_on=[ns])
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
        k8s.core.v1.ServiceAccount(f"{name}-team-{ns_name}-trainer", metadata=meta("trainer"), opts=in_ns)
        if team.environment:
            k8s.core.v1.ConfigMap(
                f"{name}-team-{ns_name}-environment",
                metadata=meta("mlplatform"),
                data=dict(team.environment),
                opts=in_ns,
            )
        aws.eks.PodIdentityAssociation(
            f"{name}-team-{ns_name}-trainer",
            aws.eks.PodIdentityAssociationArgs(
                cluster_name=self.args.cluster_name,
                namespace=ns_name,
                service_account="trainer",
                role_arn=team.role_arn,
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )


def interruption_queue_policy(queue_arn: pulumi.Input[str]) -> list[Statement]:
    """KarpenterInterruptionQueuePolicy of the getting-started template (v1.11.1)."""
    return [
        Statement(
            sid="InterruptionEvents",
            principals={"Service": ["events.amazonaws.com", "sqs.amazonaws.com"]},
            actions=["sqs:SendMessage"],
            resources=[queue_arn],
        ),
        Statement(
            sid="DenyInsecureTransport",
            effect="Deny",
            principals={"AWS": "*"},
            actions=["sqs:*"],
            resources=[queue_arn],
            conditions={"Bool": {"aws:SecureTransport": "false"}},
        ),
    ]


def karpenter_values(args: ClusterAddonsArgs, queue_name: str) -> dict:
    """Values of the Karpenter chart. It runs only on system nodes (never on capacity it manages),
    with one replica per system node up to the chart's two (its required pod anti-affinity puts
    each replica on its own node, components/upstream/charts.py)."""
    return {
        "replicas": max(1, min(2, args.system_nodes)),
        "settings": {"clusterName": args.cluster_name, "interruptionQueue": queue_name},
        "serviceAccount": {"name": "karpenter"},
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


def node_class_spec(args: ClusterAddonsArgs, node_role_name: str) -> dict:
    ebs = {
        "volumeSize": f"{args.node_volume_gi}Gi",
        "volumeType": "gp3",
        "encrypted": True,
        "deleteOnTermination": True,
    }
    if args.cluster_key_arn is not None:
        ebs["kmsKeyID"] = args.cluster_key_arn
    return {
        "role": node_role_name,
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


def karpenter_controller_statements(scope: Scope) -> list[Statement]:
    """The controller's permissions: the official policy of the pinned Karpenter version
    (components/upstream/karpenter.py), for this environment's cluster, queue and node role."""
    cluster = f"{scope.prefix}training"
    statements = karpenter_facts.controller_policy(
        partition=scope.partition,
        region=scope.region,
        account=scope.account_id,
        cluster=cluster,
        node_role_arn=f"arn:{scope.partition}:iam::{scope.account_id}:role/{scope.prefix}karpenter-node",
        queue_arn=scope.regional("sqs", f"{scope.prefix}karpenter"),
    )
    return [
        Statement(
            sid=st["Sid"],
            actions=[st["Action"]] if isinstance(st["Action"], str) else list(st["Action"]),
            resources=[st["Resource"]] if isinstance(st["Resource"], str) else list(st["Resource"]),
            conditions=st.get("Condition", {}),
        )
        for st in statements
    ]
