"""What the CI roles may do, derived from data rather than written by hand.

``foundation/upstream/provider_actions.json`` lists, per resource type the platform creates, the IAM
actions its create, read, update and delete call (AWS CloudFormation's resource provider schemas,
plus the Terraform provider's extra calls; see pipelines/provider_actions.py). ``ci-preview`` gets
the read actions of every type; ``ci-deploy`` all four, except deletes of stateful types in protected
stacks. Actions are scoped to this environment's resources by service (``_scopes``); the ones AWS
authorizes only on ``*`` (the Service Authorization Reference) get ``*``, EC2's limited to the region.

The deploy boundary (``foundation/iam/boundaries.py``) is their ceiling: the platform's services,
never object data (but the Pulumi state and the online feature store's key use through SageMaker),
no IAM users, no role without a boundary, and nothing that would let CI raise its own permissions.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from foundation.conventions import STATEFUL_TYPES, secrets_alias
from foundation.iam.actions import REGION_SCOPED_SERVICES, actions_of, platform_types, unscoped_actions
from foundation.iam.documents import Statement
from foundation.iam.scope import Scope

# Services whose resources have AWS-generated ids: Resource "*" limited to the stack's region.
REGIONAL_ANY = REGION_SCOPED_SERVICES
# What may be passed to which service (every role the platform creates is passed to one of them).
PASSED_TO = (
    "cloudtrail.amazonaws.com",
    "eks.amazonaws.com",
    "ec2.amazonaws.com",
    "vpc-flow-logs.amazonaws.com",
    "sagemaker.amazonaws.com",
    "codebuild.amazonaws.com",
    "scheduler.amazonaws.com",
)
# Application Auto Scaling creates its SageMaker role on the first RegisterScalableTarget, with the
# principal sagemaker.application-autoscaling.amazonaws.com (Application Auto Scaling guide,
# services-that-can-integrate-sagemaker).
SERVICE_LINKED = ("eks.amazonaws.com", "eks-nodegroup.amazonaws.com", "autoscaling.amazonaws.com",
                  "spot.amazonaws.com", "sagemaker.amazonaws.com",
                  "sagemaker.application-autoscaling.amazonaws.com")  # fmt: skip


def state_bucket_pattern(scope: Scope) -> str:
    """Every state bucket of the environment (conventions.state_bucket_name: the account and region
    follow the prefix)."""
    return f"arn:{scope.partition}:s3:::{scope.prefix}pulumi-state-*"


def secrets_key_alias(scope: Scope) -> str:
    return secrets_alias(scope.environment)


def _scopes(scope: Scope) -> dict[str, list[str]]:
    p, a, r = scope.partition, scope.account_id, scope.region
    return {
        "s3": [scope.buckets],
        "iam": [scope.roles, scope.policies, scope.oidc_provider],
        "kms": [scope.keys],
        "eks": [*scope.cluster, f"arn:{p}:eks::aws:cluster-access-policy/*"],
        "sagemaker": scope.sagemaker,
        "glue": scope.glue,
        "ecr": [scope.repositories],
        "sns": [scope.regional("sns", f"{scope.prefix}*")],
        "sqs": [scope.regional("sqs", f"{scope.prefix}*")],
        "events": [scope.regional("events", f"rule/{scope.prefix}*")],
        "logs": [scope.log_groups, f"{scope.log_groups}:*", scope.eks_log_group, f"{scope.eks_log_group}:*"],
        "cloudtrail": [scope.trails],
        "cloudwatch": [
            scope.regional("cloudwatch", f"alarm:{scope.prefix}*"),
            f"arn:{p}:cloudwatch::{a}:dashboard/{scope.prefix}*",
        ],
        "budgets": [f"arn:{p}:budgets::{a}:budget/{scope.prefix}*"],
        "lambda": [scope.regional("lambda", f"function:{scope.prefix}*")],
        # a parameter /mlplatform-<env>-... is arn:...:parameter/mlplatform-<env>-... (SAR, Systems Manager)
        "ssm": [scope.regional("ssm", f"parameter/{scope.prefix}*")],
        "codebuild": [f"arn:{p}:codebuild:{r}:{a}:project/{scope.prefix}*"],
        # Service Authorization Reference, AWS Chatbot resource type ChatbotConfiguration:
        # arn:${Partition}:chatbot::${Account}:chat-configuration/${ConfigurationType}/${ChatbotConfigurationName}
        "chatbot": [f"arn:{p}:chatbot::{a}:chat-configuration/slack-channel/{scope.prefix}*"],
        # Service Authorization Reference, EventBridge Scheduler: schedule/${GroupName}/${ScheduleName}
        # and schedule-group/${GroupName}.
        "scheduler": [
            scope.regional("scheduler", f"schedule-group/{scope.prefix}*"),
            scope.regional("scheduler", f"schedule/{scope.prefix}*/*"),
        ],
    }


def _statements(scope: Scope, actions: set[str], prefix: str) -> list[Statement]:
    """Statements granting ``actions`` on this environment's resources, one per service."""
    scopes = _scopes(scope)
    unscoped = unscoped_actions()
    special = {"iam:PassRole", "iam:CreateServiceLinkedRole", "kms:CreateKey"}
    aliases = {x for x in actions if x.startswith("kms:") and x.endswith("Alias")}
    by_service: dict[str, set[str]] = {}
    anywhere: set[str] = set()
    for action in sorted(actions - special - aliases):
        service = action.split(":")[0]
        if service in REGIONAL_ANY:
            by_service.setdefault(service, set()).add(action)
        elif action in unscoped:
            anywhere.add(action)
        else:
            if service not in scopes:
                raise KeyError(f"{action}: no resource scope for service {service!r} in foundation/iam/ci.py")
            by_service.setdefault(service, set()).add(action)
    out = []
    for service, acts in sorted(by_service.items()):
        sid = prefix + _service_sid(service)
        if service in REGIONAL_ANY:
            out.append(Statement(sid=sid, actions=sorted(acts), resources=["*"], conditions=scope.in_region))
        elif service == "kms":
            out.append(
                Statement(sid=sid, actions=sorted(acts), resources=scopes["kms"], conditions=scope.this_environment)
            )
        else:
            out.append(Statement(sid=sid, actions=sorted(acts), resources=scopes[service]))
    if aliases:
        out.append(Statement(sid=f"{prefix}KeyAliases", actions=sorted(aliases), resources=[scope.aliases, scope.keys]))
    if anywhere:
        out.append(Statement(sid=f"{prefix}AccountWide", actions=sorted(anywhere), resources=["*"]))
    if "kms:CreateKey" in actions:
        out.append(
            Statement(
                sid=f"{prefix}CreateKeys",
                actions=["kms:CreateKey"],
                resources=["*"],
                conditions={"StringEquals": {"aws:RequestTag/environment": scope.environment}},
            )
        )
    if "iam:PassRole" in actions:
        out.append(
            Statement(
                sid=f"{prefix}PassPlatformRoles",
                actions=["iam:PassRole"],
                resources=[scope.roles],
                conditions={"StringEquals": {"iam:PassedToService": list(PASSED_TO)}},
            )
        )
    if "iam:CreateServiceLinkedRole" in actions:
        out.append(
            Statement(
                sid=f"{prefix}ServiceLinkedRoles",
                actions=["iam:CreateServiceLinkedRole"],
                resources=[f"arn:{scope.partition}:iam::{scope.account_id}:role/aws-service-role/*"],
                conditions={"StringEquals": {"iam:AWSServiceName": list(SERVICE_LINKED)}},
            )
        )
    return out


