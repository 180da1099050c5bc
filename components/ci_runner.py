"""A GitHub Actions runner inside the stack's VPC, hosted by CodeBuild: the way CI reaches a private
EKS API endpoint without opening it to the internet.

AWS CodeBuild user guide (action-runner.html, sample-github-action-runners-update-labels.html): a
CodeBuild project with a webhook on the WORKFLOW_JOB_QUEUED event runs the queued job of a workflow
whose `runs-on` is `codebuild-<project-name>-${{ github.run_id }}-${{ github.run_attempt }}`; with a
VPC configuration the runner is in the VPC ("choose a private subnet with NAT translation": it still
registers with GitHub). The cluster's security group admits the runner's on 443, nothing else does.
Jobs on it assume the CI roles with GitHub OIDC, as on GitHub-hosted runners.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi

from foundation.conventions import partition_for, physical_name, stateful_options
from foundation.iam.documents import Statement
from foundation.iam.roles import service_role
from foundation.iam.trust import service_trust

# The workflows whose jobs may start a runner (their `name:`), so another workflow of the repository
# cannot get a machine inside the VPC (webhook filter WORKFLOW_NAME, CodeBuild github-webhook docs).
# deploy-stack is the reusable workflow deploy.yml calls: which of the two names a called workflow's
# queued job carries in the webhook (workflow_job.workflow_name) was not verified, so both are admitted.
RUNNER_WORKFLOWS = ("pull-request", "deploy", "deploy-stack", "drift")
# CodeBuild user guide ("Docker images provided by CodeBuild"): standard:7.0 is Ubuntu 22.04, like
# GitHub's own runners, which actions/setup-python supports (not verified on a live runner).
IMAGE = "aws/codebuild/standard:7.0"


def runner_label(project: str) -> str:
    return f"codebuild-{project}-${{{{ github.run_id }}}}-${{{{ github.run_attempt }}}}"


@dataclass(frozen=True)
class CiRunnerArgs:
    environment: str
    account_id: str
    region: str
    github_repository: str
    # An AWS CodeConnections connection to GitHub (the bootstrap creates it; it is authorized once in
    # the console, where it is PENDING until then).
    connection_arn: str
    vpc_id: pulumi.Input[str]
    vpc_cidr: str
    subnet_ids: Sequence[pulumi.Input[str]]
    cluster_security_group_id: pulumi.Input[str]
    logs_key_arn: pulumi.Input[str]
    permissions_boundary: pulumi.Input[str]
    log_retention_days: int = 365
    compute_type: str = "BUILD_GENERAL1_MEDIUM"
    protect: bool = True
    # GitHub user ids whose workflow jobs may start the runner (webhook filter ACTOR_ACCOUNT_ID: "the id
    # property of the sender object in the webhook payload", CodeBuild github-webhook); empty: any job
    # of the repository (right for a private repository, whose forks need read access already).
    actors: Sequence[str] = ()


class CiRunner(pulumi.ComponentResource):
    def __init__(self, name: str, args: CiRunnerArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("mlplatform:ci_runner:CiRunner", name, None, opts)
        import pulumi_aws as aws

        p = partition_for(args.region)
        child = pulumi.ResourceOptions(parent=self)
        self.project_name = physical_name(args.environment, "ci-runner")
        project_arn = f"arn:{p}:codebuild:{args.region}:{args.account_id}:project/{self.project_name}"
        self.label = runner_label(self.project_name)

        self.security_group = aws.ec2.SecurityGroup(
            f"{name}-runner",
            aws.ec2.SecurityGroupArgs(
                vpc_id=args.vpc_id,
                name=self.project_name,
                description="CodeBuild GitHub Actions runner: HTTPS out, DNS in the VPC",
                egress=[
                    aws.ec2.SecurityGroupEgressArgs(
                        protocol="tcp", from_port=443, to_port=443, cidr_blocks=["0.0.0.0/0"], description="HTTPS"
                    ),
                    aws.ec2.SecurityGroupEgressArgs(
                        protocol="udp", from_port=53, to_port=53, cidr_blocks=[args.vpc_cidr], description="DNS"
                    ),
                    aws.ec2.SecurityGroupEgressArgs(
                        protocol="tcp", from_port=53, to_port=53, cidr_blocks=[args.vpc_cidr], description="DNS"
                    ),
                ],
                tags={"Name": self.project_name},
            ),
            opts=child,
        )
        aws.vpc.SecurityGroupIngressRule(
            f"{name}-cluster-api",
            aws.vpc.SecurityGroupIngressRuleArgs(
                security_group_id=args.cluster_security_group_id,
                referenced_security_group_id=self.security_group.id,
                ip_protocol="tcp",
                from_port=443,
                to_port=443,
                description="the CI runner reaches the Kubernetes API",
            ),
            opts=child,
        )
        group_name = f"/mlplatform/{args.environment}/ci-runner"
        group_arn = f"arn:{p}:logs:{args.region}:{args.account_id}:log-group:{group_name}"
        log_group = aws.cloudwatch.LogGroup(
            f"{name}-runner",
            aws.cloudwatch.LogGroupArgs(
                name=group_name, kms_key_id=args.logs_key_arn, retention_in_days=args.log_retention_days
            ),
            opts=stateful_options(self, args.protect),
        )
        role = service_role(
            f"{name}-runner",
            parent=self,
            name=physical_name(args.environment, "ci-runner"),
            description="CodeBuild-hosted GitHub Actions runner of the platform's CI",
            boundary=args.permissions_boundary,
            trust=service_trust(
                "CodeBuild",
                "codebuild.amazonaws.com",
                conditions={
                    "StringEquals": {"aws:SourceAccount": args.account_id},
                    "ArnLike": {"aws:SourceArn": project_arn},
                },
            ),
            policy_name="runner",
            statements=runner_statements(args, group_arn, p),
        )
        self.project = aws.codebuild.Project(
            f"{name}-runner",
            aws.codebuild.ProjectArgs(
                name=self.project_name,
                description="GitHub Actions runner in the VPC: jobs that reach the private cluster API",
                service_role=role.role.arn,
                build_timeout=120,
                source=aws.codebuild.ProjectSourceArgs(
                    type="GITHUB",
                    location=f"https://github.com/{args.github_repository}.git",
                    auth=aws.codebuild.ProjectSourceAuthArgs(type="CODECONNECTIONS", resource=args.connection_arn),
                ),
                artifacts=aws.codebuild.ProjectArtifactsArgs(type="NO_ARTIFACTS"),
                environment=aws.codebuild.ProjectEnvironmentArgs(
                    type="LINUX_CONTAINER",
                    compute_type=args.compute_type,
                    image=IMAGE,
                    image_pull_credentials_type="CODEBUILD",
                ),
                vpc_config=aws.codebuild.ProjectVpcConfigArgs(
                    vpc_id=args.vpc_id,
                    subnets=list(args.subnet_ids),
                    security_group_ids=[self.security_group.id],
                ),
                logs_config=aws.codebuild.ProjectLogsConfigArgs(
                    cloudwatch_logs=aws.codebuild.ProjectLogsConfigCloudwatchLogsArgs(
                        status="ENABLED", group_name=group_name
                    ),
                    s3_logs=aws.codebuild.ProjectLogsConfigS3LogsArgs(status="DISABLED"),
                ),
            ),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[log_group, *role.ready]),
        )
        aws.codebuild.Webhook(
            f"{name}-runner",
            aws.codebuild.WebhookArgs(
                project_name=self.project.name,
                build_type="BUILD",
                filter_groups=[
                    aws.codebuild.WebhookFilterGroupArgs(
                        filters=[
                            aws.codebuild.WebhookFilterGroupFilterArgs(type="EVENT", pattern="WORKFLOW_JOB_QUEUED"),
                            aws.codebuild.WebhookFilterGroupFilterArgs(
                                type="WORKFLOW_NAME", pattern=f"^({'|'.join(RUNNER_WORKFLOWS)})$"
                            ),
                            # CodeBuild webhooks guide: for public repositories, "add ACTOR_ACCOUNT_ID filters
                            # ... to specify which users can trigger a build".
                            *(
                                [
                                    aws.codebuild.WebhookFilterGroupFilterArgs(
                                        type="ACTOR_ACCOUNT_ID", pattern=f"^({'|'.join(args.actors)})$"
                                    )
                                ]
                                if args.actors
                                else []
                            ),
                        ]
                    )
                ],
            ),
            opts=child,
        )
        self.register_outputs({"project": self.project_name, "label": self.label})


def runner_statements(args: CiRunnerArgs, group_arn: str, p: str) -> list[Statement]:
    """The service role of a CodeBuild project in a VPC (CodeBuild user guide, "Allow CodeBuild access
    to AWS services required to create a VPC network interface"), its log group and its connection."""
    subnets = f"arn:{p}:ec2:{args.region}:{args.account_id}:subnet/*"
    return [
        Statement(
            sid="WriteRunnerLogs", actions=["logs:CreateLogStream", "logs:PutLogEvents"], resources=[f"{group_arn}:*"]
        ),
        Statement(
            sid="RunnerNetworkInterfaces",
            actions=[
                "ec2:CreateNetworkInterface",
                "ec2:DescribeDhcpOptions",
                "ec2:DescribeNetworkInterfaces",
                "ec2:DeleteNetworkInterface",
                "ec2:DescribeSubnets",
                "ec2:DescribeSecurityGroups",
                "ec2:DescribeVpcs",
            ],
            resources=["*"],
            conditions={"StringEquals": {"aws:RequestedRegion": args.region}},
        ),
        Statement(
            sid="RunnerInterfacePermission",
            actions=["ec2:CreateNetworkInterfacePermission"],
            resources=[f"arn:{p}:ec2:{args.region}:{args.account_id}:network-interface/*"],
            conditions={
                "StringEquals": {"ec2:AuthorizedService": "codebuild.amazonaws.com"},
                "ArnLike": {"ec2:Subnet": [subnets]},
            },
        ),
        # Connections made by the CodeStar Connections API have codestar-connections ARNs; CodeConnections
        # (its new name) authorizes either prefix: grant both, on this one connection.
        Statement(
            sid="UseGitHubConnection",
            actions=[
                "codeconnections:GetConnectionToken",
                "codeconnections:GetConnection",
                "codestar-connections:GetConnectionToken",
                "codestar-connections:GetConnection",
            ],
            resources=[args.connection_arn],
        ),
    ]
