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

from components.conventions import partition_for, physical_name
from components.documents import Statement, document
from components.identity import pod_identity_statement, service_role, service_trust

KARPENTER_NAMESPACE = "kube-system"
GPU_TAINT = {"key": "nvidia.com/gpu", "value": "true", "effect": "NoSchedule"}
POD_IDENTITY_AGENT = "169.254.170.23/32"  # where pods get their EKS Pod Identity credentials
# EventBridge events Karpenter drains nodes on (spot interruptions, rebalances, health, stops).
INTERRUPTION_EVENTS = {
    "spot-interruption": {"source": ["aws.ec2"], "detail-type": ["EC2 Spot Instance Interruption Warning"]},
    "rebalance": {"source": ["aws.ec2"], "detail-type": ["EC2 Instance Rebalance Recommendation"]},
    "instance-state": {"source": ["aws.ec2"], "detail-type": ["EC2 Instance State-change Notification"]},
    "health": {"source": ["aws.health"], "detail-type": ["AWS Health Event"]},
}


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


@dataclass(frozen=True)
class Charts:
    karpenter: str = "1.11.1"
    nvidia_device_plugin: str = "0.17.1"
    kuberay_operator: str = "1.5.1"


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
        import pulumi_aws as aws
        import pulumi_kubernetes as k8s

        self.args = args
        env = args.environment
        p = partition_for(args.region)
        aws_child = pulumi.ResourceOptions(parent=self)
        self.k8s = k8s.Provider(
            f"{name}-k8s",
            k8s.ProviderArgs(
                kubeconfig=kubeconfig(args.cluster_name, args.cluster_endpoint, args.cluster_ca, args.region),
                enable_server_side_apply=True,
                delete_unreachable=False,
            ),
            opts=aws_child,
        )
        on_k8s = pulumi.ResourceOptions(parent=self, provider=self.k8s)

        # --- Karpenter: node role, controller role, interruption queue ---------------------------
        node_role, _ = service_role(
            f"{name}-karpenter-node",
            parent=self,
            name=physical_name(env, "karpenter-node"),
            description="Nodes that Karpenter launches",
            boundary=args.permissions_boundary,
            trust=service_trust("Ec2", "ec2.amazonaws.com"),
            managed=[
                "arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy",
                "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryPullOnly",
            ],
        )
        node_access = aws.eks.AccessEntry(
            f"{name}-karpenter-node",
            aws.eks.AccessEntryArgs(cluster_name=args.cluster_name, principal_arn=node_role.arn, type="EC2_LINUX"),
            opts=aws_child,
        )
        queue_name = physical_name(env, "karpenter")
        queue = aws.sqs.Queue(
            f"{name}-interruptions",
            aws.sqs.QueueArgs(name=queue_name, message_retention_seconds=300, sqs_managed_sse_enabled=True),
            opts=aws_child,
        )
        aws.sqs.QueuePolicy(
            f"{name}-interruptions",
            aws.sqs.QueuePolicyArgs(
                queue_url=queue.url,
                policy=document(
                    [
                        Statement(
                            sid="InterruptionEvents",
                            principals={"Service": ["events.amazonaws.com", "sqs.amazonaws.com"]},
                            actions=["sqs:SendMessage"],
                            resources=[queue.arn],
                        ),
                        Statement(
                            sid="DenyInsecureTransport",
                            effect="Deny",
                            principals={"AWS": "*"},
                            actions=["sqs:*"],
                            resources=[queue.arn],
                            conditions={"Bool": {"aws:SecureTransport": "false"}},
                        ),
                    ]
                ),
            ),
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
        controller_role, _ = service_role(
            f"{name}-karpenter",
            parent=self,
            name=physical_name(env, "karpenter"),
            description="Karpenter controller (EKS Pod Identity, kube-system/karpenter)",
            boundary=args.permissions_boundary,
            trust=pod_identity_statement(args.account_id),
            policy_name="controller",
            statements=karpenter_controller_statements(
                p, args.region, args.account_id, env, queue_arn=queue.arn, node_role_arn=node_role.arn
            ),
        )  # fmt: skip
        association = aws.eks.PodIdentityAssociation(
            f"{name}-karpenter",
            aws.eks.PodIdentityAssociationArgs(
                cluster_name=args.cluster_name,
                namespace=KARPENTER_NAMESPACE,
                service_account="karpenter",
                role_arn=controller_role.arn,
            ),
            opts=aws_child,
        )

        # --- Helm releases (CRDs first: custom resources wait for them) --------------------------
        crds = k8s.helm.v3.Release(
            f"{name}-karpenter-crd",
            k8s.helm.v3.ReleaseArgs(
                name="karpenter-crd",
                chart="oci://public.ecr.aws/karpenter/karpenter-crd",
                version=args.charts.karpenter,
                namespace=KARPENTER_NAMESPACE,
            ),
            opts=on_k8s,
        )
        karpenter = k8s.helm.v3.Release(
            f"{name}-karpenter",
            k8s.helm.v3.ReleaseArgs(
                name="karpenter",
                chart="oci://public.ecr.aws/karpenter/karpenter",
                version=args.charts.karpenter,
                namespace=KARPENTER_NAMESPACE,
                skip_crds=True,
                values={
                    "settings": {"clusterName": args.cluster_name, "interruptionQueue": queue_name},
                    "serviceAccount": {"name": "karpenter"},
                    "controller": {"resources": {"requests": {"cpu": "1", "memory": "1Gi"}}},
                    # Karpenter must not run on the capacity it manages.
                    "nodeSelector": {"mlplatform/pool": "system"},
                },
            ),
            opts=pulumi.ResourceOptions(parent=self, provider=self.k8s, depends_on=[crds, association]),
        )
        after_karpenter = pulumi.ResourceOptions(
            parent=self, provider=self.k8s, depends_on=[crds, karpenter, node_access]
        )
        self.node_class = k8s.apiextensions.CustomResource(
            f"{name}-default",
            api_version="karpenter.k8s.aws/v1",
            kind="EC2NodeClass",
            metadata={"name": "default"},
            spec={
                "role": node_role.name,
                "amiSelectorTerms": [{"alias": "al2023@latest"}],
                "subnetSelectorTerms": [{"tags": {"karpenter.sh/discovery": args.cluster_name}}],
                "securityGroupSelectorTerms": [{"tags": {"aws:eks:cluster-name": args.cluster_name}}],
                "metadataOptions": {
                    "httpEndpoint": "enabled",
                    "httpTokens": "required",
                    "httpPutResponseHopLimit": 1,
                    "httpProtocolIPv6": "disabled",
                },
                "blockDeviceMappings": [
                    {
                        "deviceName": "/dev/xvda",
                        "ebs": {
                            "volumeSize": f"{args.node_volume_gi}Gi",
                            "volumeType": "gp3",
                            "encrypted": True,
                            "deleteOnTermination": True,
                        },
                    }
                ],
                "tags": {"environment": env, "managed-by": "karpenter"},
            },
            opts=after_karpenter,
        )
        self.node_pools = {"cpu": self._node_pool(name, k8s, "cpu", cpu_pool_spec(args), after_karpenter)}
        for pool in args.gpu_pools:
            self.node_pools[pool.name] = self._node_pool(name, k8s, pool.name, gpu_pool_spec(pool), after_karpenter)

        gpu_nodes = {"mlplatform/gpu": "true"}
        k8s.helm.v3.Release(
            f"{name}-nvidia-device-plugin",
            k8s.helm.v3.ReleaseArgs(
                name="nvidia-device-plugin",
                chart="nvidia-device-plugin",
                version=args.charts.nvidia_device_plugin,
                repository_opts=k8s.helm.v3.RepositoryOptsArgs(repo="https://nvidia.github.io/k8s-device-plugin"),
                namespace="nvidia-device-plugin",
                create_namespace=True,
                values={
                    "nodeSelector": gpu_nodes,
                    "tolerations": [{"key": GPU_TAINT["key"], "operator": "Exists", "effect": "NoSchedule"}],
                },
            ),
            opts=on_k8s,
        )
        if args.operator == "kuberay":
            k8s.helm.v3.Release(
                f"{name}-kuberay-operator",
                k8s.helm.v3.ReleaseArgs(
                    name="kuberay-operator",
                    chart="kuberay-operator",
                    version=args.charts.kuberay_operator,
                    repository_opts=k8s.helm.v3.RepositoryOptsArgs(repo="https://ray-project.github.io/kuberay-helm/"),
                    namespace="kuberay-system",
                    create_namespace=True,
                    values={"nodeSelector": {"mlplatform/pool": "system"}},
                ),
                opts=on_k8s,
            )

        for team in args.teams:
            self._team(name, k8s, aws, team, on_k8s)
        self.register_outputs({"nodePools": list(self.node_pools), "teams": [t.name for t in args.teams]})

    def _node_pool(self, name, k8s, pool: str, spec: dict, opts):
        return k8s.apiextensions.CustomResource(
            f"{name}-pool-{pool}",
            api_version="karpenter.sh/v1",
            kind="NodePool",
            metadata={"name": pool},
            spec=spec,
            opts=pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(depends_on=[self.node_class])),
        )

    def _team(self, name, k8s, aws, team: Team, on_k8s) -> None:
        ns_name = team.name
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
            spec=k8s.core.v1.LimitRangeSpecArgs(
                limits=[
                    k8s.core.v1.LimitRangeItemArgs(
                        type="Container",
                        default={"cpu": "2", "memory": "8Gi"},
                        default_request={"cpu": "500m", "memory": "1Gi"},
                        max={"memory": f"{team.memory_quota_gi}Gi"},
                    )
                ]
            ),
            opts=in_ns,
        )
        for policy_name, spec in network_policies().items():
            k8s.networking.v1.NetworkPolicy(
                f"{name}-team-{ns_name}-{policy_name}",
                metadata=meta(policy_name),
                spec=spec,
                opts=in_ns,
            )
        k8s.core.v1.ServiceAccount(f"{name}-team-{ns_name}-trainer", metadata=meta("trainer"), opts=in_ns)
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


