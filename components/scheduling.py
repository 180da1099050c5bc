"""Work EventBridge Scheduler starts for a component: one schedule group, the role its schedules run
as (trusted by Scheduler for that group only), a dead-letter queue for deliveries that still fail
after their retries, and the schedules, their payload encrypted with a platform key.

A run that never starts emits no result of its own: the dead-letter queue, its depth alarm and the
group's AWS/Scheduler failure alarms (components/monitoring.py) are how it is seen. Facts and their
sources: foundation/upstream/serving.py (Scheduler delivery failures)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import pulumi

from foundation.conventions import partition_for, physical_name
from foundation.iam.documents import Statement
from foundation.upstream import serving as facts


@dataclass(frozen=True)
class SchedulingArgs:
    environment: str
    account_id: str
    region: str
    group: str  # the group's short name: mlplatform-<env>-<group>, its role <group>-scheduler
    key_arn: pulumi.Input[str]  # encrypts the schedules' payloads and the dead-letter queue
    boundary_arn: pulumi.Input[str] | None
    description: str
    # What the schedules' targets are called with (the role's grants beyond the queue and the key).
    statements: Sequence[Statement] = field(default_factory=tuple)
    policy_name: str = "run-schedules"

    @property
    def group_name(self) -> str:
        return physical_name(self.environment, self.group)

    @property
    def queue_name(self) -> str:
        return physical_name(self.environment, self.group, "dlq")


class Scheduling:
    """The group, role and queue, created as children of ``parent``; ``schedule`` adds a schedule."""

    def __init__(self, resource_name: str, parent: pulumi.Resource, args: SchedulingArgs):
        import pulumi_aws as aws

        from foundation.iam.roles import service_role
        from foundation.iam.trust import service_trust

        self.args, self.parent, self.resource_name = args, parent, resource_name
        child = pulumi.ResourceOptions(parent=parent)
        p = partition_for(args.region)
        self.group = aws.scheduler.ScheduleGroup(
            f"{resource_name}-schedules", aws.scheduler.ScheduleGroupArgs(name=args.group_name), opts=child
        )
        self.group_arn = f"arn:{p}:scheduler:{args.region}:{args.account_id}:schedule-group/{args.group_name}"
        self.dead_letters = aws.sqs.Queue(
            f"{resource_name}-dlq",
            aws.sqs.QueueArgs(
                name=args.queue_name,
                kms_master_key_id=args.key_arn,
                message_retention_seconds=14 * 24 * 3600,  # SQS's longest: two weeks to look
            ),
            opts=child,
        )
        self.queue_arn = f"arn:{p}:sqs:{args.region}:{args.account_id}:{args.queue_name}"
        self.role = service_role(
            f"{resource_name}-scheduler",
            parent=parent,
            name=physical_name(args.environment, f"{args.group}-scheduler"),
            description=args.description,
            boundary=args.boundary_arn,
            # "The ARN you specify must be a schedule group" (Scheduler guide, confused deputy prevention).
            trust=service_trust(
                "Scheduler",
                facts.SCHEDULER_PRINCIPAL,
                conditions={
                    "StringEquals": {"aws:SourceAccount": args.account_id},
                    "ArnEquals": {"aws:SourceArn": self.group_arn},
                },
            ),
            policy_name=args.policy_name,
            statements=[*args.statements, *delivery_statements(args, self.queue_arn)],
        )

    def schedule(
        self, resource_name: str, *, name: str, expression: str, target_arn, payload, description: str, window=None
    ):
        """One schedule of the group: its target called with ``payload`` (JSON text), retried, and sent
        to the dead-letter queue when it still fails. ``window``: minutes of a flexible window."""
        import pulumi_aws as aws

        args = self.args
        return aws.scheduler.Schedule(
            resource_name,
            aws.scheduler.ScheduleArgs(
                name=name,
                group_name=self.group.name,
                description=description,
                schedule_expression=expression,
                kms_key_arn=args.key_arn,
                flexible_time_window=aws.scheduler.ScheduleFlexibleTimeWindowArgs(
                    mode="FLEXIBLE", maximum_window_in_minutes=window
                )
                if window
                else aws.scheduler.ScheduleFlexibleTimeWindowArgs(mode="OFF"),
                target=aws.scheduler.ScheduleTargetArgs(
                    arn=target_arn,
                    role_arn=self.role.role.arn,
                    input=payload,
                    retry_policy=aws.scheduler.ScheduleTargetRetryPolicyArgs(
                        maximum_retry_attempts=facts.SCHEDULE_RETRIES,
                        maximum_event_age_in_seconds=facts.SCHEDULE_EVENT_AGE_S,
                    ),
                    dead_letter_config=aws.scheduler.ScheduleTargetDeadLetterConfigArgs(arn=self.dead_letters.arn),
                ),
            ),
            opts=pulumi.ResourceOptions(parent=self.parent, depends_on=self.role.ready),
        )


def delivery_statements(args: SchedulingArgs, queue_arn: str) -> list[Statement]:
    """Send what failed to the dead-letter queue (its messages encrypted with the key, through SQS),
    and read the schedules' encrypted payloads (through Scheduler)."""
    return [
        Statement(sid="DeadLetters", actions=["sqs:SendMessage"], resources=[queue_arn]),
        Statement(
            sid="DeadLettersKey",
            actions=["kms:GenerateDataKey", "kms:Decrypt"],
            resources=[args.key_arn],
            conditions={"StringEquals": {"kms:ViaService": f"sqs.{args.region}.amazonaws.com"}},
        ),
        Statement(
            sid="PayloadKey",
            actions=["kms:Decrypt"],
            resources=[args.key_arn],
            conditions={"StringEquals": {"kms:ViaService": f"scheduler.{args.region}.amazonaws.com"}},
        ),
    ]
