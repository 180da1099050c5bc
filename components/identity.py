"""The platform's roles: narrow trust, least-privilege grants, and permission boundaries.

Workload roles (training, feature-ingestion, model-publisher, model-approver) get exactly the grants
the access matrix (``infra/access.py``) gives them, written by the components that own the data,
and carry the workload boundary. CI roles are trusted only by GitHub Actions of one repository:
``ci-preview`` reads the platform's configuration, ``ci-deploy`` manages the platform's resources
within the deploy boundary, which stops it from escalating (no unbounded roles, no IAM users, no
tampering with the boundaries or the audit trail).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi

from foundation.conventions import physical_name, stateful_options
from foundation.iam.boundaries import cluster_boundary, deploy_boundary, scheduler_boundary, workload_boundary
from foundation.iam.ci import (
    deploy_statements,
    preflight_statements,
    preview_statements,
    served_package_statements,
)
from foundation.iam.documents import Statement, document
from foundation.iam.github import (
    CI_WORKFLOWS,
    DEPLOY_SESSION_SECONDS,
    GITHUB_OIDC_HOST,
    PREVIEW_SESSION_SECONDS,
    GitHubRepository,
    github_trust,
)
from foundation.iam.roles import policy_chunks
from foundation.iam.scope import Scope
from foundation.iam.trust import mfa_trust, pod_identity_trust, service_trust

POD_ROLES = ("feature-ingestion", "model-publisher")  # plus one training-<team> role per team
WORKLOAD_ROLES = (*POD_ROLES, "model-approver")
CI_ROLES = ("ci-preview", "ci-deploy")


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
                [
                    *deploy_statements(scope, args.protect),
                    *served_package_statements(args.served_packages),
                    # the workflow runs `mlplatform preflight` first; _state grants its state reads
                    *preflight_statements(scope, with_state=False),
                ],
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