def team_quota(team: Team) -> dict[str, str]:
    return {
        "requests.nvidia.com/gpu": str(team.gpu_quota),
        "requests.cpu": str(team.cpu_quota),
        "requests.memory": f"{team.memory_quota_gi}Gi",
        "limits.memory": f"{team.memory_quota_gi}Gi",
    }


def network_policies() -> dict[str, dict]:
    """Default deny, then: traffic inside the namespace (distributed training), DNS, the Pod
    Identity agent, and HTTPS out (AWS APIs, through the VPC endpoints where they exist)."""
    return {
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


def _disruption() -> dict:
    # Empty or underused nodes go away after a minute; GPU capacity returns to zero when idle.
    return {"consolidationPolicy": "WhenEmptyOrUnderutilized", "consolidateAfter": "1m"}


def cpu_pool_spec(args: ClusterAddonsArgs) -> dict:
    return {
        "template": {
            "metadata": {"labels": {"mlplatform/pool": "cpu"}},
            "spec": {
                "nodeClassRef": {"group": "karpenter.k8s.aws", "kind": "EC2NodeClass", "name": "default"},
                "requirements": [
                    {"key": "karpenter.k8s.aws/instance-family", "operator": "In", "values": list(args.cpu_families)},
                    {"key": "karpenter.sh/capacity-type", "operator": "In", "values": list(args.cpu_capacity_types)},
                    {"key": "kubernetes.io/arch", "operator": "In", "values": ["amd64"]},
                ],
                "expireAfter": "720h",
            },
        },
        "limits": {"cpu": str(args.cpu_limit)},
        "disruption": _disruption(),
        "weight": 10,
    }


def gpu_pool_spec(pool: GpuPool) -> dict:
    return {
        "template": {
            "metadata": {"labels": {"mlplatform/pool": pool.name, "mlplatform/gpu": "true"}},
            "spec": {
                "nodeClassRef": {"group": "karpenter.k8s.aws", "kind": "EC2NodeClass", "name": "default"},
                "requirements": [
                    {
                        "key": "karpenter.k8s.aws/instance-family",
                        "operator": "In",
                        "values": list(pool.instance_families),
                    },
                    # Karpenter prefers spot when both are allowed and falls back to on-demand.
                    {"key": "karpenter.sh/capacity-type", "operator": "In", "values": list(pool.capacity_types)},
                    {"key": "karpenter.k8s.aws/instance-gpu-manufacturer", "operator": "In", "values": ["nvidia"]},
                ],
                # Only pods that tolerate the GPU taint (training jobs asking for GPUs) land here.
                "taints": [dict(GPU_TAINT)],
                "expireAfter": "720h",
            },
        },
        "limits": {"nvidia.com/gpu": str(pool.gpu_limit)},
        "disruption": _disruption(),
    }


def karpenter_controller_statements(
    p: str, region: str, account: str, env: str, *, queue_arn, node_role_arn
) -> list[Statement]:
    """The Karpenter controller's permissions, after the policy its project publishes: launch and
    terminate only instances it tags for this cluster, pass only its node role."""
    ec2 = f"arn:{p}:ec2:{region}"
    cluster = physical_name(env, "training")
    owned = {"StringEquals": {f"aws:RequestTag/kubernetes.io/cluster/{cluster}": "owned"}}
    tagged = {"StringEquals": {f"aws:ResourceTag/kubernetes.io/cluster/{cluster}": "owned"}}
    in_region = {"StringEquals": {"aws:RequestedRegion": region}}
    return [
        Statement(
            sid="LaunchFromSharedResources",
            actions=["ec2:RunInstances", "ec2:CreateFleet"],
            resources=[f"{ec2}::image/*", f"{ec2}::snapshot/*", f"{ec2}:*:security-group/*", f"{ec2}:*:subnet/*"],
        ),
        Statement(
            sid="LaunchWithOwnTemplates",
            actions=["ec2:RunInstances", "ec2:CreateFleet"],
            resources=[f"{ec2}:*:launch-template/*"],
            conditions=tagged,
        ),
        Statement(
            sid="CreateOwnedResources",
            actions=["ec2:RunInstances", "ec2:CreateFleet", "ec2:CreateLaunchTemplate"],
            resources=[
                f"{ec2}:*:fleet/*",
                f"{ec2}:*:instance/*",
                f"{ec2}:*:volume/*",
                f"{ec2}:*:network-interface/*",
                f"{ec2}:*:launch-template/*",
                f"{ec2}:*:spot-instances-request/*",
            ],
            conditions=owned,
        ),
        Statement(
            sid="TagOnCreate",
            actions=["ec2:CreateTags"],
            resources=[
                f"{ec2}:*:fleet/*",
                f"{ec2}:*:instance/*",
                f"{ec2}:*:volume/*",
                f"{ec2}:*:network-interface/*",
                f"{ec2}:*:launch-template/*",
                f"{ec2}:*:spot-instances-request/*",
            ],
            conditions={
                **owned,
                "StringEqualsIfExists": {"ec2:CreateAction": ["RunInstances", "CreateFleet", "CreateLaunchTemplate"]},
            },
        ),
        Statement(
            sid="TagOwnedInstances", actions=["ec2:CreateTags"], resources=[f"{ec2}:*:instance/*"], conditions=tagged
        ),
        Statement(
            sid="DeleteOwnedResources",
            actions=["ec2:TerminateInstances", "ec2:DeleteLaunchTemplate"],
            resources=[f"{ec2}:*:instance/*", f"{ec2}:*:launch-template/*"],
            conditions=tagged,
        ),
        Statement(
            sid="DescribeInRegion",
            actions=["ec2:Describe*"],
            resources=["*"],
            conditions=in_region,
        ),
        Statement(sid="Prices", actions=["pricing:GetProducts"], resources=["*"]),
        Statement(
            sid="AmiParameters",
            actions=["ssm:GetParameter"],
            resources=[f"arn:{p}:ssm:{region}::parameter/aws/service/*"],
        ),
        Statement(
            sid="InterruptionQueue",
            actions=["sqs:DeleteMessage", "sqs:GetQueueUrl", "sqs:ReceiveMessage"],
            resources=[queue_arn],
        ),
        Statement(
            sid="PassNodeRole",
            actions=["iam:PassRole"],
            resources=[node_role_arn],
            conditions={"StringEquals": {"iam:PassedToService": "ec2.amazonaws.com"}},
        ),
        Statement(
            sid="InstanceProfiles",
            actions=[
                "iam:GetInstanceProfile",
                "iam:CreateInstanceProfile",
                "iam:TagInstanceProfile",
                "iam:AddRoleToInstanceProfile",
                "iam:RemoveRoleFromInstanceProfile",
                "iam:DeleteInstanceProfile",
            ],
            resources=[f"arn:{p}:iam::{account}:instance-profile/*"],
        ),
        Statement(
            sid="DiscoverCluster",
            actions=["eks:DescribeCluster"],
            resources=[f"arn:{p}:eks:{region}:{account}:cluster/{cluster}"],
        ),
    ]
