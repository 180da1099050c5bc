"""The model registry: versioned model packages, container images, and the approval flow.

A SageMaker model package group per model family (optionally shared, read-only, with named
accounts), ECR repositories for training and inference images, and an EventBridge rule that turns
"package approved / rejected" into a message on an encrypted SNS topic (people, chat) and an
encrypted SQS queue with a dead-letter queue (the deployment pipeline).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field

import pulumi

from foundation.conventions import partition_for, physical_name, stateful_options
from foundation.iam.documents import Statement, document

IMAGE_REPOSITORIES = ("training", "inference")
# Creating or updating a model package with status Approved is the approver's decision only.
NOT_APPROVED = {"StringNotEqualsIfExists": {"sagemaker:ModelApprovalStatus": "Approved"}}
DECISIONS = ("Approved", "Rejected")


@dataclass(frozen=True)
class ModelRegistryArgs:
    environment: str
    account_id: str
    region: str
    models_key_arn: pulumi.Input[str]
    families: Sequence[str] = field(default_factory=tuple)
    # Accounts that may describe and deploy this registry's packages; nothing more.
    consumer_accounts: Sequence[str] = ()
    keep_tagged_images: int = 20
    untagged_image_expiry_days: int = 7
    protect: bool = True
    # Named opt-out for disposable stacks: `pulumi destroy` deletes repositories with their images.
    force_delete_images: bool = False

    def __post_init__(self) -> None:
        if self.keep_tagged_images < 1:
            raise ValueError("keep_tagged_images must be at least 1")
        if self.account_id in self.consumer_accounts:
            raise ValueError("consumer_accounts must not include the registry's own account")


class ModelRegistry(pulumi.ComponentResource):
    def __init__(self, name: str, args: ModelRegistryArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("mlplatform:model_registry:ModelRegistry", name, None, opts)
        import pulumi_aws as aws

        self.args = args
        p = partition_for(args.region)
        where = f"{args.region}:{args.account_id}"
        child = pulumi.ResourceOptions(parent=self)

        self.group_names = {f: physical_name(args.environment, f) for f in args.families}
        self.group_arns = [f"arn:{p}:sagemaker:{where}:model-package-group/{n}" for n in self.group_names.values()]
        self.package_arns = [f"arn:{p}:sagemaker:{where}:model-package/{n}/*" for n in self.group_names.values()]
        for family, group_name in self.group_names.items():
            group = aws.sagemaker.ModelPackageGroup(
                f"{name}-{family}",
                aws.sagemaker.ModelPackageGroupArgs(
                    model_package_group_name=group_name,
                    model_package_group_description=f"mlplatform {args.environment}: versions of {family}",
                ),
                opts=stateful_options(self, args.protect),
            )
            if args.consumer_accounts:
                aws.sagemaker.ModelPackageGroupPolicy(
                    f"{name}-{family}",
                    aws.sagemaker.ModelPackageGroupPolicyArgs(
                        model_package_group_name=group.model_package_group_name,
                        resource_policy=document(consumer_policy(p, where, group_name, args.consumer_accounts)),
                    ),
                    opts=child,
                )

        self.repository_names = {r: f"mlplatform-{args.environment}/{r}" for r in IMAGE_REPOSITORIES}
        self.repository_arns = [f"arn:{p}:ecr:{where}:repository/{n}" for n in self.repository_names.values()]
        self.repository_urls = {
            r: f"{args.account_id}.dkr.ecr.{args.region}.amazonaws.com/{n}" for r, n in self.repository_names.items()
        }
        for purpose, repo_name in self.repository_names.items():
            repo = aws.ecr.Repository(
                f"{name}-{purpose}",
                aws.ecr.RepositoryArgs(
                    name=repo_name,
                    image_tag_mutability="IMMUTABLE",
                    image_scanning_configuration=aws.ecr.RepositoryImageScanningConfigurationArgs(scan_on_push=True),
                    encryption_configurations=[
                        aws.ecr.RepositoryEncryptionConfigurationArgs(
                            encryption_type="KMS", kms_key=args.models_key_arn
                        )
                    ],
                    force_delete=args.force_delete_images,
                ),
                opts=stateful_options(self, args.protect),
            )
            aws.ecr.LifecyclePolicy(
                f"{name}-{purpose}",
                aws.ecr.LifecyclePolicyArgs(
                    repository=repo.name,
                    policy=json.dumps(lifecycle_policy(args.untagged_image_expiry_days, args.keep_tagged_images)),
                ),
                opts=child,
            )
            if args.consumer_accounts and purpose == "inference":
                # A consumer account pulls the inference image of a package it deploys (SageMaker guide,
                # model-registry-deploy: "an Amazon ECR repository policy" for the consumer account).
                aws.ecr.RepositoryPolicy(
                    f"{name}-{purpose}",
                    aws.ecr.RepositoryPolicyArgs(
                        repository=repo.name,
                        policy=document(
                            [
                                Statement(
                                    sid="ConsumersPullImages",
                                    principals={"AWS": [f"arn:{p}:iam::{a}:root" for a in args.consumer_accounts]},
                                    actions=[
                                        "ecr:BatchGetImage",
                                        "ecr:GetDownloadUrlForLayer",
                                        "ecr:BatchCheckLayerAvailability",
                                    ],
                                )
                            ]
                        ),
                    ),
                    opts=child,
                )

        # --- approval flow: rule -> topic (people) and queue (deployment pipeline) -------------
        rule_name = physical_name(args.environment, "model-approvals")
        rule_arn = f"arn:{p}:events:{where}:rule/{rule_name}"
        from_rule = {"ArnEquals": {"aws:SourceArn": rule_arn}}
        self.topic = aws.sns.Topic(
            f"{name}-approvals",
            aws.sns.TopicArgs(name=rule_name, kms_master_key_id=args.models_key_arn),
            opts=child,
        )
        aws.sns.TopicPolicy(
            f"{name}-approvals",
            aws.sns.TopicPolicyArgs(
                arn=self.topic.arn,
                policy=document(
                    [
                        Statement(
                            sid="ApprovalEvents",
                            principals={"Service": "events.amazonaws.com"},
                            actions=["sns:Publish"],
                            resources=[self.topic.arn],
                            conditions=from_rule,
                        )
                    ]
                ),
            ),
            opts=child,
        )
        self.dead_letters = aws.sqs.Queue(
            f"{name}-approvals-dlq",
            aws.sqs.QueueArgs(
                name=f"{rule_name}-dlq",
                kms_master_key_id=args.models_key_arn,
                message_retention_seconds=14 * 24 * 3600,
            ),
            opts=child,
        )
        self.queue = aws.sqs.Queue(
            f"{name}-approvals",
            aws.sqs.QueueArgs(
                name=rule_name,
                kms_master_key_id=args.models_key_arn,
                message_retention_seconds=4 * 24 * 3600,
                visibility_timeout_seconds=300,
                redrive_policy=self.dead_letters.arn.apply(
                    lambda arn: json.dumps({"deadLetterTargetArn": arn, "maxReceiveCount": 5})
                ),
            ),
            opts=child,
        )
        for queue, sid in ((self.queue, "ApprovalEvents"), (self.dead_letters, "UndeliverableApprovalEvents")):
            aws.sqs.QueuePolicy(
                f"{name}-{'approvals' if queue is self.queue else 'approvals-dlq'}",
                aws.sqs.QueuePolicyArgs(
                    queue_url=queue.url,
                    policy=document(
                        [
                            Statement(
                                sid=sid,
                                principals={"Service": "events.amazonaws.com"},
                                actions=["sqs:SendMessage"],
                                resources=[queue.arn],
                                conditions=from_rule,
                            )
                        ]
                    ),
                ),
                opts=child,
            )
        self.approval_pattern = approval_pattern(list(self.group_names.values()))
        rule = aws.cloudwatch.EventRule(
            f"{name}-approvals",
            aws.cloudwatch.EventRuleArgs(
                name=rule_name,
                description="A model package of the platform was approved or rejected",
                event_pattern=json.dumps(self.approval_pattern),
            ),
            opts=child,
        )
        dead_letter = aws.cloudwatch.EventTargetDeadLetterConfigArgs(arn=self.dead_letters.arn)
        for target, arn in (("topic", self.topic.arn), ("queue", self.queue.arn)):
            aws.cloudwatch.EventTarget(
                f"{name}-approvals-{target}",
                aws.cloudwatch.EventTargetArgs(
                    rule=rule.name, target_id=target, arn=arn, dead_letter_config=dead_letter
                ),
                opts=child,
            )
        self.register_outputs(
            {"modelPackageGroups": self.group_names, "repositories": self.repository_urls, "approvals": rule_name}
        )

    # --- grants -------------------------------------------------------------------------------

    def grant_register(self, _scope: str = "") -> list[Statement]:
        """Register new versions of the platform's model families (never approve or delete): a package
        created as Approved would skip the approver, so creation with that status is not granted
        (sagemaker:ModelApprovalStatus, Service Authorization Reference)."""
        return [
            Statement(
                sid="RegisterModelPackages",
                actions=["sagemaker:CreateModelPackage"],
                resources=[*self.group_arns, *self.package_arns],
                conditions=NOT_APPROVED,
            ),
            Statement(
                sid="ReadModelPackages",
                actions=[
                    "sagemaker:DescribeModelPackage",
                    "sagemaker:DescribeModelPackageGroup",
                    "sagemaker:ListModelPackages",
                ],
                resources=[*self.group_arns, *self.package_arns],
            ),
        ]

    def grant_consume_approvals(self, _scope: str = "") -> list[Statement]:
        """Receive the approval decisions (the deployment step of a pipeline): the queue and its key
        (the queue is encrypted with the models key; receiving decrypts through SQS)."""
        a = self.args
        return [
            Statement(
                sid="ConsumeApprovalDecisions",
                actions=[
                    "sqs:ReceiveMessage",
                    "sqs:DeleteMessage",
                    "sqs:ChangeMessageVisibility",
                    "sqs:GetQueueAttributes",
                ],
                resources=[self.queue.arn],
            ),
            Statement(
                sid="DecryptApprovalDecisions",
                actions=["kms:Decrypt"],
                resources=[a.models_key_arn],
                conditions={"StringEquals": {"kms:ViaService": f"sqs.{a.region}.amazonaws.com"}},
            ),
        ]

    def grant_approve(self, _scope: str = "") -> list[Statement]:
        """Change a package's approval status (UpdateModelPackage), and read what is to be approved."""
        return [
            Statement(
                sid="ApproveModelPackages",
                actions=[
                    "sagemaker:UpdateModelPackage",
                    "sagemaker:DescribeModelPackage",
                    "sagemaker:DescribeModelPackageGroup",
                    "sagemaker:ListModelPackages",
                ],
                resources=[*self.group_arns, *self.package_arns],
            )
        ]

    def grant_push(self, repository: str = "") -> list[Statement]:
        """Push images (tags are immutable: a pushed version cannot be overwritten)."""
        return [
            self._ecr_login(),
            Statement(
                sid="PushImages" + repository.capitalize(),
                actions=[
                    "ecr:BatchCheckLayerAvailability",
                    "ecr:InitiateLayerUpload",
                    "ecr:UploadLayerPart",
                    "ecr:CompleteLayerUpload",
                    "ecr:PutImage",
                    "ecr:BatchGetImage",
                    "ecr:GetDownloadUrlForLayer",
                ],
                resources=self._repos(repository),
            ),
        ]

    def grant_pull(self, repository: str = "") -> list[Statement]:
        """Pull images."""
        return [
            self._ecr_login(),
            Statement(
                sid="PullImages" + repository.capitalize(),
                actions=["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"],
                resources=self._repos(repository),
            ),
        ]

    def _repos(self, repository: str) -> list[str]:
        if repository and repository not in self.repository_names:
            raise KeyError(f"no image repository {repository!r}; repositories: {', '.join(IMAGE_REPOSITORIES)}")
        names = [self.repository_names[repository]] if repository else list(self.repository_names.values())
        p = partition_for(self.args.region)
        return [f"arn:{p}:ecr:{self.args.region}:{self.args.account_id}:repository/{n}" for n in names]

    @staticmethod
    def _ecr_login() -> Statement:
        return Statement(sid="EcrLogin", actions=["ecr:GetAuthorizationToken"], resources=["*"])


