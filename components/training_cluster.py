"""The EKS training cluster: control plane, managed add-ons and a small on-demand system node group.

API authentication mode only (access entries, no aws-auth ConfigMap, no implicit admin for the
creator), secrets envelope-encrypted with the cluster key, every control-plane log type to an
encrypted log group, a private endpoint (public only where the stack allows it, restricted to its
CIDRs), IMDSv2 with hop limit 1 and encrypted volumes on nodes. GPU and burst capacity come from
Karpenter (``cluster_addons.py``), not from node groups.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field

import pulumi

from foundation.conventions import (
    ADDON_NAMESPACE,
    EBS_CSI_SERVICE_ACCOUNT,
    VPC_CNI_SERVICE_ACCOUNT,
    named_by_content,
    partition_for,
    physical_name,
    stateful_options,
)
from foundation.iam.documents import Statement
from foundation.iam.roles import ServiceRole, service_role
from foundation.iam.scope import Scope
from foundation.iam.trust import pod_identity_statement, service_trust
from foundation.upstream.eks import EKS_ADDONS, MANAGED_NODE_GROUP_POLICIES

LOG_TYPES = ("api", "audit", "authenticator", "controllerManager", "scheduler")
CLUSTER_ADMIN_POLICY = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"
# EKS user guide (access-policy-permissions): AmazonEKSAdminViewPolicy "grants access to list/view all
# resources in a cluster, including Secrets" (unlike AmazonEKSViewPolicy).
ADMIN_VIEW_POLICY = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSAdminViewPolicy"
MANAGED = "arn:aws:iam::aws:policy/"


@dataclass(frozen=True)
class SystemNodes:
    instance_types: Sequence[str] = ("m6i.large",)
    min_size: int = 2
    desired_size: int = 2
    max_size: int = 4
    disk_gi: int = 50


@dataclass(frozen=True)
class TrainingClusterArgs:
    environment: str
    account_id: str
    region: str
    kubernetes_version: str
    subnet_ids: Sequence[pulumi.Input[str]]
    cluster_key_arn: pulumi.Input[str]
    logs_key_arn: pulumi.Input[str]
    permissions_boundary: pulumi.Input[str]
    log_retention_days: int = 365
    # Secure default: private endpoint only. A public endpoint is a named opt-out with CIDRs.
    endpoint_public_access: bool = False
    public_access_cidrs: Sequence[str] = ()
    admin_principals: Sequence[pulumi.Input[str]] = ()
    # Principals that may read everything in the cluster, Secrets included (Helm keeps releases in
    # Secrets): the ci-preview role, so a refresh (`mlplatform drift`) can read what it compares.
    viewer_principals: Sequence[pulumi.Input[str]] = ()
    system_nodes: SystemNodes = field(default_factory=SystemNodes)
    addon_versions: dict[str, str] = field(default_factory=dict)  # unpinned: EKS's default for the version
    protect: bool = True

    def __post_init__(self) -> None:
        if self.endpoint_public_access and not self.public_access_cidrs:
            raise ValueError("a public endpoint needs public_access_cidrs")
        if "0.0.0.0/0" in self.public_access_cidrs:
            raise ValueError("public_access_cidrs must not contain 0.0.0.0/0")


class TrainingCluster(pulumi.ComponentResource):
    def __init__(self, name: str, args: TrainingClusterArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("mlplatform:training_cluster:TrainingCluster", name, None, opts)
        import pulumi_aws as aws

        self.args = args
        self.name = physical_name(args.environment, "training")
        p = partition_for(args.region)
        scope = Scope(args.environment, args.account_id, args.region)
        child = pulumi.ResourceOptions(parent=self)

        # Created before the cluster, so EKS does not create it unencrypted and kept forever.
        log_group = aws.cloudwatch.LogGroup(
            f"{name}-control-plane",
            aws.cloudwatch.LogGroupArgs(
                name=f"/aws/eks/{self.name}/cluster",
                kms_key_id=args.logs_key_arn,
                retention_in_days=args.log_retention_days,
            ),
            opts=stateful_options(self, args.protect),
        )
        cluster_role = self._role(
            f"{name}-cluster",
            "eks-cluster",
            service_trust(
                "Service", "eks.amazonaws.com", account_id=args.account_id, actions=["sts:AssumeRole", "sts:TagSession"]
            ),
            managed=["AmazonEKSClusterPolicy"],
            inline=[
                Statement(
                    sid="EnvelopeEncryption",
                    actions=["kms:Encrypt", "kms:Decrypt", "kms:ListGrants", "kms:DescribeKey"],
                    resources=[args.cluster_key_arn],
                )
            ],
        )
        self.cluster = aws.eks.Cluster(
            name,
            aws.eks.ClusterArgs(
                name=self.name,
                version=args.kubernetes_version,
                role_arn=cluster_role.role.arn,
                vpc_config=aws.eks.ClusterVpcConfigArgs(
                    subnet_ids=list(args.subnet_ids),
                    endpoint_private_access=True,
                    endpoint_public_access=args.endpoint_public_access,
                    public_access_cidrs=list(args.public_access_cidrs) if args.endpoint_public_access else None,
                ),
                access_config=aws.eks.ClusterAccessConfigArgs(
                    authentication_mode="API", bootstrap_cluster_creator_admin_permissions=False
                ),
                encryption_config=aws.eks.ClusterEncryptionConfigArgs(
                    resources=["secrets"],
                    provider=aws.eks.ClusterEncryptionConfigProviderArgs(key_arn=args.cluster_key_arn),
                ),
                enabled_cluster_log_types=list(LOG_TYPES),
                # The platform installs VPC CNI, CoreDNS and kube-proxy as managed add-ons.
                bootstrap_self_managed_addons=False,
                upgrade_policy=aws.eks.ClusterUpgradePolicyArgs(support_type="STANDARD"),
                deletion_protection=args.protect,
            ),
            # The role's policies before the cluster, and (reversed on destroy) after it: EKS needs them
            # to create and to clean up its network interfaces (pulumi-aws eks.Cluster docs).
            opts=pulumi.ResourceOptions(parent=self, depends_on=[log_group, *cluster_role.ready]),
        )
        self.cluster_name = self.cluster.name
        self.arn = f"arn:{p}:eks:{args.region}:{args.account_id}:cluster/{self.name}"

        # Who may use the Kubernetes API: creator admin is off, so nothing in-cluster can be applied
        # before these exist. The Kubernetes provider of the add-ons waits for them (``admin_access``).
        self.admin_access: list[pulumi.Resource] = []
        grants = [("admin", i, p, CLUSTER_ADMIN_POLICY) for i, p in enumerate(args.admin_principals)]
        grants += [("viewer", i, p, ADMIN_VIEW_POLICY) for i, p in enumerate(args.viewer_principals)]
        for kind, i, principal, access_policy in grants:
            entry = aws.eks.AccessEntry(
                f"{name}-{kind}-{i}",
                aws.eks.AccessEntryArgs(cluster_name=self.cluster.name, principal_arn=principal, type="STANDARD"),
                opts=child,
            )
            association = aws.eks.AccessPolicyAssociation(
                f"{name}-{kind}-{i}",
                aws.eks.AccessPolicyAssociationArgs(
                    cluster_name=self.cluster.name,
                    principal_arn=principal,
                    policy_arn=access_policy,
                    access_scope=aws.eks.AccessPolicyAssociationAccessScopeArgs(type="cluster"),
                ),
                opts=pulumi.ResourceOptions(parent=self, depends_on=[entry]),
            )
            self.admin_access += [entry, association]

        # Add-ons that nodes need to become Ready come first; the rest after the node group.
        cni_role = self._role(
            f"{name}-vpc-cni",
            "vpc-cni",
            pod_identity_statement(scope, ADDON_NAMESPACE, VPC_CNI_SERVICE_ACCOUNT),
            managed=["AmazonEKS_CNI_Policy"],
        )
        pod_identity = self._addon(name, "eks-pod-identity-agent")
        early = [
            pod_identity,
            self._addon(name, "kube-proxy"),
            self._addon(
                name,
                "vpc-cni",
                service_account=VPC_CNI_SERVICE_ACCOUNT,
                role=cni_role.role,
                # NetworkPolicies of team namespaces are enforced by the VPC CNI.
                configuration={"enableNetworkPolicy": "true"},
                depends_on=[pod_identity, *cni_role.ready],
            ),
        ]
        node_role = self._role(
            f"{name}-system-nodes",
            "system-nodes",
            service_trust("Ec2", "ec2.amazonaws.com"),  # EC2 sets no source context: no condition
            managed=list(MANAGED_NODE_GROUP_POLICIES),
        )
        sn = args.system_nodes
        template = aws.ec2.LaunchTemplate(
            f"{name}-system",
            aws.ec2.LaunchTemplateArgs(
                description="mlplatform system nodes: IMDSv2 only, root volume encrypted with the cluster key",
                update_default_version=True,
                metadata_options=aws.ec2.LaunchTemplateMetadataOptionsArgs(
                    http_endpoint="enabled", http_tokens="required", http_put_response_hop_limit=1
                ),
                block_device_mappings=[
                    aws.ec2.LaunchTemplateBlockDeviceMappingArgs(
                        device_name="/dev/xvda",
                        ebs=aws.ec2.LaunchTemplateBlockDeviceMappingEbsArgs(
                            volume_size=sn.disk_gi,
                            volume_type="gp3",
                            encrypted="true",
                            kms_key_id=args.cluster_key_arn,
                            delete_on_termination="true",
                        ),
                    )
                ],
            ),
            opts=child,
        )
        # What replaces a node group (Terraform ForceNew) names it, and the new group comes up beside
        # the old one, which EKS drains after: never a cluster without system nodes (the bridge
        # would delete a group the program names first). Sizes and the template's version update it.
        replaced_by = dict(
            node_role_arn=node_role.role.arn,
            subnet_ids=list(args.subnet_ids),
            ami_type="AL2023_x86_64_STANDARD",
            capacity_type="ON_DEMAND",
            instance_types=list(sn.instance_types),
        )
        self.system_nodes = aws.eks.NodeGroup(
            f"{name}-system",
            aws.eks.NodeGroupArgs(
                cluster_name=self.cluster.name,
                node_group_name=named_by_content(lambda digest: f"system-{digest}", [replaced_by, template.id]),
                **replaced_by,
                scaling_config=aws.eks.NodeGroupScalingConfigArgs(
                    min_size=sn.min_size, desired_size=sn.desired_size, max_size=sn.max_size
                ),
                launch_template=aws.eks.NodeGroupLaunchTemplateArgs(id=template.id, version=template.latest_version),
                labels={"mlplatform/pool": "system"},
            ),
            opts=pulumi.ResourceOptions(
                parent=self,
                depends_on=[*early, *node_role.ready],
                ignore_changes=["scalingConfig.desiredSize"],
                delete_before_replace=False,
            ),
        )
        ebs_role = self._role(
            f"{name}-ebs-csi",
            "ebs-csi",
            pod_identity_statement(scope, ADDON_NAMESPACE, EBS_CSI_SERVICE_ACCOUNT),
            managed=["service-role/AmazonEBSCSIDriverPolicy"],
            inline=ebs_csi_key_statements(args.cluster_key_arn, args.region),
        )
        self.coredns = self._addon(name, "coredns", depends_on=[self.system_nodes])
        self._addon(
            name,
            "aws-ebs-csi-driver",
            service_account=EBS_CSI_SERVICE_ACCOUNT,
            role=ebs_role.role,
            depends_on=[self.system_nodes, pod_identity, *ebs_role.ready],
        )
        self.endpoint = self.cluster.endpoint
        self.security_group_id = self.cluster.vpc_config.cluster_security_group_id
        self.certificate_authority = self.cluster.certificate_authority.apply(lambda ca: ca["data"] if ca else "")
        self.register_outputs({"name": self.name, "arn": self.arn})

    def _role(
        self,
        resource_name: str,
        purpose: str,
        trust: Statement,
        *,
        managed: Sequence[str] = (),
        inline: Sequence[Statement] = (),
    ) -> ServiceRole:
        a = self.args
        return service_role(
            resource_name,
            parent=self,
            name=physical_name(a.environment, purpose),
            description=f"mlplatform {a.environment} training cluster: {purpose}",
            boundary=a.permissions_boundary,
            trust=trust,
            policy_name="inline",
            statements=inline,
            managed=[MANAGED + m for m in managed],
        )

    def _addon(self, name: str, addon: str, *, service_account=None, role=None, configuration=None, depends_on=()):
        import pulumi_aws as aws

        if addon not in EKS_ADDONS:  # preflight checks these are offered for the Kubernetes version
            raise ValueError(f"add-on {addon}: add it to foundation/upstream/eks.py EKS_ADDONS")
        return aws.eks.Addon(
            f"{name}-{addon}",
            aws.eks.AddonArgs(
                cluster_name=self.cluster.name,
                addon_name=addon,
                addon_version=self.args.addon_versions.get(addon),
                resolve_conflicts_on_create="OVERWRITE",
                resolve_conflicts_on_update="OVERWRITE",
                configuration_values=json.dumps(configuration) if configuration else None,
                pod_identity_associations=[
                    aws.eks.AddonPodIdentityAssociationArgs(role_arn=role.arn, service_account=service_account)
                ]
                if role is not None
                else None,
            ),
            opts=pulumi.ResourceOptions(parent=self, depends_on=list(depends_on)),
        )


def ebs_csi_key_statements(key_arn: pulumi.Input[str], region: str) -> list[Statement]:
    """What the EBS CSI controller needs to create volumes encrypted with the cluster key (the
    StorageClass's kmsKeyId): the key policy statements of the driver's docs (install.md, "KMS
    encryption"), as an identity policy, used only through EC2."""
    via_ec2 = {"StringEquals": {"kms:ViaService": f"ec2.{region}.amazonaws.com"}}
    return [
        Statement(
            sid="VolumeKeyGrants",
            actions=["kms:CreateGrant", "kms:ListGrants", "kms:RevokeGrant"],
            resources=[key_arn],
            conditions={"Bool": {"kms:GrantIsForAWSResource": "true"}},
        ),
        Statement(
            sid="VolumeKeyUse",
            actions=["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey"],
            resources=[key_arn],
            conditions=via_ec2,
        ),
    ]
