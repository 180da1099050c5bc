"""Facts about IAM actions the platform's policies rely on, each with its source.

``unscoped_actions`` and ``actions_of`` read ``foundation/upstream/provider_actions.json``: per
resource type the platform creates, the actions its create, read, update and delete call (AWS
CloudFormation's resource provider schemas plus the Terraform provider's calls; `make
provider-actions` rebuilds it with pipelines/provider_actions.py).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from functools import cache
from pathlib import Path

TABLE_FILE = Path(__file__).resolve().parents[1] / "upstream" / "provider_actions.json"
OPERATIONS = ("create", "read", "update", "delete")

# across an account), with the reason. Any "*" resource in a generated policy must be one of these.
WILDCARD_ONLY_ACTIONS: dict[str, str] = {
    "kms:CreateKey": "a key has no ARN before it exists",
    "kms:ListAliases": "lists the aliases of the whole account",
    "cloudtrail:DescribeTrails": "lists the trails of the account",
    "logs:DescribeLogGroups": "lists log groups by prefix, not by ARN",
    "s3:ListAllMyBuckets": "lists the buckets of the account",
    "ecr:GetAuthorizationToken": "the registry login token is account-wide",
    "ec2:Describe*": "EC2 describe calls take no resource",
    "pricing:GetProducts": "the price list is global",
    "eks:DescribeAddonVersions": "lists the add-on versions of the region",
    "sagemaker:ListTags": "SageMaker lists tags of any ARN it is given",
    "cloudwatch:PutMetricData": "metrics have no ARN; the grants limit it to one namespace (cloudwatch:namespace)",
    "iam:ListInstanceProfiles": "Karpenter's official policy lists instance profiles account-wide "
    "(AllowUnscopedInstanceProfileListAction, foundation/upstream/karpenter.py)",
}
# EC2 networking resources and Application Auto Scaling's scalable targets are named by AWS-generated
# ids, never by the platform: statements on them use Resource "*" limited to the stack's region
# (aws:RequestedRegion).
REGION_SCOPED_SERVICES = ("ec2", "autoscaling", "vpce", "application-autoscaling")

# The AWS managed policies the platform attaches (EKS requires them on its cluster and node roles).
ALLOWED_MANAGED_POLICIES = (
    "arn:aws:iam::aws:policy/AmazonEKSClusterPolicy",
    "arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy",
    "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryPullOnly",
    "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly",
    "arn:aws:iam::aws:policy/AmazonEKS_CNI_Policy",
    "arn:aws:iam::aws:policy/service-role/AmazonEBSCSIDriverPolicy",
)

# The network-interface actions of a model (or processing job) in a VPC. The SageMaker guide (host-vpc)
# confirms that SageMaker "uses this information to create network interfaces and attach them to your
# model containers", and that the VPC needs two subnets in different zones; its list of the execution
# role's EC2 permissions could not be read here, so this set is UNVERIFIED (confirm on a first deploy).
VPC_ACTIONS = (
    "ec2:CreateNetworkInterface",
    "ec2:CreateNetworkInterfacePermission",
    "ec2:DeleteNetworkInterface",
    "ec2:DeleteNetworkInterfacePermission",
    "ec2:DescribeNetworkInterfaces",
    "ec2:DescribeVpcs",
    "ec2:DescribeDhcpOptions",
    "ec2:DescribeSubnets",
    "ec2:DescribeSecurityGroups",
)
# The log actions of a SageMaker model or processing job and of a Glue job writing its own log group.
LOG_ACTIONS = ("logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams")


@cache
def table() -> dict:
    return json.loads(TABLE_FILE.read_text())


def unscoped_actions() -> frozenset[str]:
    """Actions AWS authorizes only on Resource "*" (Service Authorization Reference): of the provider's
    calls, and of `mlplatform preflight`'s reads."""
    preflight = {a for a, row in table()["preflight"].items() if set(row["resource_types"]) == {""}}
    return frozenset(table()["unscoped"]) | preflight


def actions_of(types: Iterable[str], operations: Sequence[str] = OPERATIONS) -> set[str]:
    """The actions of these operations on these resource types; a type without a row is an error."""
    rows = table()["types"]
    missing = sorted(set(types) - set(rows))
    if missing:
        raise KeyError(
            f"no provider-actions row for {', '.join(missing)}: add it to pipelines/provider_actions.py "
            "and run `make provider-actions`"
        )
    return {a for t in types for op in operations for a in rows[t][op]}


def platform_types() -> list[str]:
    return sorted(table()["types"])
