"""Every bucket of every stack has every hardening setting; lifecycle and locks follow the stack."""

from __future__ import annotations

import json

import pytest

from components.storage import SSE_KEY, Lifecycle, SecureBucketArgs
from tests.plans import policy, settings_of

S3 = "aws:s3/"


def config(plan, kind: str, bucket: str) -> dict:
    """The inputs of a bucket's configuration resource (e.g. kind='bucketVersioning:BucketVersioning')."""
    (found,) = [r for r in plan.of_type(S3 + kind) if r.inputs["bucket"] == bucket]
    return found.inputs


def buckets(plan) -> dict[str, str]:
    """Bucket name -> the SecureBucket it belongs to (its logical name)."""
    return {r.inputs["bucket"]: r.name for r in plan.of_type(S3 + "bucket:Bucket")}


def test_each_stack_has_the_lake_zones_audit_and_log_buckets(any_plan):
    env, acct = any_plan.stack, any_plan.outputs["accountId"]
    assert set(buckets(any_plan)) == {
        f"mlplatform-{env}-{purpose}-{acct}-eu-west-1"
        for purpose in ("raw", "curated", "artifacts", "access-logs", "audit")
    }


def test_every_bucket_is_hardened(any_plan):
    keys = any_plan.outputs["kmsKeyArns"]
    expected_key = {"raw": keys["data"], "curated": keys["data"], "artifacts": keys["models"], "audit": keys["logs"]}
    log_bucket = next(b for b in buckets(any_plan) if "-access-logs-" in b)
    for bucket, label in buckets(any_plan).items():
        pab = config(any_plan, "bucketPublicAccessBlock:BucketPublicAccessBlock", bucket)
        assert all(
            pab[f] is True
            for f in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
        )
        ownership = config(any_plan, "bucketOwnershipControls:BucketOwnershipControls", bucket)
        assert ownership["rule"] == {"objectOwnership": "BucketOwnerEnforced"}
        versioning = config(any_plan, "bucketVersioning:BucketVersioning", bucket)
        assert versioning["versioningConfiguration"]["status"] == "Enabled"
        (rule,) = config(
            any_plan, "bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration", bucket
        )["rules"]
        statements = {
            s["Sid"]: s
            for s in policy(
                next(r for r in any_plan.of_type(S3 + "bucketPolicy:BucketPolicy") if r.inputs["bucket"] == bucket)
            )["Statement"]
        }
        tls = statements["DenyInsecureTransport"]
        assert tls["Effect"] == "Deny" and tls["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
        assert tls["Resource"] == [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"]
        for st in statements.values():
            assert st["Effect"] == "Deny" or "*" not in json.dumps(st.get("Principal", {})), st["Sid"]
        if bucket == log_bucket:
            # S3 server access logging can only deliver to SSE-S3 buckets
            assert rule["applyServerSideEncryptionByDefault"] == {"sseAlgorithm": "AES256"}
            assert statements["AllowServerAccessLogDelivery"]["Condition"] == {
                "StringEquals": {"aws:SourceAccount": any_plan.outputs["accountId"]},
                "ArnLike": {"aws:SourceArn": [f"arn:aws:s3:::mlplatform-{any_plan.stack}-*"]},
            }
            assert not [r for r in any_plan.of_type(S3 + "bucketLogging:BucketLogging") if r.inputs["bucket"] == bucket]
            continue
        zone = label.split("-")[-1] if label.startswith("lake-") else "audit"
        assert rule["applyServerSideEncryptionByDefault"] == {
            "sseAlgorithm": "aws:kms",
            "kmsMasterKeyId": expected_key[zone],
        }
        assert rule["bucketKeyEnabled"] is True
        logging = config(any_plan, "bucketLogging:BucketLogging", bucket)
        assert logging["targetBucket"] == log_bucket and logging["targetPrefix"] == f"{bucket}/"
        # What the encryption statements let through and refuse is evaluated with IAM's semantics on
        # real requests in tests/access/test_requests.py; here: they name this bucket's key.
        assert expected_key[zone] in statements["DenyOtherKmsKey"]["Condition"]["StringNotEquals"][SSE_KEY]
        deny = statements["DenyOtherEncryption"]
        # every object of the bucket, but CloudTrail's SSE-S3 digests in the audit bucket
        if zone == "audit":
            digests = f"arn:aws:s3:::{bucket}/AWSLogs/{any_plan.outputs['accountId']}/CloudTrail-Digest/*"
            assert deny["NotResource"] == [digests, f"arn:aws:s3:::{bucket}"]
        else:
            assert deny["Resource"] == f"arn:aws:s3:::{bucket}/*"


def test_lifecycle_rules_follow_the_stack_settings(any_plan):
    plan, settings = any_plan, settings_of(any_plan.stack)
    st = settings.storage
    ia, archive = st.raw_infrequent_access_after_days, st.raw_archive_after_days
    noncurrent, abort = st.noncurrent_version_expiry_days, st.abort_incomplete_uploads_after_days
    logs_expire = settings.monitoring.log_retention_days
    names = {label: name for name, label in buckets(plan).items()}
    lifecycle = "bucketLifecycleConfiguration:BucketLifecycleConfiguration"
    (raw,) = config(plan, lifecycle, names["lake-raw"])["rules"]
    assert raw["status"] == "Enabled" and raw["filter"] == {"prefix": ""}
    assert raw["transitions"] == [
        {"days": ia, "storageClass": "STANDARD_IA"},
        {"days": archive, "storageClass": "GLACIER_IR"},
    ]
    for label in ("lake-raw", "lake-curated", "lake-artifacts"):
        (rule,) = config(plan, lifecycle, names[label])["rules"]
        assert rule["noncurrentVersionExpiration"] == {"noncurrentDays": noncurrent}
        assert rule["abortIncompleteMultipartUpload"] == {"daysAfterInitiation": abort}
    (logs,) = config(plan, lifecycle, names["lake-access-logs"])["rules"]
    assert logs["expiration"] == {"days": logs_expire}


def test_object_lock_only_where_the_stack_asks(any_plan):
    plan, stack, settings = any_plan, any_plan.stack, settings_of(any_plan.stack)
    artifacts, audit = settings.storage.artifact_object_lock_days, settings.audit.object_lock_days
    locks = {
        buckets(plan)[r.inputs["bucket"]]: r.inputs["rule"]["defaultRetention"]
        for r in plan.of_type(S3 + "bucketObjectLockConfiguration:BucketObjectLockConfiguration")
    }
    expected = {}
    if artifacts:
        expected["lake-artifacts"] = {"mode": "GOVERNANCE", "days": artifacts}
    if audit:
        expected["audit-bucket"] = {"mode": "COMPLIANCE", "days": audit}
    assert locks == expected, stack
    locked = {r.name for r in plan.of_type(S3 + "bucket:Bucket") if r.inputs.get("objectLockEnabled")}
    assert locked == set(expected)


def test_only_disposable_stacks_empty_buckets_on_destroy(any_plan):
    flags = {r.inputs["forceDestroy"] for r in any_plan.of_type(S3 + "bucket:Bucket")}
    assert flags == {not settings_of(any_plan.stack).protect}


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"kms_key_arn": None}, "needs kms_key_arn"),
        ({"log_bucket": None}, "needs a log_bucket, or without_access_logs and none"),
        # the opt-out is for a bucket with no log bucket, never a way to drop a configured one
        ({"without_access_logs": True}, "needs a log_bucket, or without_access_logs and none"),
        ({"is_access_log_target": True}, "uses SSE-S3 and does not log itself"),
        ({"object_lock_mode": "FOREVER", "object_lock_days": 1}, "object_lock_mode COMPLIANCE or GOVERNANCE"),
    ],
)
def test_secure_bucket_args_refuse_an_unhardened_bucket(changes, message):
    base = {
        "bucket_name": "b",
        "account_id": "111111111111",
        "region": "eu-west-1",
        "kms_key_arn": "arn:aws:kms:eu-west-1:111111111111:key/k",
        "log_bucket": "logs",
        "lifecycle": Lifecycle(),
    }
    with pytest.raises(ValueError, match=message):
        SecureBucketArgs(**{**base, **changes})
    SecureBucketArgs(**base)  # the base is valid: each case fails for its one change
    SecureBucketArgs(**{**base, "log_bucket": None, "without_access_logs": True})  # the named opt-out
