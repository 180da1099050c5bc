"""CloudWatch, SNS and CloudTrail rules."""

from __future__ import annotations

from infra.policies.framework import as_list, principals, resource_rule, statements


@resource_rule(
    "logs-encrypted-with-retention",
    "Log groups are encrypted with a customer key and expire",
    ["aws:cloudwatch/logGroup:LogGroup"],
)
def log_groups(args):
    if not args.props.get("kmsKeyId"):
        yield f"log group {args.props.get('name')}: set kmsKeyId to the logs key"
    if not args.props.get("retentionInDays"):
        yield f"log group {args.props.get('name')}: set retentionInDays (never-expiring logs grow forever)"


@resource_rule("alarms-have-actions", "Every alarm notifies someone", ["aws:cloudwatch/metricAlarm:MetricAlarm"])
def alarm_actions(args):
    if not as_list(args.props.get("alarmActions")):
        yield f"alarm {args.props.get('name')}: set alarmActions (the alert topic)"


@resource_rule("sns-kms", "Topics are encrypted with a customer key", ["aws:sns/topic:Topic"])
def sns_kms(args):
    key = str(args.props.get("kmsMasterKeyId") or "")
    if not key or key == "alias/aws/sns":
        yield f"topic {args.props.get('name')}: set kmsMasterKeyId to a customer key"


@resource_rule("sns-no-public-publish", "Topic policies allow no Principal '*'", ["aws:sns/topicPolicy:TopicPolicy"])
def sns_public(args):
    for st in statements(args.props.get("policy")):
        if st.get("Effect") == "Allow" and "*" in principals(st):
            yield f"topic policy statement {st.get('Sid', '?')} allows Principal '*'"


TRAIL = "aws:cloudtrail/trail:Trail"


@resource_rule("cloudtrail-multi-region", "The trail records every region", [TRAIL])
def multi_region(args):
    if args.props.get("isMultiRegionTrail") is not True:
        yield "set isMultiRegionTrail to true"


@resource_rule("cloudtrail-log-validation", "Trail log files are integrity-validated", [TRAIL])
def validation(args):
    if args.props.get("enableLogFileValidation") is not True:
        yield "set enableLogFileValidation to true"


@resource_rule("cloudtrail-kms", "Trail logs are encrypted with a customer key", [TRAIL])
def trail_kms(args):
    if not args.props.get("kmsKeyId"):
        yield "set kmsKeyId to the logs key"