def _state(scope: Scope, write: bool) -> list[Statement]:
    """The Pulumi state in the bootstrap's bucket, and the stack's secrets key."""
    objects = ["s3:GetObject", "s3:GetObjectVersion"] + (["s3:PutObject", "s3:DeleteObject"] if write else [])
    key = ["kms:Decrypt", "kms:DescribeKey"] + (["kms:Encrypt", "kms:GenerateDataKey"] if write else [])
    return [
        Statement(
            sid="PulumiStateBucket",
            actions=["s3:ListBucket", "s3:GetBucketLocation"],
            resources=[state_bucket_pattern(scope)],
        ),
        Statement(sid="PulumiStateObjects", actions=objects, resources=[f"{state_bucket_pattern(scope)}/*"]),
        Statement(
            sid="PulumiSecretsKey",
            actions=key,
            resources=[scope.keys],
            conditions={"ForAnyValue:StringEquals": {"kms:ResourceAliases": [secrets_key_alias(scope)]}},
        ),
    ]


def preview_statements(scope: Scope, types: Iterable[str] | None = None) -> list[Statement]:
    """Read everything a `pulumi preview --refresh` reads: the read actions of every type."""
    return [*_statements(scope, actions_of(types or platform_types(), ["read"]), "Read"), *_state(scope, write=False)]


# "No permissions are required to perform this operation" (STS API reference, GetCallerIdentity).
NEEDS_NO_PERMISSION = frozenset({"sts:GetCallerIdentity"})