def consumer_policy(partition: str, where: str, group: str, accounts: Sequence[str]) -> list[Statement]:
    """Named accounts may read the group and deploy its packages (CreateModel from a package)."""
    principals = {"AWS": [f"arn:{partition}:iam::{a}:root" for a in accounts]}
    return [
        Statement(
            sid="ConsumersReadGroup",
            principals=principals,
            actions=["sagemaker:DescribeModelPackageGroup"],
            resources=[f"arn:{partition}:sagemaker:{where}:model-package-group/{group}"],
        ),
        Statement(
            sid="ConsumersUsePackages",
            principals=principals,
            actions=["sagemaker:DescribeModelPackage", "sagemaker:ListModelPackages", "sagemaker:CreateModel"],
            resources=[f"arn:{partition}:sagemaker:{where}:model-package/{group}/*"],
        ),
    ]


def lifecycle_policy(untagged_expiry_days: int, keep_tagged: int) -> dict:
    """Expire untagged images after N days; keep the newest N tagged images."""
    return {
        "rules": [
            {
                "rulePriority": 1,
                "description": f"Expire untagged images after {untagged_expiry_days} days",
                "selection": {
                    "tagStatus": "untagged",
                    "countType": "sinceImagePushed",
                    "countUnit": "days",
                    "countNumber": untagged_expiry_days,
                },
                "action": {"type": "expire"},
            },
            {
                "rulePriority": 2,
                "description": f"Keep the newest {keep_tagged} tagged images",
                "selection": {
                    "tagStatus": "tagged",
                    "tagPatternList": ["*"],
                    "countType": "imageCountMoreThan",
                    "countNumber": keep_tagged,
                },
                "action": {"type": "expire"},
            },
        ]
    }


def approval_pattern(group_names: Sequence[str]) -> dict:
    """EventBridge pattern: a package of one of these groups became Approved or Rejected."""
    return {
        "source": ["aws.sagemaker"],
        "detail-type": ["SageMaker Model Package State Change"],
        "detail": {"ModelPackageGroupName": list(group_names), "ModelApprovalStatus": list(DECISIONS)},
    }
