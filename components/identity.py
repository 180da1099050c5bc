"""The platform's roles: narrow trust, least-privilege grants, and permission boundaries.

Workload roles (training, feature-ingestion, model-publisher, model-approver) get exactly the grants
the access matrix (``infra/access.py``) gives them, written by the components that own the data,
and carry the workload boundary. CI roles are trusted only by GitHub Actions of one repository:
``ci-preview`` reads the platform's configuration, ``ci-deploy`` manages the platform's resources
within the deploy boundary, which stops it from escalating (no unbounded roles, no IAM users, no
tampering with the boundaries or the audit trail).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import pulumi

from components.conventions import partition_for, physical_name, stateful_options
from components.documents import Statement, document

POD_ROLES = ("feature-ingestion", "model-publisher")  # plus one training-<team> role per team
WORKLOAD_ROLES = (*POD_ROLES, "model-approver")
CI_ROLES = ("ci-preview", "ci-deploy")
GITHUB_OIDC_HOST = "token.actions.githubusercontent.com"
# The workflow files the CI roles trust (.github/workflows/): the deploy job is the reusable
# deploy-stack.yml that deploy.yml calls.
CI_WORKFLOWS = {
    "deploy": "deploy-stack.yml",
    "preview": "pull-request.yml",
    "drift": "drift.yml",
    "promote": "promote.yml",
}
# Role sessions as long as the longest run each role does (a first deploy of a stack takes 25-40
# minutes, an update with endpoint replacements longer); configure-aws-credentials asks for this.
DEPLOY_SESSION_SECONDS = 3 * 3600
PREVIEW_SESSION_SECONDS = 3600

# Actions that AWS authorizes only on Resource "*" (they act on no existing resource, or list
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
    "(AllowUnscopedInstanceProfileListAction, components/upstream/karpenter.py)",
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


@dataclass(frozen=True)
class Scope:
    """ARN patterns that cover exactly one environment's resources (all named mlplatform-<env>-...)."""

    environment: str
    account_id: str
    region: str

    @property
    def partition(self) -> str:
        return partition_for(self.region)

    @property
    def prefix(self) -> str:
        return f"mlplatform-{self.environment}-"

    @property
    def buckets(self) -> str:
        return f"arn:{self.partition}:s3:::{self.prefix}*"

    @property
    def roles(self) -> str:
        return f"arn:{self.partition}:iam::{self.account_id}:role/{self.prefix}*"

    @property
    def policies(self) -> str:
        return f"arn:{self.partition}:iam::{self.account_id}:policy/{self.prefix}*"

    @property
    def oidc_provider(self) -> str:
        return f"arn:{self.partition}:iam::{self.account_id}:oidc-provider/{GITHUB_OIDC_HOST}"

    @property
    def keys(self) -> str:
        return f"arn:{self.partition}:kms:{self.region}:{self.account_id}:key/*"

    @property
    def aliases(self) -> str:
        return f"arn:{self.partition}:kms:{self.region}:{self.account_id}:alias/{self.prefix}*"

    @property
    def trails(self) -> str:
        return f"arn:{self.partition}:cloudtrail:{self.region}:{self.account_id}:trail/{self.prefix}*"

    @property
    def log_groups(self) -> str:
        return f"arn:{self.partition}:logs:{self.region}:{self.account_id}:log-group:/mlplatform/{self.environment}/*"

    @property
    def eks_log_group(self) -> str:
        return f"arn:{self.partition}:logs:{self.region}:{self.account_id}:log-group:/aws/eks/{self.prefix}*"

    def regional(self, service: str, resource: str) -> str:
        return f"arn:{self.partition}:{service}:{self.region}:{self.account_id}:{resource}"

    @property
    def sagemaker(self) -> list[str]:
        """Feature groups, model package groups (and their packages), MLflow servers of this environment."""
        return [
            self.regional("sagemaker", f"*/{self.prefix}*"),
            self.regional("sagemaker", f"model-package/{self.prefix}*/*"),
        ]

    @property
    def glue(self) -> list[str]:
        db = f"mlplatform_{self.environment}_*"
        return [
            self.regional("glue", "catalog"),
            self.regional("glue", f"database/{db}"),
            self.regional("glue", f"table/{db}/*"),
            self.regional("glue", f"dataQualityRuleset/{self.prefix}*"),
        ]

    @property
    def messaging(self) -> list[str]:
        return [
            self.regional("sns", f"{self.prefix}*"),
            self.regional("sqs", f"{self.prefix}*"),
            self.regional("events", f"rule/{self.prefix}*"),
        ]

    @property
    def repositories(self) -> str:
        return self.regional("ecr", f"repository/mlplatform-{self.environment}/*")

    @property
    def cluster(self) -> list[str]:
        """The training cluster and its node groups, add-ons, access entries and associations."""
        name = f"{self.prefix}training"
        return [self.regional("eks", f"cluster/{name}"), self.regional("eks", f"*/{name}/*")]

    @property
    def in_region(self) -> dict[str, dict[str, str]]:
        return {"StringEquals": {"aws:RequestedRegion": self.region}}

    @property
    def this_environment(self) -> dict[str, dict[str, str]]:
        """Condition: the resource carries this environment's tag (set by the provider's default tags)."""
        return {"StringEquals": {"aws:ResourceTag/environment": self.environment}}