def preflight_statements(scope: Scope, *, with_state: bool = True) -> list[Statement]:
    """Exactly the reads of `mlplatform preflight` (foundation/upstream/account_reads.py), each on the
    resources it reads where IAM authorizes it per resource: the state bucket, the secrets key, the
    GitHub OIDC provider, the account's connections, the Spot service-linked role, EC2's quotas and
    AWS's public parameters (EKS AMIs in the region, global infrastructure where it is queried).
    ``with_state=False`` leaves out the state bucket and secrets key reads, for a role whose Pulumi
    state statements (``_state``) grant them already."""
    from foundation.upstream import account_reads as reads
    from foundation.upstream.account_reads import SPOT_SERVICE_LINKED_ROLE

    p, a, r = scope.partition, scope.account_id, scope.region
    scoped: dict[str, list[str]] = {
        "s3:ListBucket": [state_bucket_pattern(scope)],
        "iam:GetOpenIDConnectProvider": [scope.oidc_provider],
        "iam:GetRole": [f"arn:{p}:iam::{a}:role/aws-service-role/spot.amazonaws.com/{SPOT_SERVICE_LINKED_ROLE}"],
        "codeconnections:GetConnection": [f"arn:{p}:codeconnections:{r}:{a}:connection/*"],
        "codestar-connections:GetConnection": [f"arn:{p}:codestar-connections:{r}:{a}:connection/*"],
        "servicequotas:GetServiceQuota": [f"arn:{p}:servicequotas:{r}:{a}:ec2/*"],
        "ssm:GetParameters": [f"arn:{p}:ssm:{r}::parameter/aws/service/eks/optimized-ami/*"],
        "ssm:GetParametersByPath": [
            f"arn:{p}:ssm:{reads.REGION_SERVICES_QUERIED_IN}::parameter/aws/service/global-infrastructure/*"
        ],
    }
    key = "kms:DescribeKey"
    anywhere = sorted(set(reads.actions()) - set(scoped) - {key} - NEEDS_NO_PERMISSION)
    regional = [x for x in anywhere if x.split(":")[0] in REGIONAL_ANY]  # EC2's offerings: the stack's region
    if not with_state:
        del scoped["s3:ListBucket"]
    return [
        *(
            Statement(sid="Preflight" + _sid(action), actions=[action], resources=arns)
            for action, arns in sorted(scoped.items())
        ),
        *(
            [
                Statement(
                    sid="PreflightSecretsKey",
                    actions=[key],
                    resources=[scope.keys],
                    conditions={"ForAnyValue:StringEquals": {"kms:ResourceAliases": [secrets_key_alias(scope)]}},
                )
            ]
            if with_state
            else []
        ),
        Statement(sid="PreflightRegionReads", actions=regional, resources=["*"], conditions=scope.in_region),
        Statement(sid="PreflightAccountReads", actions=[x for x in anywhere if x not in regional], resources=["*"]),
    ]


def _sid(action: str) -> str:
    service, name = action.split(":")
    return _service_sid(service) + name


def _service_sid(service: str) -> str:
    return "".join(part.capitalize() for part in service.split("-"))


# Calls the provider's handlers include that CI must never make (the deploy boundary denies them too):
# stopping the audit trail, attaching policies to users, removing a role's boundary.
NEVER_FOR_CI = frozenset({"cloudtrail:StopLogging", "iam:AttachUserPolicy", "iam:DeleteRolePermissionsBoundary"})


def deploy_statements(scope: Scope, protect: bool, types: Iterable[str] | None = None) -> list[Statement]:
    """Create, read, update and delete every type; deletes of stateful types only where the stack is
    unprotected (a protected stack refuses to delete them anyway, and CI must not be able to)."""
    types = list(types or platform_types())
    actions = actions_of(types) - NEVER_FOR_CI
    if protect:
        stateful = [t for t in types if t in STATEFUL_TYPES]
        keep = actions_of([t for t in types if t not in STATEFUL_TYPES]) | actions_of(
            stateful, ["create", "read", "update"]
        )
        actions = ((actions - actions_of(stateful, ["delete"])) | keep) - NEVER_FOR_CI
    return [*_statements(scope, actions, "Manage"), *_state(scope, write=True)]


def served_package_statements(packages: Sequence[str], *, describe_only: bool = False) -> list[Statement]:
    """Create models from another account's model packages (the registry's policy admits this account:
    components/model_registry.consumer_policy); ``describe_only``: read their approval status (the
    promotion guard)."""
    if not packages:
        return []
    actions = (
        ["sagemaker:DescribeModelPackage"]
        if describe_only
        else ["sagemaker:CreateModel", "sagemaker:DescribeModelPackage"]
    )
    sid = "ReadServedPackages" if describe_only else "DeployServedPackages"
    return [Statement(sid=sid, actions=actions, resources=list(packages))]
