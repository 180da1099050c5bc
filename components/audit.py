"""The audit trail: every API call of the account, and object access to the platform's data.

A multi-region CloudTrail with log-file validation, encrypted with the logs key, delivered to a
hardened (and in prod write-once) audit bucket and to CloudWatch Logs for alarms and queries.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi

from components.storage import Lifecycle, SecureBucket, SecureBucketArgs
from foundation.conventions import partition_for, physical_name, stateful_options
from foundation.iam.documents import Statement
from foundation.iam.roles import service_role
from foundation.iam.trust import service_trust

TRAIL_METRIC = ("MLPlatform/Audit", "TrailEvents")


@dataclass(frozen=True)
class AuditArgs:
    environment: str
    account_id: str
    region: str
    logs_key_arn: pulumi.Input[str]
    access_log_bucket: pulumi.Input[str]
    # The access-log bucket itself: the audit bucket's logging is configured after it exists.
    access_log_resource: pulumi.Resource | None = None
    # Buckets whose object-level reads and writes are recorded (data events).
    data_event_bucket_arns: Sequence[str] = ()
    log_retention_days: int = 365
    # COMPLIANCE-mode object lock of the audit bucket: not even the root user can shorten it.
    object_lock_days: int = 365
    permissions_boundary: pulumi.Input[str] | None = None
    protect: bool = True
    force_destroy: bool = False


class Audit(pulumi.ComponentResource):
    def __init__(self, name: str, args: AuditArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("mlplatform:audit:Audit", name, None, opts)
        import pulumi_aws as aws

        partition = partition_for(args.region)
        trail_name = physical_name(args.environment, "audit")
        trail_arn = f"arn:{partition}:cloudtrail:{args.region}:{args.account_id}:trail/{trail_name}"
        bucket_name = physical_name(args.environment, "audit", args.account_id, args.region)
        bucket_arn = f"arn:{partition}:s3:::{bucket_name}"
        from_this_trail = {"StringEquals": {"aws:SourceArn": trail_arn}}

        self.bucket = SecureBucket(
            f"{name}-bucket",
            SecureBucketArgs(
                bucket_name=bucket_name,
                account_id=args.account_id,
                region=args.region,
                kms_key_arn=args.logs_key_arn,
                log_bucket=args.access_log_bucket,
                lifecycle=Lifecycle(infrequent_access_after_days=90, noncurrent_version_expiry_days=90),
                object_lock_days=args.object_lock_days,
                object_lock_mode="COMPLIANCE",
                protect=args.protect,
                force_destroy=args.force_destroy,
                extra_policy_statements=[
                    Statement(
                        sid="CloudTrailAclCheck",
                        principals={"Service": "cloudtrail.amazonaws.com"},
                        actions=["s3:GetBucketAcl"],
                        resources=[bucket_arn],
                        conditions=from_this_trail,
                    ),
                    # CloudTrail user guide (create-s3-bucket-policy-for-cloudtrail): AWSCloudTrailWrite.
                    Statement(
                        sid="CloudTrailWrite",
                        principals={"Service": "cloudtrail.amazonaws.com"},
                        actions=["s3:PutObject"],
                        resources=[f"{bucket_arn}/AWSLogs/{args.account_id}/*"],
                        conditions={
                            "StringEquals": {
                                "s3:x-amz-acl": "bucket-owner-full-control",
                                "aws:SourceArn": trail_arn,
                            }
                        },
                    ),
                ],
                # Digests may be SSE-S3 (the older CloudTrail guide) or use the trail's key (the current
                # encrypting-cloudtrail-log-files-with-aws-kms): both are accepted, or validation writes none.
                sse_s3_prefixes=[f"AWSLogs/{args.account_id}/CloudTrail-Digest/"],
                depends_on=[args.access_log_resource] if args.access_log_resource else [],
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        log_group_name = f"/mlplatform/{args.environment}/cloudtrail"
        self.log_group = aws.cloudwatch.LogGroup(
            f"{name}-trail",
            aws.cloudwatch.LogGroupArgs(
                name=log_group_name,
                kms_key_id=args.logs_key_arn,
                retention_in_days=args.log_retention_days,
            ),
            opts=stateful_options(self, args.protect),
        )
        log_group_arn = f"arn:{partition}:logs:{args.region}:{args.account_id}:log-group:{log_group_name}"
        # Every event the trail delivers, counted: CloudTrail publishes no delivery-failure metric (only
        # GetTrailStatus.LatestDeliveryError), so an hour without events is the alarm (monitoring.py).
        aws.cloudwatch.LogMetricFilter(
            f"{name}-trail-events",
            aws.cloudwatch.LogMetricFilterArgs(
                log_group_name=self.log_group.name,
                name=physical_name(args.environment, "trail-events"),
                pattern="",  # "an empty pattern matches all log events" (CloudWatch Logs filter syntax)
                metric_transformation=aws.cloudwatch.LogMetricFilterMetricTransformationArgs(
                    name=TRAIL_METRIC[1], namespace=TRAIL_METRIC[0], value="1"
                ),
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        delivery, delivery_policy, _ = service_role(
            f"{name}-trail-delivery",
            parent=self,
            name=physical_name(args.environment, "cloudtrail-delivery"),
            description="CloudTrail delivery to CloudWatch Logs",
            boundary=args.permissions_boundary,
            trust=service_trust("CloudTrail", "cloudtrail.amazonaws.com", conditions=from_this_trail),
            policy_name="deliver",
            statements=[
                Statement(
                    sid="WriteTrailLogStreams",
                    actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                    resources=[f"{log_group_arn}:log-stream:*"],
                )
            ],
        )
        selectors = [
            aws.cloudtrail.TrailAdvancedEventSelectorArgs(
                name="Management events",
                field_selectors=[
                    aws.cloudtrail.TrailAdvancedEventSelectorFieldSelectorArgs(
                        field="eventCategory", equals=["Management"]
                    )
                ],
            )
        ]
        if args.data_event_bucket_arns:
            selectors.append(
                aws.cloudtrail.TrailAdvancedEventSelectorArgs(
                    name="Platform data objects",
                    field_selectors=[
                        aws.cloudtrail.TrailAdvancedEventSelectorFieldSelectorArgs(
                            field="eventCategory", equals=["Data"]
                        ),
                        aws.cloudtrail.TrailAdvancedEventSelectorFieldSelectorArgs(
                            field="resources.type", equals=["AWS::S3::Object"]
                        ),
                        aws.cloudtrail.TrailAdvancedEventSelectorFieldSelectorArgs(
                            field="resources.ARN", starts_withs=[f"{arn}/" for arn in args.data_event_bucket_arns]
                        ),
                    ],
                )
            )
        self.trail = aws.cloudtrail.Trail(
            f"{name}-trail",
            aws.cloudtrail.TrailArgs(
                name=trail_name,
                s3_bucket_name=self.bucket.bucket.id,
                is_multi_region_trail=True,
                include_global_service_events=True,
                enable_log_file_validation=True,
                enable_logging=True,
                kms_key_id=args.logs_key_arn,
                cloud_watch_logs_group_arn=f"{log_group_arn}:*",
                cloud_watch_logs_role_arn=delivery.arn,
                advanced_event_selectors=selectors,
            ),
            # The bucket policy and the delivery role must exist before CloudTrail checks them.
            opts=stateful_options(self, args.protect, depends_on=[self.bucket, delivery_policy, self.log_group]),
        )
        self.trail_arn = trail_arn
        self.register_outputs({"trailArn": trail_arn, "bucket": bucket_name, "logGroup": log_group_name})