@dataclass(frozen=True)
class BoundariesArgs:
    environment: str
    account_id: str
    region: str
    protect: bool = True
    # Another stack's artifacts bucket and account whose model artifacts this stack serves
    # (serving.registryStack); None when the stack serves from its own registry.
    served_models: tuple[str, str] | None = None  # (bucket name, account id)


class Boundaries(pulumi.ComponentResource):
    """The permission boundaries, created first so that every role of every component can carry one:
    ``workload`` for workload and service roles, ``cluster`` for the cluster's infrastructure roles,
    ``deploy`` for the CI roles, ``scheduler`` for the role EventBridge Scheduler starts data-quality
    runs with (the only workload-side role that passes a role)."""

    def __init__(self, name: str, args: BoundariesArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("mlplatform:identity:Boundaries", name, None, opts)
        import pulumi_aws as aws

        from components.ci_roles import deploy_boundary

        scope = Scope(args.environment, args.account_id, args.region)
        self.workload = aws.iam.Policy(
            f"{name}-workload",
            aws.iam.PolicyArgs(
                name=physical_name(args.environment, "workload-boundary"),
                description="Ceiling for every mlplatform workload and service role",
                policy=document(workload_boundary(scope, args.served_models)),
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.scheduler = aws.iam.Policy(
            f"{name}-scheduler",
            aws.iam.PolicyArgs(
                name=physical_name(args.environment, "scheduler-boundary"),
                description="Ceiling for the scheduler's role: start data-quality runs with the datasets' Glue roles",
                policy=document(scheduler_boundary(scope)),
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.deploy = aws.iam.Policy(
            f"{name}-deploy",
            aws.iam.PolicyArgs(
                name=physical_name(args.environment, "deploy-boundary"),
                description="Ceiling for the mlplatform CI roles",
                policy=document(deploy_boundary(scope, args.protect)),
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.cluster = aws.iam.Policy(
            f"{name}-cluster",
            aws.iam.PolicyArgs(
                name=physical_name(args.environment, "cluster-boundary"),
                description="Ceiling for the training cluster's infrastructure roles (EKS, nodes, Karpenter)",
                policy=document(cluster_boundary(scope)),
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.cluster_arn: pulumi.Output[str] = self.cluster.arn
        self.workload_arn: pulumi.Output[str] = self.workload.arn
        self.deploy_arn: pulumi.Output[str] = self.deploy.arn
        self.scheduler_arn: pulumi.Output[str] = self.scheduler.arn
        self.register_outputs(
            {
                "workload": self.workload_arn,
                "deploy": self.deploy_arn,
                "cluster": self.cluster_arn,
                "scheduler": self.scheduler_arn,
            }
        )


@dataclass(frozen=True)
class IdentityArgs:
    environment: str
    account_id: str
    region: str
    workload_boundary_arn: pulumi.Input[str]
    deploy_boundary_arn: pulumi.Input[str]
    # Training teams: each gets its own training-<team> role, so teams cannot touch each other's runs.
    teams: Sequence[str] = ()
    # Workload role -> its identity-policy statements, from the access matrix.
    grants: Mapping[str, Sequence[Statement]] = field(default_factory=dict)
    # Roles AWS services assume for the platform (role -> service principal): serving-<endpoint> and
    # model-monitor-<endpoint> (SageMaker), data-quality-<dataset> (Glue).
    service_roles: Mapping[str, str] = field(default_factory=dict)
    # Model packages of another account's registry this stack deploys (serving.registryStack): CI
    # creates models from them.
    served_packages: Sequence[str] = ()
    # Principals that may assume model-approver (with MFA); empty means the account's principals.
    approver_principals: Sequence[str] = ()
    # The GitHub repository whose workflows CI runs; None creates no CI roles.
    github_repository: GitHubRepository | None = None
    # The GitHub environment deploy jobs run in (None: deploy jobs name none).
    deploy_environment: str | None = None
    # The GitHub environment pull-request previews of this stack run in.
    preview_environment: str = "preview"
    # The branch deploys, promotions and the nightly drift check run from.
    deploy_branch: str = "main"
    # None creates the account's GitHub OIDC provider; an ARN references an existing one.
    oidc_provider_arn: str | None = None
    protect: bool = True

    @property
    def workload_roles(self) -> tuple[str, ...]:
        return (*(f"training-{t}" for t in self.teams), *WORKLOAD_ROLES, *self.service_roles)

    def __post_init__(self) -> None:
        unknown = sorted(set(self.grants) - set(self.workload_roles))
        if unknown:
            raise ValueError(f"grants for unknown roles {unknown}; roles: {', '.join(self.workload_roles)}")


class Identity(pulumi.ComponentResource):
    """The platform's IAM roles and (optionally) the GitHub OIDC provider."""

    def __init__(self, name: str, args: IdentityArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("mlplatform:identity:Identity", name, None, opts)
        import pulumi_aws as aws

        from components.ci_roles import deploy_statements, preview_statements

        self.component_name = name
        self.scope = scope = Scope(args.environment, args.account_id, args.region)
        self.roles: dict[str, pulumi.Resource] = {}
        self.role_arns: dict[str, str] = {}

        for role in args.workload_roles:
            if role in args.service_roles:
                # Pinned to this account: the service acts for this account's resources only.
                trust = document([service_trust("Service", args.service_roles[role], account_id=args.account_id)])
            elif role == "model-approver":
                trust = mfa_trust(args.approver_principals or [f"arn:{scope.partition}:iam::{args.account_id}:root"])
            elif role.startswith("training-"):
                # The team's namespace and its trainer service account (cluster_addons binds them).
                trust = pod_identity_trust(scope, role.removeprefix("training-"), "trainer")
            else:
                trust = pod_identity_trust(scope)
            self._role(role, trust, args.grants.get(role, ()), args.workload_boundary_arn, max_session=3600)

        self.oidc_provider_arn: pulumi.Input[str] | None = None
        if args.github_repository:
            if args.oidc_provider_arn:
                self.oidc_provider_arn = args.oidc_provider_arn
            else:
                provider = aws.iam.OpenIdConnectProvider(
                    f"{name}-github",
                    aws.iam.OpenIdConnectProviderArgs(
                        url=f"https://{GITHUB_OIDC_HOST}", client_id_lists=["sts.amazonaws.com"]
                    ),
                    opts=stateful_options(self, args.protect),
                )
                self.oidc_provider_arn = provider.arn
            repo, branch = args.github_repository, f"refs/heads/{args.deploy_branch}"
            on_branch = {"context": f"ref:{branch}", "ref": branch}
            self._role(
                "ci-preview",
                # The pull-request workflow's previews (in the stack's preview environment), and the
                # nightly drift check and promotions of the deploy branch.
                github_trust(
                    self.oidc_provider_arn,
                    [repo.subject(**on_branch, workflow=w) for w in (CI_WORKFLOWS["drift"], CI_WORKFLOWS["promote"])],
                    [
                        repo.subject(
                            context=f"environment:{args.preview_environment}",
                            ref="refs/pull/*/merge",
                            workflow=CI_WORKFLOWS["preview"],
                        )
                    ],
                ),
                [*preview_statements(scope), *served_package_statements(args.served_packages, describe_only=True)],
                args.deploy_boundary_arn,
                max_session=PREVIEW_SESSION_SECONDS,
            )
            deploy_context = f"environment:{args.deploy_environment}" if args.deploy_environment else f"ref:{branch}"
            self._role(
                "ci-deploy",
                # Only the deploy workflow's stack job, on the deploy branch, in the stack's environment.
                github_trust(
                    self.oidc_provider_arn,
                    [repo.subject(context=deploy_context, ref=branch, workflow=CI_WORKFLOWS["deploy"])],
                ),
                [*deploy_statements(scope, args.protect), *served_package_statements(args.served_packages)],
                args.deploy_boundary_arn,
                max_session=DEPLOY_SESSION_SECONDS,
            )
        self.register_outputs({"roleArns": self.role_arns})

    def _role(
        self,
        role: str,
        trust: pulumi.Output[str],
        statements: Sequence[Statement],
        boundary: pulumi.Input[str] | None,
        max_session: int,
    ) -> None:
        import pulumi_aws as aws

        name = physical_name(self.scope.environment, role)
        res = aws.iam.Role(
            f"{self.component_name}-{role}",
            aws.iam.RoleArgs(
                name=name,
                assume_role_policy=trust,
                permissions_boundary=boundary,
                max_session_duration=max_session,
                description=f"mlplatform {self.scope.environment} {role}",
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        chunks = policy_chunks(list(statements))
        if len(chunks) == 1:
            aws.iam.RolePolicy(
                f"{self.component_name}-{role}",
                aws.iam.RolePolicyArgs(role=res.id, name="access", policy=document(chunks[0])),
                opts=pulumi.ResourceOptions(parent=self),
            )
        for i, chunk in enumerate(chunks if len(chunks) > 1 else []):
            # Too large for an inline policy (10,240 characters per role): managed policies of 6,144.
            managed = aws.iam.Policy(
                f"{self.component_name}-{role}-{i + 1}",
                aws.iam.PolicyArgs(name=f"{name}-{i + 1}", policy=document(chunk)),
                opts=pulumi.ResourceOptions(parent=self),
            )
            aws.iam.RolePolicyAttachment(
                f"{self.component_name}-{role}-{i + 1}",
                aws.iam.RolePolicyAttachmentArgs(role=res.name, policy_arn=managed.arn),
                opts=pulumi.ResourceOptions(parent=self),
            )
        self.roles[role] = res
        self.role_arns[role] = f"arn:{self.scope.partition}:iam::{self.scope.account_id}:role/{name}"


INLINE_LIMIT, MANAGED_LIMIT = 10_240, 6_144  # characters, whitespace excluded (IAM quotas)


def policy_chunks(statements: list[Statement]) -> list[list[Statement]]:
    """One inline policy when it fits, else chunks that each fit a managed policy. Sizes are
    estimated with 128 characters for a value not known yet (an ARN); tests check the real ones."""
    if not statements:
        return []

    def size(st: Statement) -> int:
        return len(json.dumps(st.render(), separators=(",", ":"), default=lambda _: "x" * 128)) + 1

    overhead = len('{"Version":"2012-10-17","Statement":[]}')
    if overhead + sum(size(s) for s in statements) <= INLINE_LIMIT * 0.9:
        return [statements]
    chunks: list[list[Statement]] = [[]]
    used = overhead
    for st in statements:
        if chunks[-1] and used + size(st) > MANAGED_LIMIT * 0.9:
            chunks.append([])
            used = overhead
        chunks[-1].append(st)
        used += size(st)
    return chunks


# --- trust policies -----------------------------------------------------------------------------


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


def cluster_arn(scope: Scope) -> str:
    """The training cluster of an environment (its name is fixed: mlplatform-<env>-training)."""
    return scope.regional("eks", f"cluster/{scope.prefix}training")


def pod_identity_statement(scope: Scope, namespace: str | None = None, service_account: str | None = None) -> Statement:
    """EKS Pod Identity: only the pods service, only for this environment's cluster and, where the
    pods are known, one namespace and service account.

    The conditions are the session tags EKS sends (user guide, pod-id-role: "eks-cluster-arn, ...,
    kubernetes-namespace, kubernetes-service-account"); aws:SourceArn is not documented for this
    principal, so a condition on it could deny every pod."""
    tags = {"aws:RequestTag/eks-cluster-arn": cluster_arn(scope)}
    if namespace:
        tags["aws:RequestTag/kubernetes-namespace"] = namespace
    if service_account:
        tags["aws:RequestTag/kubernetes-service-account"] = service_account
    return Statement(
        sid="EksPodIdentity",
        principals={"Service": "pods.eks.amazonaws.com"},
        actions=["sts:AssumeRole", "sts:TagSession"],
        conditions={"StringEquals": tags},
    )


def pod_identity_trust(scope: Scope, namespace: str | None = None, service_account: str | None = None):
    return document([pod_identity_statement(scope, namespace, service_account)])


def mfa_trust(principals: Sequence[str]) -> pulumi.Output[str]:
    """Named principals, only with MFA and a recent sign-in."""
    return document(
        [
            Statement(
                sid="ApproversWithMfa",
                principals={"AWS": list(principals)},
                actions=["sts:AssumeRole"],
                conditions={
                    "Bool": {"aws:MultiFactorAuthPresent": "true"},
                    "NumericLessThan": {"aws:MultiFactorAuthAge": "3600"},
                },
            )
        ]
    )


# The repository's OIDC subject template (GitHub REST API PUT /repos/{owner}/{repo}/actions/oidc/
# customization/sub, include_claim_keys; docs/ci.md sets it): the subject then names the job's
# environment or trigger ("context"), the ref the run is for, and the workflow file the job runs, so a
# role can trust one workflow file on one branch, not any job that names an environment.
SUBJECT_CLAIMS = ("repo", "context", "ref", "job_workflow_ref")


@dataclass(frozen=True)
class GitHubRepository:
    """owner/name, and its owner and repository ids when GitHub issues immutable subjects (repositories
    created, renamed or transferred after 2026-07-15, or opted in: ``repo:OWNER@ID/REPO@ID``)."""

    name: str
    owner_id: str | None = None
    repository_id: str | None = None

    @property
    def subject_repo(self) -> str:
        if self.owner_id and self.repository_id:
            owner, repo = self.name.split("/")
            return f"{owner}@{self.owner_id}/{repo}@{self.repository_id}"
        return self.name

    def subject(self, *, context: str, ref: str, workflow: str, workflow_ref: str | None = None) -> str:
        """The OIDC subject GitHub issues, under SUBJECT_CLAIMS, to a job of ``workflow`` (a file of
        .github/workflows) running for ``ref``: context is ``environment:<name>``, ``pull_request`` or
        ``ref:<ref>``; the workflow's own ref is the run's unless it is a reusable one called elsewhere."""
        job_workflow_ref = f"{self.name}/.github/workflows/{workflow}@{workflow_ref or ref}"
        return f"repo:{self.subject_repo}:{context}:ref:{ref}:job_workflow_ref:{job_workflow_ref}"


def github_trust(
    provider_arn: pulumi.Input[str], subjects: Sequence[str], patterns: Sequence[str] = ()
) -> pulumi.Output[str]:
    """GitHub Actions of one repository: exact OIDC subjects, and ``patterns`` (StringLike) where a
    part is the run's own (a pull request's number)."""
    aud = {f"{GITHUB_OIDC_HOST}:aud": "sts.amazonaws.com"}
    sub = f"{GITHUB_OIDC_HOST}:sub"
    blocks = [
        ("GitHubActions", subjects, {"StringEquals": {**aud, sub: list(subjects)}}),
        ("GitHubPullRequests", patterns, {"StringEquals": aud, "StringLike": {sub: list(patterns)}}),
    ]
    statements = [
        Statement(
            sid=sid,
            principals={"Federated": provider_arn},
            actions=["sts:AssumeRoleWithWebIdentity"],
            conditions=conditions,
        )
        for sid, listed, conditions in blocks
        if listed
    ]
    return document(statements)


# --- boundaries and CI policies -----------------------------------------------------------------


def workload_boundary(scope: Scope, served_models: tuple[str, str] | None = None) -> list[Statement]:
    """The most any workload role can ever do, whatever grant it is given later: data-plane use
    of this environment's data, never IAM, key administration or bucket configuration."""
    from components.serving import LOG_ACTIONS, VPC_ACTIONS
    from components.upstream.serving import DQ_ASSETS_BUCKET, DQ_LOG_GROUPS

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
    """Ceiling for the scheduler's role: start this environment's data-quality evaluations, passing
    this environment's data-quality roles to Glue, nothing else."""
    return [
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


# --- service roles of the components ------------------------------------------------------------


def service_trust(
    sid: str,
    service: str | list[str],
    *,
    account_id: str | None = None,
    actions: Sequence[str] = ("sts:AssumeRole",),
    conditions: Mapping[str, Mapping[str, object]] | None = None,
) -> Statement:
    """Trust of an AWS service, pinned to this account (aws:SourceAccount) unless other conditions
    are given; EC2 instance roles take no condition (EC2 sets no source context)."""
    if conditions is None:
        conditions = {"StringEquals": {"aws:SourceAccount": account_id}} if account_id else {}
    return Statement(sid=sid, principals={"Service": service}, actions=list(actions), conditions=conditions)


class ServiceRole(NamedTuple):
    role: Any
    policy: Any  # the inline policy, or None
    attachments: list  # the managed-policy attachments

    @property
    def ready(self) -> list:
        """What must exist before the role is used: its policies. EKS, for one, must not get a
        cluster or node role before its policies are attached (pulumi-aws eks.Cluster docs)."""
        return [r for r in (self.policy, *self.attachments) if r is not None]


def service_role(
    resource_name: str,
    *,
    parent: pulumi.Resource,
    name: str,
    trust: Statement,
    boundary: pulumi.Input[str] | None,
    statements: Sequence[Statement] = (),
    policy_name: str = "access",
    managed: Sequence[str] = (),
    description: str | None = None,
    aliases: Sequence[pulumi.Alias] = (),
) -> ServiceRole:
    """A role a component's service or controller assumes: one trust statement, a permission
    boundary, an inline policy and the AWS managed policies it needs. ``aliases`` apply to each of
    its resources (where a role moved from another component)."""
    import pulumi_aws as aws

    child = pulumi.ResourceOptions(parent=parent, aliases=list(aliases) or None)
    role = aws.iam.Role(
        resource_name,
        aws.iam.RoleArgs(
            name=name,
            description=description,
            permissions_boundary=boundary,
            assume_role_policy=document([trust]),
        ),
        opts=child,
    )
    attachments = [
        aws.iam.RolePolicyAttachment(
            f"{resource_name}-{arn.rsplit('/', 1)[-1]}",
            aws.iam.RolePolicyAttachmentArgs(role=role.name, policy_arn=arn),
            opts=child,
        )
        for arn in managed
    ]
    policy = None
    if statements:
        policy = aws.iam.RolePolicy(
            resource_name,
            aws.iam.RolePolicyArgs(role=role.id, name=policy_name, policy=document(list(statements))),
            opts=child,
        )
    return ServiceRole(role, policy, attachments)
