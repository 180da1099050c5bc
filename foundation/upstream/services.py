"""How AWS services use the platform's keys and buckets, as their guides document it. Tests compare
the rendered key and bucket policies with these statements (tests/components/test_delivery_paths.py).

Sources: the CloudTrail user guide (create-kms-key-policy-for-cloudtrail, create-s3-bucket-policy-
for-cloudtrail, encrypting-cloudtrail-log-files-with-aws-kms), the S3 user guide (enable-server-
access-logging), the EventBridge user guide (eb-use-resource-based: targets encrypted with a customer
key), the SageMaker developer guide (feature-store-security) and the botocore sagemaker model
(OnlineStoreSecurityConfig.KmsKeyId), the EventBridge and SQS monitoring pages.
"""

from __future__ import annotations

# CloudTrail on the logs key: encrypt (GenerateDataKey*), describe, and decrypt because the audit bucket
# uses an S3 Bucket Key ("kms:Decrypt permissions are required to create or update a trail with SSE-KMS
# encryption enabled"); "add an aws:SourceArn condition key ... aws:SourceAccount is also supported, but
# not recommended".
CLOUDTRAIL_KEY_ACTIONS = {"kms:GenerateDataKey*", "kms:DescribeKey", "kms:Decrypt"}
CLOUDTRAIL_CONDITION = "aws:SourceArn"

# EventBridge delivering to an SNS topic or SQS queue encrypted with a customer key: principal
# events.amazonaws.com, kms:Decrypt and kms:GenerateDataKey, and no condition in the documented
# statement (an AWS-authored construct library, MDAA, warns that source conditions drop deliveries
# silently; the primary sentence could not be found: UNVERIFIED beyond the documented statement).
EVENTBRIDGE_KEY_ACTIONS = {"kms:Decrypt", "kms:GenerateDataKey*"}

# Digest files: the older CloudTrail guide says "Digest files are encrypted with Amazon S3-managed
# encryption keys (SSE-S3)"; the current one (encrypting-cloudtrail-log-files-with-aws-kms) says that
# with a KMS key and log file validation "this also indicates that encryption has been enabled for
# your digest files". The audit bucket accepts both under the digest prefix (tests/access/test_requests.py).
DIGEST_PREFIX = "AWSLogs/{account}/CloudTrail-Digest/"

# AWSCloudTrailWrite: s3:PutObject on AWSLogs/<account>/*, "s3:x-amz-acl": "bucket-owner-full-control",
# "aws:SourceArn": the trail.
CLOUDTRAIL_WRITE_CONDITIONS = {"s3:x-amz-acl": "bucket-owner-full-control", "aws:SourceArn": None}

# S3 server access logs: principal logging.s3.amazonaws.com, s3:PutObject, conditions aws:SourceArn
# (ArnLike, the source buckets) and aws:SourceAccount; the target bucket uses SSE-S3.
ACCESS_LOG_PRINCIPAL = "logging.s3.amazonaws.com"

# Feature Store online store with a customer key: PutRecord, GetRecord and DeleteRecord callers need
# kms:Decrypt on it; the documented condition is StringLike kms:ViaService "sagemaker.*.amazonaws.com".
ONLINE_STORE_VIA = "sagemaker.*.amazonaws.com"
# AmazonSageMakerFeatureStoreAccess (v3): the offline store writes s3:PutObject, s3:GetBucketAcl and
# s3:PutObjectAcl.
OFFLINE_STORE_ACTIONS = {"s3:PutObject", "s3:GetBucketAcl", "s3:PutObjectAcl"}

# Failures of a delivery path, by where they show (metric namespace, metric name, dimension):
# EventBridge publishes FailedInvocations per rule only when non-zero; a dead-letter queue's depth is
# SQS ApproximateNumberOfMessagesVisible; SNS NumberOfNotificationsFailed per topic; CloudTrail has no
# delivery-failure metric (GetTrailStatus LatestDeliveryError only): its event count going silent is.
FAILURE_METRICS = {
    "rule": ("AWS/Events", "FailedInvocations", "RuleName"),
    "dead-letter-queue": ("AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName"),
    "topic": ("AWS/SNS", "NumberOfNotificationsFailed", "TopicName"),
}

# AWS Chatbot (Amazon Q Developer in chat applications) administrator guide, custom-notifs: a custom
# notification is the SNS message {"version": "1.0", "source": "custom", "content": {"textType":
# "client-markdown", "title": ..., "description": ...}}; version and source are required with exactly
# these values, textType supports only client-markdown. Messages in formats it does not support are not
# posted (UnsupportedEvents). Which content fields are required could not be read: UNVERIFIED beyond
# version and source; the platform always sends title and description.
CHATBOT_CUSTOM = {"version": "1.0", "source": "custom", "textType": "client-markdown"}
# SNS Publish (API reference): Subject "must be ... less than 100 characters long", no line breaks or
# control characters; Message at most 256 KB.
SNS_SUBJECT_MAX, SNS_MESSAGE_MAX_BYTES = 99, 262_144

# SQS developer guide, monitoring-using-cloudwatch: "CloudWatch metrics for your Amazon SQS queues are
# automatically collected and pushed to CloudWatch at one-minute intervals."
SQS_METRIC_PERIOD_S = 60

# PutMetricAlarm, Period (CloudWatch API reference; the SDKs' generated docs carry the same text): "Valid
# values are 10, 20, 30, and any multiple of 60." "An alarm's total current evaluation period can be no
# longer than seven days, so Period multiplied by EvaluationPeriods can't be more than 604,800 seconds.
# For alarms with a period of less than one hour (3,600 seconds), the total evaluation period can't be
# longer than one day (86,400 seconds)."
ALARM_MAX_WINDOW_S, ALARM_SHORT_PERIOD_MAX_WINDOW_S, ALARM_SHORT_PERIOD_S = 604_800, 86_400, 3_600
ALARM_SUBMINUTE_PERIODS = (10, 20, 30)


def alarm_window_problem(period: int, evaluation_periods: int) -> str | None:
    """Why CloudWatch would refuse an alarm with this period and number of periods, or None."""
    if period not in ALARM_SUBMINUTE_PERIODS and (period <= 0 or period % 60):
        return f"a period of {period} s (10, 20, 30 or a multiple of 60)"
    window = period * evaluation_periods
    limit = ALARM_SHORT_PERIOD_MAX_WINDOW_S if period < ALARM_SHORT_PERIOD_S else ALARM_MAX_WINDOW_S
    if window > limit:
        return f"{evaluation_periods} periods of {period} s: {window} s, above CloudWatch's {limit} s"
    return None


# S3 Object Lock with a default retention: "PutObject requests ... require Content-MD5 or
# x-amz-sdk-checksum-algorithm" (S3 user guide, object-lock-managing). botocore 1.36.0 sends a CRC32
# checksum by default (request_checksum_calculation=when_supported): boto3 >= 1.36 (MLflow's S3 client)
# and aiobotocore releases on botocore >= 1.36 (s3fs, DVC) upload to the locked artifacts bucket;
# request_checksum_calculation=when_required breaks them.
OBJECT_LOCK_MIN_BOTOCORE = "1.36.0"
