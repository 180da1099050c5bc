"""Monitoring on the AWS side: the alert topic, alarms, the budget, log groups and a dashboard.

Every alarm acts on the alert topic (encrypted with the logs key, publishable only by CloudWatch,
EventBridge and AWS Budgets of this account). The alarms and the dashboard are assembled from what
the other components expose (queue names, rule names, feature groups, model families), so they
follow the resources instead of drifting from them.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field

import pulumi

from components.conventions import physical_name, stateful_options
from components.documents import Statement, document

DRIFT_NAMESPACE = "MLPlatform/ModelQuality"
FEATURE_STORE_NAMESPACE = "AWS/SageMaker/FeatureStore"
PUBLISHERS = ("cloudwatch.amazonaws.com", "events.amazonaws.com", "budgets.amazonaws.com")
LOG_GROUPS = ("training-jobs", "data-pipelines")


@dataclass(frozen=True)
class DriftAlarm:
    model_family: str
    metric: str
    threshold: float
    evaluation_periods: int = 3


@dataclass(frozen=True)
class MonitoringArgs:
    environment: str
    account_id: str
    region: str
    logs_key_arn: pulumi.Input[str]
    alert_emails: Sequence[str] = ()
    chat_webhooks: Sequence[pulumi.Input[str]] = ()  # secrets: who has the URL can post
    log_retention_days: int = 365
    monthly_budget_usd: float = 1000
    karpenter_queue: str | None = None
    data_quality_rule: str | None = None
    feature_groups: Sequence[str] = ()
    drift: Sequence[DriftAlarm] = field(default_factory=tuple)
    # A model that stops reporting drift is as alarming as one that drifts (prod).
    missing_drift_data_breaches: bool = True
    protect: bool = True

    def __post_init__(self) -> None:
        if self.monthly_budget_usd <= 0:
            raise ValueError("monthly_budget_usd must be positive")
        for d in self.drift:
            if not 0 <= d.threshold <= 1:
                raise ValueError(f"drift threshold of {d.model_family} must be between 0 and 1")


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
        for i, url in enumerate(args.chat_webhooks):
            aws.sns.TopicSubscription(
                f"{name}-chat-{i}",
                aws.sns.TopicSubscriptionArgs(
                    topic=self.topic.arn, protocol="https", endpoint=url, endpoint_auto_confirms=True
                ),
                opts=child,
            )

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
                    name=physical_name(env, alarm["key"]),
                    alarm_description=alarm["description"],
                    namespace=alarm["namespace"],
                    metric_name=alarm["metric"],
                    dimensions=alarm["dimensions"],
                    statistic=alarm["statistic"],
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
        if args.data_quality_rule:
            # The failed evaluation itself (which dataset, which rules) reaches people, not only the alarm.
            aws.cloudwatch.EventTarget(
                f"{name}-data-quality",
                aws.cloudwatch.EventTargetArgs(rule=args.data_quality_rule, target_id="alerts", arn=self.topic.arn),
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
                cost_filters=[aws.budgets.BudgetCostFilterArgs(name="TagKeyValue", values=[f"user:environment${env}"])],
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
        aws.cloudwatch.Dashboard(
            f"{name}-dashboard",
            aws.cloudwatch.DashboardArgs(
                dashboard_name=physical_name(env, "platform"),
                dashboard_body=json.dumps(dashboard(args)),
            ),
            opts=child,
        )
        self.register_outputs({"alertTopic": self.topic.arn, "alarms": sorted(self.alarms)})


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
                period=300,
                evaluation_periods=2,
                threshold=300,
                comparison="GreaterThanThreshold",
                missing="notBreaching",
            )
        )
    if args.data_quality_rule:
        specs.append(
            dict(
                key="data-quality-failures",
                description="A data-quality evaluation of a platform dataset failed",
                namespace="AWS/Events",
                metric="MatchedEvents",
                dimensions={"RuleName": args.data_quality_rule},
                statistic="Sum",
                period=300,
                evaluation_periods=1,
                threshold=0,
                comparison="GreaterThanThreshold",
                missing="notBreaching",
            )
        )
    for group in args.feature_groups:
        for metric, what in (("ThrottledRequests", "throttled"), ("Operation5XXErrors", "failing")):
            specs.append(
                dict(
                    key=f"features-{group.removeprefix(f'mlplatform-{args.environment}-')}-{what}",
                    description=f"Feature ingestion into {group} is {what}",
                    namespace=FEATURE_STORE_NAMESPACE,
                    metric=metric,
                    dimensions={"FeatureGroupName": group, "OperationName": "PutRecord"},
                    statistic="Sum",
                    period=300,
                    evaluation_periods=1,
                    threshold=0,
                    comparison="GreaterThanThreshold",
                    missing="notBreaching",
                )
            )
    for d in args.drift:
        specs.append(
            dict(
                key=f"drift-{d.model_family}",
                description=f"{d.model_family}: {d.metric} above {d.threshold} for {d.evaluation_periods} hours",
                namespace=DRIFT_NAMESPACE,
                metric=d.metric,
                dimensions={"ModelFamily": d.model_family, "Environment": args.environment},
                statistic="Maximum",
                period=3600,
                evaluation_periods=d.evaluation_periods,
                threshold=d.threshold,
                comparison="GreaterThanThreshold",
                missing="breaching" if args.missing_drift_data_breaches else "missing",
            )
        )
    return specs


def dashboard(args: MonitoringArgs) -> dict:
    """One metric widget per alarm (same namespace, metric and dimensions), with its threshold."""
    widgets = []
    for i, spec in enumerate(alarm_specs(args)):
        metric = [spec["namespace"], spec["metric"]]
        for k, v in spec["dimensions"].items():
            metric += [k, v]
        widgets.append(
            {
                "type": "metric",
                "x": (i % 2) * 12,
                "y": (i // 2) * 6,
                "width": 12,
                "height": 6,
                "properties": {
                    "title": spec["description"],
                    "region": args.region,
                    "metrics": [metric],
                    "stat": spec["statistic"],
                    "period": spec["period"],
                    "annotations": {"horizontal": [{"label": "alarm", "value": spec["threshold"]}]},
                },
            }
        )
    return {"widgets": widgets}
