"""EKS and AWS facts the cluster code relies on, each with its source. Re-verify them when the
Kubernetes version or the AWS managed policies change (``upstream-facts-verified`` names them).
"""

from __future__ import annotations

MANAGED = "arn:aws:iam::aws:policy/"

# The actions of the AWS managed policies the platform attaches, from the AWS Managed Policy
# Reference (https://docs.aws.amazon.com/aws-managed-policy/latest/reference/<name>.html). The
# effective-permission checks require each role that has one attached to keep all of its actions
# under its permission boundary.
MANAGED_POLICY_ACTIONS: dict[str, tuple[str, ...]] = {
    # v3 (2023-11): the Pod Identity agent uses the node role to call eks-auth:AssumeRoleForPodIdentity
    # (EKS user guide, pod-id-agent-setup: "You can use the ... AmazonEKSWorkerNodePolicy").
    "AmazonEKSWorkerNodePolicy": (
        "ec2:DescribeInstances", "ec2:DescribeInstanceTypes", "ec2:DescribeRouteTables",
        "ec2:DescribeSecurityGroups", "ec2:DescribeSubnets", "ec2:DescribeVolumes",
        "ec2:DescribeVolumesModifications", "ec2:DescribeVpcs", "eks:DescribeCluster",
        "eks-auth:AssumeRoleForPodIdentity",
    ),
    # v3 (2019-12).
    "AmazonEC2ContainerRegistryReadOnly": (
        "ecr:GetAuthorizationToken", "ecr:BatchCheckLayerAvailability", "ecr:GetDownloadUrlForLayer",
        "ecr:GetRepositoryPolicy", "ecr:DescribeRepositories", "ecr:ListImages", "ecr:DescribeImages",
        "ecr:BatchGetImage", "ecr:GetLifecyclePolicy", "ecr:GetLifecyclePolicyPreview",
        "ecr:ListTagsForResource", "ecr:DescribeImageScanFindings",
    ),
    # v1 (2024-10). The fourth action is from aws/karpenter-provider-aws#7956 (unverified on the AWS page).
    "AmazonEC2ContainerRegistryPullOnly": (
        "ecr:GetAuthorizationToken", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer",
        "ecr:BatchImportUpstreamImage",
    ),
    "AmazonEKS_CNI_Policy": (
        "ec2:AssignPrivateIpAddresses", "ec2:AttachNetworkInterface", "ec2:CreateNetworkInterface",
        "ec2:DeleteNetworkInterface", "ec2:DescribeInstances", "ec2:DescribeTags", "ec2:DescribeNetworkInterfaces",
        "ec2:DescribeInstanceTypes", "ec2:DescribeSubnets", "ec2:DescribeSecurityGroups",
        "ec2:DetachNetworkInterface", "ec2:ModifyNetworkInterfaceAttribute", "ec2:UnassignPrivateIpAddresses",
        "ec2:CreateTags",
    ),
    # service-role/AmazonEBSCSIDriverPolicy (v4 excerpt and the driver's docs/example-iam-policy.json at
    # kubernetes-sigs/aws-ebs-csi-driver v1.64.0): volume and snapshot lifecycle, no KMS (the KMS
    # permissions for a customer key are added separately: training_cluster.ebs_csi_key_statements).
    "AmazonEBSCSIDriverPolicy": (
        "ec2:DescribeAvailabilityZones", "ec2:DescribeInstances", "ec2:DescribeSnapshots", "ec2:DescribeTags",
        "ec2:DescribeVolumes", "ec2:DescribeVolumesModifications", "ec2:DescribeVolumeStatus",
        "ec2:CreateSnapshot", "ec2:ModifyVolume", "ec2:AttachVolume", "ec2:DetachVolume", "ec2:CreateVolume",
        "ec2:EnableFastSnapshotRestores", "ec2:CreateTags", "ec2:DeleteTags", "ec2:DeleteVolume",
        "ec2:DeleteSnapshot",
    ),
    # Excerpt (legacy cloud-provider permissions); the full list is long and all ec2/autoscaling/elb.
    "AmazonEKSClusterPolicy": (
        "autoscaling:DescribeAutoScalingGroups", "autoscaling:UpdateAutoScalingGroup", "ec2:AttachVolume",
        "ec2:AuthorizeSecurityGroupIngress", "ec2:CreateRoute", "ec2:CreateSecurityGroup", "ec2:CreateTags",
        "ec2:CreateVolume", "ec2:DeleteRoute", "ec2:DeleteSecurityGroup", "ec2:DeleteVolume",
        "ec2:DescribeInstances", "ec2:DescribeRouteTables", "ec2:DescribeSecurityGroups", "ec2:DescribeSubnets",
        "ec2:DescribeVolumes", "ec2:DescribeVpcs", "ec2:DetachVolume", "ec2:ModifyInstanceAttribute",
        "ec2:ModifyVolume", "ec2:RevokeSecurityGroupIngress", "elasticloadbalancing:AddTags",
    ),
}  # fmt: skip

