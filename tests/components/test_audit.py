"""The audit trail: multi-region, validated, encrypted, delivered to a locked bucket and to logs."""

from __future__ import annotations

from tests.plans import policy, settings_of

TRAIL, LOG_GROUP = "aws:cloudtrail/trail:Trail", "aws:cloudwatch/logGroup:LogGroup"


def test_trail_records_everything_and_protects_its_logs(any_plan):
    (trail,) = any_plan.of_type(TRAIL)
    t = trail.inputs
    env, acct = any_plan.stack, any_plan.outputs["accountId"]
    assert t["name"] == f"mlplatform-{env}-audit"
    assert t["isMultiRegionTrail"] is True and t["includeGlobalServiceEvents"] is True
    assert t["enableLogFileValidation"] is True and t["enableLogging"] is True
    assert t["kmsKeyId"] == any_plan.outputs["kmsKeyArns"]["logs"]
    assert t["s3BucketName"] == f"mlplatform-{env}-audit-{acct}-eu-west-1"
    assert t["cloudWatchLogsGroupArn"] == f"arn:aws:logs:eu-west-1:{acct}:log-group:/mlplatform/{env}/cloudtrail:*"
    management, data = t["advancedEventSelectors"]
    assert management["fieldSelectors"] == [{"field": "eventCategory", "equals": ["Management"]}]
    fields = {f["field"]: f for f in data["fieldSelectors"]}
    assert fields["eventCategory"]["equals"] == ["Data"]
    assert fields["resources.type"]["equals"] == ["AWS::S3::Object"]
    lake = any_plan.outputs["buckets"]
    assert fields["resources.ARN"]["startsWiths"] == [
        f"arn:aws:s3:::{lake[z]}/" for z in ("raw", "curated", "artifacts")
    ]
    # CloudTrail checks the bucket policy and the delivery role when the trail is created
    deps = set(trail.dependencies)
    assert any_plan.get("aws:s3/bucketPolicy:BucketPolicy", "audit-bucket").urn in deps
    assert any_plan.get("aws:iam/rolePolicy:RolePolicy", "audit-trail-delivery").urn in deps


def test_trail_log_group_is_encrypted_with_the_stack_retention(any_plan):
    retention = settings_of(any_plan.stack).monitoring.log_retention_days
    group = any_plan.get(LOG_GROUP, "audit-trail")
    assert group.inputs["kmsKeyId"] == any_plan.outputs["kmsKeyArns"]["logs"]
    assert group.inputs["retentionInDays"] == retention


def test_only_this_trail_may_write_to_the_audit_bucket(any_plan):
    acct, env = any_plan.outputs["accountId"], any_plan.stack
    bucket = f"mlplatform-{env}-audit-{acct}-eu-west-1"
    (bp,) = [r for r in any_plan.of_type("aws:s3/bucketPolicy:BucketPolicy") if r.inputs["bucket"] == bucket]
    sts = {s["Sid"]: s for s in policy(bp)["Statement"]}
    this_trail = {
        "StringEquals": {"aws:SourceArn": f"arn:aws:cloudtrail:eu-west-1:{acct}:trail/mlplatform-{env}-audit"}
    }
    assert sts["CloudTrailWrite"]["Principal"] == {"Service": "cloudtrail.amazonaws.com"}
    assert sts["CloudTrailWrite"]["Resource"] == f"arn:aws:s3:::{bucket}/AWSLogs/{acct}/*"
    # the guide's AWSCloudTrailWrite: the trail's ARN and the bucket-owner-full-control ACL
    assert sts["CloudTrailWrite"]["Condition"] == {
        "StringEquals": {**this_trail["StringEquals"], "s3:x-amz-acl": "bucket-owner-full-control"}
    }
    assert sts["CloudTrailAclCheck"]["Condition"] == this_trail


def test_delivery_role_writes_only_the_trail_log_streams(any_plan):
    acct, env = any_plan.outputs["accountId"], any_plan.stack
    (st,) = policy(any_plan.get("aws:iam/rolePolicy:RolePolicy", "audit-trail-delivery"))["Statement"]
    assert st["Action"] == ["logs:CreateLogStream", "logs:PutLogEvents"]
    assert st["Resource"] == f"arn:aws:logs:eu-west-1:{acct}:log-group:/mlplatform/{env}/cloudtrail:log-stream:*"
    (trust,) = policy(any_plan.get("aws:iam/role:Role", "audit-trail-delivery"), "assumeRolePolicy")["Statement"]
    assert trust["Principal"] == {"Service": "cloudtrail.amazonaws.com"}
