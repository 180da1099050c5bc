"""The permission boundaries: the most a role of each kind can ever do, whatever it is granted."""

from __future__ import annotations

from foundation.iam.actions import ALLOWED_MANAGED_POLICIES, LOG_ACTIONS, VPC_ACTIONS, actions_of, platform_types
from foundation.iam.ci import secrets_key_alias, state_bucket_pattern
from foundation.iam.documents import Statement
from foundation.iam.scope import Scope
from foundation.upstream.account_reads import actions as preflight_actions
from foundation.upstream.serving import DQ_ASSETS_BUCKET, DQ_LOG_GROUPS


def workload_boundary(scope: Scope, served_models: tuple[str, str] | None = None) -> list[Statement]:
    """The most any workload role can ever do, whatever grant it is given later: data-plane use
    of this environment's data, never IAM, key administration or bucket configuration."""
    logs = scope.regional("logs", "log-group:")
    extra = [
        # The log groups AWS services write for the platform's endpoints, monitoring jobs and
        # data-quality runs (their names are the services', not the platform's).
        Statement(
            sid="ServiceLogsOfThisEnvironment",
            actions=list(LOG_ACTIONS),
            resources=[
                f"{logs}/aws/sagemaker/Endpoints/{scope.prefix}*",
                f"{logs}/aws/sagemaker/ProcessingJobs*",
                *(f"{logs}{g}*" for g in DQ_LOG_GROUPS),
                f"{logs}/aws/lambda/{scope.prefix}*",  # the drift jobs (functions/drift)
            ],
        ),
        Statement(
            sid="NetworkInterfacesInThisRegion",
            actions=list(VPC_ACTIONS),
            resources=["*"],
            conditions=scope.in_region,
        ),
        Statement(
            sid="GlueDataQualityLibraries",
            actions=["s3:GetObject"],
            resources=[f"arn:{scope.partition}:s3:::{DQ_ASSETS_BUCKET.format(region=scope.region)}/*"],
        ),
    ]
    if served_models:
        bucket, account = served_models
        extra += [
            Statement(
                sid="ServedModelsOfTheRegistry",
                actions=["s3:GetObject"],
                resources=[f"arn:{scope.partition}:s3:::{bucket}/models/*"],
            ),
            Statement(
                sid="ServedModelsKeys",
                actions=["kms:Decrypt"],
                resources=[f"arn:{scope.partition}:kms:{scope.region}:{account}:key/*"],
                conditions={"StringEquals": {"kms:ViaService": f"s3.{scope.region}.amazonaws.com"}},
            ),
        ]
    return [
        *extra,
        Statement(
            sid="DataPlaneOfThisEnvironment",
            actions=[
                "s3:GetObject",
                "s3:GetObjectVersion",
                "s3:PutObject",
                "s3:PutObjectAcl",
                "s3:AbortMultipartUpload",
                "s3:ListMultipartUploadParts",
                "s3:ListBucket",
                "s3:GetBucketAcl",
                "s3:GetBucketLocation",
            ],
            resources=[scope.buckets],
        ),
        Statement(
            sid="KeysOfThisEnvironment",
            actions=["kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey"],
            resources=[scope.keys],
            conditions=scope.this_environment,
        ),
        Statement(
            sid="WriteOwnLogs",
            actions=["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
            resources=[f"{scope.log_groups}"],
        ),
        Statement(sid="FindLogGroups", actions=["logs:DescribeLogGroups"], resources=["*"]),
        Statement(
            sid="QueuesOfThisEnvironment",
            actions=[
                "sqs:ReceiveMessage",
                "sqs:DeleteMessage",
                "sqs:ChangeMessageVisibility",
                "sqs:GetQueueAttributes",
            ],
            resources=[scope.regional("sqs", f"{scope.prefix}*")],
        ),
        Statement(
            sid="MlServices",
            actions=[
                "sagemaker:*",
                "sagemaker-mlflow:*",
                "ecr:*",
                "glue:*",
                "cloudwatch:PutMetricData",
                "cloudwatch:DescribeAlarms",
                "cloudwatch:DescribeAlarmHistory",
                "sns:Publish",
            ],
            resources=["*"],
        ),
        Statement(
            sid="NeverAdminister",
            effect="Deny",
            actions=["iam:*", "organizations:*", "account:*", "kms:ScheduleKeyDeletion", "kms:PutKeyPolicy"],
            resources=["*"],
        ),
    ]


def scheduler_boundary(scope: Scope) -> list[Statement]:
    """Ceiling for the schedules' roles: start this environment's data-quality evaluations, passing
    this environment's data-quality roles to Glue, and its drift jobs; send what fails to its
    dead-letter queues and read the schedules' encrypted payloads, with its keys through SQS and
    Scheduler only (components/scheduling.py); nothing else."""
    through = [f"{service}.{scope.region}.amazonaws.com" for service in ("sqs", "scheduler")]
    return [
        Statement(
            sid="StartDriftJobs",
            actions=["lambda:InvokeFunction"],
            resources=[scope.regional("lambda", f"function:{scope.prefix}drift-*")],
        ),
        Statement(
            sid="DeadLetterQueues",
            actions=["sqs:SendMessage"],
            resources=[scope.regional("sqs", f"{scope.prefix}*-dlq")],
        ),
        Statement(
            sid="KeysThroughQueuesAndScheduler",
            actions=["kms:GenerateDataKey", "kms:Decrypt"],
            resources=[scope.keys],
            conditions={"StringEquals": {**scope.this_environment["StringEquals"], "kms:ViaService": through}},
        ),
        Statement(
            sid="StartDataQualityRuns",
            actions=["glue:StartDataQualityRulesetEvaluationRun"],
            resources=[scope.regional("glue", f"dataQualityRuleset/{scope.prefix}*")],
        ),
        Statement(
            sid="PassDataQualityRolesToGlue",
            actions=["iam:PassRole"],
            resources=[f"arn:{scope.partition}:iam::{scope.account_id}:role/{scope.prefix}data-quality-*"],
            conditions={"StringEquals": {"iam:PassedToService": "glue.amazonaws.com"}},
        ),
    ]


def cluster_boundary(scope: Scope) -> list[Statement]:
    """Ceiling for the cluster's infrastructure roles: run EC2 capacity and the EKS control plane,
    never administer identities, keys or the audit trail."""
    return [
        Statement(
            sid="ClusterInfrastructure",
            actions=[
                "ec2:*",
                "eks:*",
                # The Pod Identity agent's call, with the node role (AmazonEKSWorkerNodePolicy).
                "eks-auth:AssumeRoleForPodIdentity",
                "autoscaling:*",
                "elasticloadbalancing:*",
                "ssm:GetParameter",
                "pricing:GetProducts",
                "sqs:DeleteMessage",
                "sqs:GetQueueUrl",
                "sqs:ReceiveMessage",
                # Image pulls: what AmazonEC2ContainerRegistryReadOnly and ...PullOnly grant.
                "ecr:GetAuthorizationToken",
                "ecr:BatchGetImage",
                "ecr:GetDownloadUrlForLayer",
                "ecr:BatchCheckLayerAvailability",
                "ecr:BatchImportUpstreamImage",
                "ecr:Describe*",
                "ecr:List*",
                "ecr:GetRepositoryPolicy",
                "ecr:GetLifecyclePolicy*",
                "logs:CreateLogStream",
                "logs:PutLogEvents",
                # The CI runner's CodeBuild project reads its GitHub connection (components/ci_runner.py).
                "codeconnections:GetConnectionToken",
                "codeconnections:GetConnection",
                "codestar-connections:GetConnectionToken",
                "codestar-connections:GetConnection",
            ],
            resources=["*"],
        ),
        Statement(
            sid="KeysOfThisEnvironment",
            actions=[
                "kms:Encrypt",
                "kms:Decrypt",
                "kms:ReEncrypt*",
                "kms:GenerateDataKey*",
                "kms:DescribeKey",
                "kms:CreateGrant",
                "kms:ListGrants",
                "kms:RevokeGrant",
            ],
            resources=[scope.keys],
            conditions=scope.this_environment,
        ),
        Statement(
            sid="NodeRolesAndInstanceProfiles",
            actions=[
                "iam:PassRole",
                "iam:GetInstanceProfile",
                "iam:ListInstanceProfiles",
                "iam:CreateInstanceProfile",
                "iam:TagInstanceProfile",
                "iam:AddRoleToInstanceProfile",
                "iam:RemoveRoleFromInstanceProfile",
                "iam:DeleteInstanceProfile",
                "iam:CreateServiceLinkedRole",
            ],
            resources=["*"],
        ),
        Statement(
            sid="NeverAdminister",
            effect="Deny",
            actions=[
                "iam:CreateRole",
                "iam:PutRolePolicy",
                "iam:AttachRolePolicy",
                "iam:CreatePolicy*",
                "iam:CreateUser",
                "iam:CreateAccessKey",
                "organizations:*",
                "account:*",
                "kms:ScheduleKeyDeletion",
                "kms:PutKeyPolicy",
                "cloudtrail:StopLogging",
                "cloudtrail:DeleteTrail",
            ],
            resources=["*"],
        ),
    ]


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
        # `mlplatform preflight` in the deploy workflow: its reads, not the services around them.
        *(
            [Statement(sid="PreflightReads", actions=preflight_only, resources=["*"])]
            if (preflight_only := [a for a in preflight_actions() if a.split(":")[0] not in services])
            else []
        ),
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
            # but the Pulumi secrets key, and keys used through SageMaker or Scheduler: CreateFeatureGroup
            # with an online-store key needs kms:Decrypt and GenerateDataKey (botocore sagemaker,
            # OnlineStoreSecurityConfig.KmsKeyId); CreateSchedule with KmsKeyArn needs the creator's
            # kms:GenerateDataKey and kms:Decrypt (foundation/upstream/serving.py). The services make the calls.
            conditions={
                "StringNotLike": {"kms:ViaService": ["sagemaker.*.amazonaws.com", "scheduler.*.amazonaws.com"]},
                "ForAllValues:StringNotEquals": {"kms:ResourceAliases": [secrets_key_alias(scope)]},
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
