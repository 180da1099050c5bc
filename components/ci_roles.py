"""What the CI roles may do, derived from data rather than written by hand.

``components/upstream/provider_actions.json`` lists, per resource type the platform creates, the IAM
actions its create, read, update and delete call (AWS CloudFormation's resource provider schemas,
plus the Terraform provider's extra calls; see pipelines/provider_actions.py). ``ci-preview`` gets
the read actions of every type; ``ci-deploy`` all four, except deletes of stateful types in protected
stacks. Actions are scoped to this environment's resources by service (``_SCOPES``); the ones AWS
authorizes only on ``*`` (the Service Authorization Reference) get ``*``, EC2's limited to the region.

The deploy boundary is their ceiling: the platform's services, never object data (but the Pulumi
state and the online feature store's key use through SageMaker), no IAM users, no role without a
boundary, and nothing that would let CI raise its own permissions.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from functools import cache
from pathlib import Path

from components.conventions import STATEFUL_TYPES
from components.documents import Statement
from components.identity import ALLOWED_MANAGED_POLICIES, REGION_SCOPED_SERVICES, Scope

TABLE_FILE = Path(__file__).with_name("upstream") / "provider_actions.json"
OPERATIONS = ("create", "read", "update", "delete")
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


@cache
def table() -> dict:
    return json.loads(TABLE_FILE.read_text())


def unscoped_actions() -> frozenset[str]:
    """Actions AWS authorizes only on Resource "*" (Service Authorization Reference)."""
    return frozenset(table()["unscoped"])


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


def state_bucket_pattern(scope: Scope) -> str:
    """The Pulumi state bucket the bootstrap creates (bootstrap/account.py names it so)."""
    return f"arn:{scope.partition}:s3:::{scope.prefix}pulumi-state-*"


def secrets_alias(scope: Scope) -> str:
    return f"alias/{scope.prefix}pulumi-secrets"


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
                raise KeyError(f"{action}: no resource scope for service {service!r} in components/ci_roles.py")
            by_service.setdefault(service, set()).add(action)
    out = []
    for service, acts in sorted(by_service.items()):
        sid = prefix + "".join(part.capitalize() for part in service.split("-"))
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
            conditions={"ForAnyValue:StringEquals": {"kms:ResourceAliases": [secrets_alias(scope)]}},
        ),
    ]


def preview_statements(scope: Scope, types: Iterable[str] | None = None) -> list[Statement]:
    """Read everything a `pulumi preview --refresh` reads: the read actions of every type."""
    return [*_statements(scope, actions_of(types or platform_types(), ["read"]), "Read"), *_state(scope, write=False)]


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


def deploy_boundary(scope: Scope, protect: bool) -> list[Statement]:
    """Ceiling for the CI roles: the platform's services, minus the ways to escalate or hide.

    Boundaries, the CI roles and their policies can only be changed by an administrator (a laptop
    `pulumi up` as the bootstrap's admin role), so a compromised pipeline cannot lift its own ceiling."""
    p, a = scope.partition, scope.account_id
    boundary_arns = [f"arn:{p}:iam::{a}:policy/{scope.prefix}*-boundary"]
    ci_roles = f"arn:{p}:iam::{a}:role/{scope.prefix}ci-*"
    ci_policies = f"arn:{p}:iam::{a}:policy/{scope.prefix}ci-*"
    services = sorted({x.split(":")[0] for x in actions_of(platform_types())} | {"sts"})
    state = state_bucket_pattern(scope)
    return [
        Statement(sid="PlatformServices", actions=[f"{svc}:*" for svc in services], resources=["*"]),
        Statement(
            sid="NeverReadOrWriteData",
            effect="Deny",
            actions=["s3:GetObject*", "s3:PutObject*", "s3:DeleteObject*"],
            not_resources=[f"{state}/*"],
        ),
        Statement(
            sid="NeverUseDataKeys",
            effect="Deny",
            actions=["kms:Decrypt", "kms:GenerateDataKey*", "kms:ReEncrypt*"],
            resources=["*"],
            # but the Pulumi secrets key, and keys used through SageMaker: CreateFeatureGroup with an
            # online-store key needs kms:Decrypt and GenerateDataKey (botocore sagemaker,
            # OnlineStoreSecurityConfig.KmsKeyId), and SageMaker makes those calls.
            conditions={
                "StringNotLike": {"kms:ViaService": "sagemaker.*.amazonaws.com"},
                "ForAllValues:StringNotEquals": {"kms:ResourceAliases": [secrets_alias(scope)]},
            },
        ),
        Statement(
            sid="NoIamUsers",
            effect="Deny",
            actions=["iam:CreateUser", "iam:CreateAccessKey", "iam:CreateLoginProfile", "iam:AttachUserPolicy"],
            resources=["*"],
        ),
        Statement(
            sid="RolesOnlyWithABoundary",
            effect="Deny",
            actions=["iam:CreateRole", "iam:PutRolePermissionsBoundary"],
            resources=["*"],
            conditions={"StringNotLike": {"iam:PermissionsBoundary": boundary_arns}},
        ),
        Statement(
            sid="KeepRoleBoundaries", effect="Deny", actions=["iam:DeleteRolePermissionsBoundary"], resources=["*"]
        ),
        Statement(
            sid="NoSelfEscalation",
            effect="Deny",
            actions=[
                "iam:PutRolePolicy",
                "iam:DeleteRolePolicy",
                "iam:AttachRolePolicy",
                "iam:DetachRolePolicy",
                "iam:UpdateAssumeRolePolicy",
                "iam:PutRolePermissionsBoundary",
                "iam:UpdateRole",
                "iam:DeleteRole",
                "iam:TagRole",
                "iam:UntagRole",
                "iam:CreatePolicyVersion",
                "iam:DeletePolicyVersion",
                "iam:SetDefaultPolicyVersion",
                "iam:DeletePolicy",
                "iam:TagPolicy",
            ],
            resources=[ci_roles, ci_policies, *boundary_arns],
        ),
        # Inline policies, plus only the AWS managed policies EKS requires: never AdministratorAccess & co.
        Statement(
            sid="OnlyEksManagedPolicies",
            effect="Deny",
            actions=["iam:AttachRolePolicy"],
            resources=["*"],
            conditions={"ArnNotLike": {"iam:PolicyARN": [*ALLOWED_MANAGED_POLICIES, scope.policies]}},
        ),
        Statement(
            sid="KeepAuditTrail",
            effect="Deny",
            actions=["cloudtrail:StopLogging", *(["cloudtrail:DeleteTrail"] if protect else [])],
            resources=["*"],
        ),
    ]