# The EKS add-ons the cluster installs (components/training_cluster.py refuses others), at EKS's default
# version for the cluster's Kubernetes version: `mlplatform preflight` checks each is offered for it.
EKS_ADDONS = ("eks-pod-identity-agent", "kube-proxy", "vpc-cni", "coredns", "aws-ebs-csi-driver")

# The node role of an EKS *managed* node group. Decided on evidence: the node group API has rejected
# roles without these two ("Please ensure the following policies ... AmazonEKSWorkerNodePolicy,
# AmazonEC2ContainerRegistryReadOnly are attached", aws/containers-roadmap#1610); a Feb 2025 report
# that creation still checks for ReadOnly (awsdocs/amazon-eks-user-guide PR #880) is unresolved;
# terraform-aws-eks v21.19.0 (modules/eks-managed-node-group/main.tf) still attaches ReadOnly. The
# user guide (create-node-role) now says PullOnly; ReadOnly includes every pull action PullOnly has
# but BatchImportUpstreamImage (pull-through caches, unused here), so ReadOnly satisfies both.
MANAGED_NODE_GROUP_POLICIES = ("AmazonEKSWorkerNodePolicy", "AmazonEC2ContainerRegistryReadOnly")
# Nodes that Karpenter launches (no node-group API involved): its getting-started template's
# KarpenterNodeRole, less AmazonEKS_CNI_Policy (the VPC CNI gets its own role through Pod Identity)
# and AmazonSSMManagedInstanceCore (no SSM sessions on nodes).
KARPENTER_NODE_POLICIES = ("AmazonEKSWorkerNodePolicy", "AmazonEC2ContainerRegistryPullOnly")

# Interface endpoints a private cluster needs, from the EKS user guide (private-clusters, table of
# endpoints) and Karpenter's private-cluster docs (website/content/en/v1.11, ec2 ecr.api ecr.dkr s3
# sts ssm sqs eks). S3 is the VPC's gateway endpoint. The platform adds sagemaker.api (feature store,
# registry and MLflow clients). X-Ray and Route 53 are optional and unused.
PRIVATE_CLUSTER_ENDPOINTS = (
    "ec2", "ecr.api", "ecr.dkr", "elasticloadbalancing", "logs", "sts", "eks", "eks-auth", "ssm", "sqs",
    "sagemaker.api",
)  # fmt: skip

# EKS Pod Identity (user guide, pod-id-role): trust pods.eks.amazonaws.com with sts:AssumeRole and
# sts:TagSession; "When the Pod Identity IAM Role is assumed, it sends the following Request Tags:
# eks-cluster-arn, eks-cluster-name, kubernetes-namespace, kubernetes-service-account, ..." and the
# documented way to restrict a role to a cluster or service account is a condition on those tags.
# (aws:SourceArn / aws:SourceAccount are not documented for this principal.)
POD_IDENTITY_PRINCIPAL = "pods.eks.amazonaws.com"
POD_IDENTITY_TAGS = ("eks-cluster-arn", "eks-cluster-name", "kubernetes-namespace", "kubernetes-service-account")

# "Ensure that IAM Role permissions are created before and deleted after EKS Cluster handling.
# Otherwise, EKS will not be able to properly delete EKS managed EC2 infrastructure such as Security
# Groups." and the same for node groups (terraform-provider-aws docs of aws_eks_cluster and
# aws_eks_node_group, which pulumi-aws's eks.Cluster / eks.NodeGroup examples follow with dependsOn on
# the role policy attachments).
ROLE_POLICIES_BEFORE = ("aws:eks/cluster:Cluster", "aws:eks/nodeGroup:NodeGroup")

# The KMS key policy of an EBS encryption key that EC2 (and the service-linked roles it launches
# with: Auto Scaling for node groups, EC2 Fleet/Spot for Karpenter) may use: Karpenter's
# troubleshooting.md ("Node terminates before ready on failed encrypted EBS volume") and the
# default aws/ebs key policy grant Encrypt, Decrypt, ReEncrypt*, GenerateDataKey*, CreateGrant and
# DescribeKey to principal "*" limited by kms:CallerAccount and kms:ViaService ec2.<region>. Naming
# the Auto Scaling service-linked role instead fails in a new account: "The principals in the key
# policy must exist and be visible to KMS" (KMS CreateKey API reference), and that role is created
# with the first Auto Scaling group.
EBS_KEY_ACTIONS = ("kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:CreateGrant",
                   "kms:DescribeKey")  # fmt: skip
