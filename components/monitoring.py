"""Monitoring on the AWS side: the alert topic, alarms, the budget, log groups and a dashboard.

Every alarm acts on the alert topic (encrypted with the logs key, publishable only by CloudWatch,
EventBridge and AWS Budgets of this account). The alarms and the dashboard are assembled from what
the other components expose (queue names, rule names, feature groups, model families), so they
follow the resources instead of drifting from them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi

from foundation.conventions import physical_name, stateful_options
from foundation.iam.documents import Statement, document
from foundation.upstream.services import FAILURE_METRICS, SQS_METRIC_PERIOD_S
from foundation.upstream.serving import (
    DQ_NAMESPACE,
    SCHEDULER_DIMENSION,
    SCHEDULER_FAILURE_METRICS,
    SCHEDULER_NAMESPACE,
)

FEATURE_STORE_NAMESPACE = "AWS/SageMaker/FeatureStore"
PUBLISHERS = ("cloudwatch.amazonaws.com", "events.amazonaws.com", "budgets.amazonaws.com")
LOG_GROUPS = ("training-jobs", "data-pipelines")


@dataclass(frozen=True)
class MonitoringArgs:
    environment: str
    account_id: str
    region: str
    logs_key_arn: pulumi.Input[str]
    alert_emails: Sequence[str] = ()
    # Slack channels (workspace id, channel id) that AWS Chatbot (Amazon Q Developer in chat
    # applications) posts the alerts to; the workspace is authorized once in its console.
    slack_channels: Sequence[tuple[str, str]] = ()
    # Every delivery path of the stack, so that its failures alarm: event rules with targets,
    # dead-letter queues, and topics (besides the alert topic itself).
    event_rules: Sequence[str] = ()
    dead_letter_queues: Sequence[str] = ()
    topics: Sequence[str] = ()
    # EventBridge Scheduler groups: a schedule whose target fails or whose run is dropped alarms
    # (components/scheduling.py; their dead-letter queues are among dead_letter_queues).
    schedule_groups: Sequence[str] = ()
    # The audit trail's event count (a metric filter on its log group, components/audit.py): none for
    # an hour means the trail stopped delivering.
    trail_metric: tuple[str, str] | None = None  # (namespace, metric)
    log_retention_days: int = 365
    monthly_budget_usd: float = 1000
    # "account": the budget covers the stack's account (environments in their own accounts); "tag": only
    # costs tagged environment=<env>, which Cost Explorer counts only once the tag is activated as a
    # cost allocation tag (Billing user guide, activating-tags: management or standalone account only).
    budget_scope: str = "account"
    activate_environment_tag: bool = False
    # The alerts topic's own deliveries are watched too (its NumberOfNotificationsFailed).
    permissions_boundary: pulumi.Input[str] | None = None
    karpenter_queue: str | None = None
    data_quality_rule: str | None = None
    # dataset -> (its low-score rule, its ruleset): an alarm and an alert per dataset, a dashboard widget
    data_quality_datasets: Mapping[str, tuple[str, str]] = field(default_factory=dict)
    feature_groups: Sequence[str] = ()
    # Alarms other components define (components/serving.py: rollback and drift alarms), as specs.
    component_alarms: Sequence[Mapping] = ()
    protect: bool = True

    def __post_init__(self) -> None:
        if self.monthly_budget_usd <= 0:
            raise ValueError("monthly_budget_usd must be positive")


class Monitoring(pulumi.ComponentResource):
    def __init__(self, name: str, args: MonitoringArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("mlplatform:monitoring:Monitoring", name, None, opts)
        import pulumi_aws as aws

        self.args = args
        env = args.environment
        child = pulumi.ResourceOptions(parent=self)
        self.topic = aws.sns.Topic(
            f"{name}-alerts",
            aws.sns.TopicArgs(name=physical_name(env, "alerts"), kms_master_key_id=args.logs_key_arn),
            opts=child,
        )
        self.topic_arn = self.topic.arn
        aws.sns.TopicPolicy(
            f"{name}-alerts",
            aws.sns.TopicPolicyArgs(arn=self.topic.arn, policy=document(topic_policy(self.topic.arn, args.account_id))),
            opts=child,
        )
        for i, email in enumerate(args.alert_emails):
            aws.sns.TopicSubscription(
                f"{name}-email-{i}",
                aws.sns.TopicSubscriptionArgs(topic=self.topic.arn, protocol="email", endpoint=email),
                opts=child,
            )
        if args.slack_channels:
            self._chat(name, args)

        self.log_groups = {}
        for purpose in LOG_GROUPS:
            self.log_groups[purpose] = aws.cloudwatch.LogGroup(
                f"{name}-{purpose}",
                aws.cloudwatch.LogGroupArgs(
                    name=f"/mlplatform/{env}/{purpose}",
                    kms_key_id=args.logs_key_arn,
                    retention_in_days=args.log_retention_days,
                ),
                opts=stateful_options(self, args.protect),
            )

        self.alarms: dict[str, pulumi.Resource] = {}
        for alarm in alarm_specs(args):
            self.alarms[alarm["key"]] = aws.cloudwatch.MetricAlarm(
                f"{name}-{alarm['key']}",
                aws.cloudwatch.MetricAlarmArgs(
                    name=physical_name(env, alarm["key"], max_length=255),  # the alarm name limit
                    alarm_description=alarm["description"],
                    namespace=alarm["namespace"],
                    metric_name=alarm["metric"],
                    dimensions=alarm["dimensions"] or None,
                    # Percentiles (p99) are extended statistics.
                    statistic=None if alarm["statistic"].startswith("p") else alarm["statistic"],
                    extended_statistic=alarm["statistic"] if alarm["statistic"].startswith("p") else None,
                    period=alarm["period"],
                    evaluation_periods=alarm["evaluation_periods"],
                    threshold=alarm["threshold"],
                    comparison_operator=alarm["comparison"],
                    treat_missing_data=alarm["missing"],
                    alarm_actions=[self.topic.arn],
                    ok_actions=[self.topic.arn],
                ),
                opts=child,
            )
        # The failed or low-scoring evaluation itself (which dataset, which run, the score) reaches
        # people, not only the alarm.
        rules = [args.data_quality_rule] if args.data_quality_rule else []
        rules += [rule for rule, _ in args.data_quality_datasets.values()]
        for rule in rules:
            aws.cloudwatch.EventTarget(
                f"{name}-{rule.removeprefix(f'mlplatform-{env}-')}",
                aws.cloudwatch.EventTargetArgs(rule=rule, target_id="alerts", arn=self.topic.arn),
                opts=child,
            )

        aws.budgets.Budget(
            f"{name}-budget",
            aws.budgets.BudgetArgs(
                name=physical_name(env, "monthly"),
                budget_type="COST",
                time_unit="MONTHLY",
                limit_amount=f"{args.monthly_budget_usd:.2f}",
                limit_unit="USD",
                cost_filters=[aws.budgets.BudgetCostFilterArgs(name="TagKeyValue", values=[f"user:environment${env}"])]
                if args.budget_scope == "tag"
                else None,
                notifications=[
                    aws.budgets.BudgetNotificationArgs(
                        comparison_operator="GREATER_THAN",
                        notification_type=kind,
                        threshold=threshold,
                        threshold_type="PERCENTAGE",
                        subscriber_sns_topic_arns=[self.topic.arn],
                    )
                    for kind, threshold in (("FORECASTED", 100), ("ACTUAL", 80), ("ACTUAL", 100))
                ],
            ),
            opts=child,
        )
        if args.activate_environment_tag:
            aws.costexplorer.CostAllocationTag(
                f"{name}-environment-tag",
                aws.costexplorer.CostAllocationTagArgs(tag_key="environment", status="Active"),
                opts=child,
            )
        aws.cloudwatch.Dashboard(
            f"{name}-dashboard",
            aws.cloudwatch.DashboardArgs(
                dashboard_name=physical_name(env, "platform"),
                dashboard_body=json.dumps(dashboard(args)),
            ),
            opts=child,
        )
        self.register_outputs({"alertTopic": self.topic.arn, "alarms": sorted(self.alarms)})

    def _chat(self, name: str, args: MonitoringArgs) -> None:
        """Alerts in Slack through AWS Chatbot, which subscribes to the topic itself. (An https
        subscription to a chat webhook never confirms: with endpoint_auto_confirms the provider waits
        and fails, terraform-provider-aws resourceTopicSubscriptionCreate; without, nothing is sent.)"""
        import pulumi_aws as aws

        from foundation.iam.roles import service_role
        from foundation.iam.trust import service_trust

        env = args.environment
        child = pulumi.ResourceOptions(parent=self)
        # Guardrails default to AdministratorAccess when none are set (Chatbot API reference): this one
        # caps what anyone in the channel can do through the bot to reading alarms.
        guardrail = aws.iam.Policy(
            f"{name}-chat-guardrail",
            aws.iam.PolicyArgs(
                name=physical_name(env, "chat-guardrail"),
                description="Ceiling of what the alert channels' bot may do: read alarms",
                policy=document(_chat_statements(args)),
            ),
            opts=child,
        )
        role, _, _ = service_role(
            f"{name}-chat",
            parent=self,
            name=physical_name(env, "chat"),
            description="AWS Chatbot: post the platform's alerts to its channels",
            boundary=args.permissions_boundary,
            trust=service_trust("Chatbot", "chatbot.amazonaws.com", account_id=args.account_id),
            policy_name="notifications",
            statements=_chat_statements(args),
        )
        for i, (workspace, channel) in enumerate(args.slack_channels):
            aws.chatbot.SlackChannelConfiguration(
                f"{name}-slack-{i}",
                aws.chatbot.SlackChannelConfigurationArgs(
                    configuration_name=physical_name(env, "alerts", str(i)),
                    iam_role_arn=role.arn,
                    slack_team_id=workspace,
                    slack_channel_id=channel,
                    sns_topic_arns=[self.topic.arn],
                    guardrail_policy_arns=[guardrail.arn],
                    logging_level="ERROR",
                ),
                opts=child,
            )


def _chat_statements(args: MonitoringArgs) -> list[Statement]:
    # AWS Chatbot's notification permissions, narrowed: read the stack's alarms it renders, nothing else.
    alarms = f"arn:aws:cloudwatch:{args.region}:{args.account_id}:alarm:mlplatform-{args.environment}-*"
    return [
        Statement(
            sid="RenderAlarms",
            actions=["cloudwatch:DescribeAlarms", "cloudwatch:DescribeAlarmHistory"],
            resources=[alarms],
        )
    ]


def topic_policy(topic_arn: pulumi.Input[str], account_id: str) -> list[Statement]:
    return [
        Statement(
            sid="AccountServicesPublish",
            principals={"Service": list(PUBLISHERS)},
            actions=["sns:Publish"],
            resources=[topic_arn],
            conditions={"StringEquals": {"aws:SourceAccount": account_id}},
        )
    ]


def any_in_five_minutes(
    key: str, description: str, namespace: str, metric: str, dimensions: dict, *, statistic: str = "Sum"
) -> dict:
    """An alarm spec that fires on any count above zero in five minutes; no data (a metric published
    only when non-zero) is no failure."""
    return dict(
        key=key,
        description=description,
        namespace=namespace,
        metric=metric,
        dimensions=dimensions,
        statistic=statistic,
        period=300,
        evaluation_periods=1,
        threshold=0,
        comparison="GreaterThanThreshold",
        missing="notBreaching",
    )


def alarm_specs(args: MonitoringArgs) -> list[dict]:
    """Every alarm of the stack, from what the components expose."""
    specs = []
    if args.karpenter_queue:
        specs.append(
            dict(
                key="karpenter-interruptions-backlog",
                description="Karpenter is not draining its interruption queue: nodes may die without notice",
                namespace="AWS/SQS",
                metric="ApproximateAgeOfOldestMessage",
                dimensions={"QueueName": args.karpenter_queue},
                statistic="Maximum",
                # Karpenter long-polls its queue and handles a notice in seconds; the queue keeps a
                # notice only QUEUE_RETENTION_SECONDS (300 s), so one Karpenter never reads must be seen
                # old within that time: two one-minute periods above two minutes.
                period=SQS_METRIC_PERIOD_S,
                evaluation_periods=2,
                threshold=120,
                comparison="GreaterThanThreshold",
                missing="notBreaching",
            )
        )
    if args.data_quality_rule:
        specs.append(
            any_in_five_minutes(
                "data-quality-failures",
                "A data-quality evaluation of a platform dataset failed",
                "AWS/Events",
                "MatchedEvents",
                {"RuleName": args.data_quality_rule},
            )
        )
    for group in args.feature_groups:
        for metric, what in (("ThrottledRequests", "throttled"), ("Operation5XXErrors", "failing")):
            specs.append(
                any_in_five_minutes(
                    f"features-{group.removeprefix(f'mlplatform-{args.environment}-')}-{what}",
                    f"Feature ingestion into {group} is {what}",
                    FEATURE_STORE_NAMESPACE,
                    metric,
                    {"FeatureGroupName": group, "OperationName": "PutRecord"},
                )
            )
    # Failures of every delivery path (foundation/upstream/services.py FAILURE_METRICS), and of every
    # schedule group (foundation/upstream/serving.py: Scheduler's metrics, best effort, per group).
    paths = [
        (FAILURE_METRICS["rule"], r, "EventBridge could not deliver events of {} to a target", "delivery")
        for r in args.event_rules
    ]
    paths += [
        (FAILURE_METRICS["dead-letter-queue"], q, "Undeliverable messages wait in {}", "dead-letters")
        for q in args.dead_letter_queues
    ]
    paths += [
        (FAILURE_METRICS["topic"], t, "SNS could not deliver notifications of {}", "notifications-failed")
        for t in args.topics
    ]
    paths += [
        (
            (SCHEDULER_NAMESPACE, m, SCHEDULER_DIMENSION),
            g,
            f"EventBridge Scheduler: {m} in {{}}",
            f"schedules-{short}",
        )
        for g in args.schedule_groups
        for m, short in SCHEDULER_FAILURE_METRICS.items()
    ]
    for (namespace, metric, dimension), name, description, key in paths:
        specs.append(
            # FailedInvocations is published only when non-zero: no data is no failure
            any_in_five_minutes(
                f"{key}-{name.removeprefix(f'mlplatform-{args.environment}-')}",
                description.format(name),
                namespace,
                metric,
                {dimension: name},
                statistic="Maximum" if namespace == "AWS/SQS" else "Sum",
            )
        )
    if args.trail_metric:
        namespace, metric = args.trail_metric
        specs.append(
            dict(
                key="audit-trail-silent",
                description="The audit trail delivered no event for an hour: CloudTrail has stopped delivering",
                namespace=namespace,
                metric=metric,
                dimensions={},
                statistic="Sum",
                period=3600,
                evaluation_periods=1,
                threshold=1,
                comparison="LessThanThreshold",
                # there is no CloudTrail delivery-failure metric (GetTrailStatus only): silence is the signal
                missing="breaching",
            )
        )
    for dataset, (rule, _) in args.data_quality_datasets.items():
        specs.append(
            any_in_five_minutes(
                rule.removeprefix(f"mlplatform-{args.environment}-"),
                f"An evaluation of dataset {dataset} scored below its minimum",
                "AWS/Events",
                "MatchedEvents",
                {"RuleName": rule},
            )
        )
    specs += [dict(spec) for spec in args.component_alarms]
    return specs


def dashboard(args: MonitoringArgs) -> dict:
    """One metric widget per alarm (same namespace, metric and dimensions), with its threshold."""
    widgets: list[dict] = []

    def widget(title: str, metrics: list, **properties) -> None:
        i = len(widgets)  # two columns, six rows high
        widgets.append(
            {
                "type": "metric",
                "x": (i % 2) * 12,
                "y": (i // 2) * 6,
                "width": 12,
                "height": 6,
                "properties": {"title": title, "region": args.region, "metrics": metrics, **properties},
            }
        )

    for spec in alarm_specs(args):
        metric = [spec["namespace"], spec["metric"]]
        for k, v in spec["dimensions"].items():
            metric += [k, v]
        widget(
            spec["description"],
            [metric],
            stat=spec["statistic"],
            period=spec["period"],
            annotations={"horizontal": [{"label": "alarm", "value": spec["threshold"]}]},
        )
    # Evaluation results per dataset: Glue's pass/fail counts, found by the ruleset's name (the
    # metrics' dimensions are not documented; a search needs none, CloudWatch search-expression-syntax).
    for j, (dataset, (_, ruleset)) in enumerate(sorted(args.data_quality_datasets.items())):
        search = f"SEARCH('{{\"{DQ_NAMESPACE}\"}} \"{ruleset}\"', 'Sum', 86400)"
        widget(
            f"Data quality of {dataset}: rules passed and failed per evaluation",
            [[{"expression": search, "id": f"dq{j}"}]],
            period=86400,
        )
    return {"widgets": widgets}
