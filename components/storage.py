"""Hardened S3 buckets and the data lake built from them.

Every bucket: SSE-KMS with its domain key and bucket keys, versioning, all four public-access
blocks, ACLs disabled (BucketOwnerEnforced), server access logs to the log bucket, a policy that
denies plain HTTP and objects encrypted any other way, and lifecycle rules. The bucket that owns
data writes the grants for it (CDK style): exact actions on ``bucket`` and ``bucket/prefix*``,
and the key, used only through S3.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import pulumi

from foundation.conventions import PROJECT, partition_for, physical_name, stateful_options
from foundation.iam.documents import EVERYONE, Statement, document


@dataclass(frozen=True)
class Lifecycle:
    """Lifecycle rules of a bucket. ``None`` leaves a transition or expiry out."""

    infrequent_access_after_days: int | None = None
    archive_after_days: int | None = None
    expire_after_days: int | None = None
    noncurrent_version_expiry_days: int = 90
    abort_incomplete_uploads_after_days: int = 7
    # The rule's id (a bucket deployed with another id keeps it, rather than an update for a name).
    rule_id: str = "retention"


@dataclass(frozen=True)
class SecureBucketArgs:
    bucket_name: str
    account_id: str
    region: str
    # The key objects are encrypted with. Required unless this is the access-log bucket.
    kms_key_arn: pulumi.Input[str] | None = None
    # Bucket receiving this bucket's server access logs. Required unless this is the log bucket.
    log_bucket: pulumi.Input[str] | None = None
    # Named opt-out: S3 server access logging can only write to a bucket encrypted with SSE-S3,
    # so the log bucket uses SSE-S3, does not log itself, and admits the logging service.
    is_access_log_target: bool = False
    # Named opt-out: no server access logs, for a bucket that exists before any log bucket can (the
    # bootstrap's state bucket; CloudTrail's management events and the versioned objects remain).
    without_access_logs: bool = False
    lifecycle: Lifecycle = field(default_factory=Lifecycle)
    # Object lock (WORM) retention in days and mode; 0 leaves object lock off.
    object_lock_days: int = 0
    object_lock_mode: str = "COMPLIANCE"
    protect: bool = True
    # Named opt-out for disposable stacks: `pulumi destroy` empties the bucket first.
    force_destroy: bool = False
    # Service statements the owner adds (for example CloudTrail delivery to the audit bucket).
    extra_policy_statements: Sequence[Statement] = ()
    # Named opt-out: prefixes whose writer may encrypt with SSE-S3 and cannot be told otherwise (CloudTrail's
    # digest files: SSE-S3 per the older guide, the trail's key per the current one; both are accepted).
    sse_s3_prefixes: Sequence[str] = ()
    # The access-log bucket admits server access logs of these source buckets only (ARN patterns).
    log_sources: Sequence[str] = ()
    # Extra resources this bucket must wait for (its log bucket, so logging is configured after it).
    depends_on: Sequence[pulumi.Resource] = ()
    # Former identities of the bucket's resources (each is named like the component), where they
    # were deployed before under another parent: the engine then adopts them instead of replacing.
    aliases: Sequence[pulumi.Alias] = ()

    def __post_init__(self) -> None:
        if self.is_access_log_target:
            if self.kms_key_arn is not None or self.log_bucket is not None:
                raise ValueError("the access-log bucket uses SSE-S3 and does not log itself")
        elif self.kms_key_arn is None:
            raise ValueError(f"bucket {self.bucket_name} needs kms_key_arn")
        elif (self.log_bucket is None) != self.without_access_logs:
            raise ValueError(f"bucket {self.bucket_name} needs a log_bucket, or without_access_logs and none")
        if self.object_lock_days < 0 or self.object_lock_mode not in ("COMPLIANCE", "GOVERNANCE"):
            raise ValueError("object_lock_days must be >= 0 and object_lock_mode COMPLIANCE or GOVERNANCE")


SSE = "s3:x-amz-server-side-encryption"
SSE_KEY = "s3:x-amz-server-side-encryption-aws-kms-key-id"


def encryption_guard(
    bucket_arn: pulumi.Input[str], key_arn: pulumi.Input[str], *, sse_s3_resources: Sequence[str] = ()
) -> list[Statement]:
    """Uploads that name an encryption must name the bucket's key; uploads that name none get the
    bucket's default encryption (SSE-KMS with that key, S3 Bucket Key on).

    Each Deny fires only when the header is present (``Null: false``). A bare
    ``StringNotEqualsIfExists`` would fire when it is absent (IAM User Guide, condition operators:
    "If the key is not present, evaluate the condition element as true") and refuse every writer
    that leaves encryption to the bucket: the Pulumi state backend without ``ssetype``, boto3 and
    MLflow with their defaults, multipart ``UploadPart`` (which carries no SSE headers). A request
    that names ``aws:kms`` without a key is refused too: S3 would use the AWS managed key aws/s3
    (S3 API reference, PutObject, x-amz-server-side-encryption-aws-kms-key-id). The key may be named
    by its ARN or its id. ``sse_s3_resources`` (CloudTrail's digest files) may be SSE-S3."""
    objects = pulumi.Output.concat(bucket_arn, "/*")
    key_names = pulumi.Output.from_input(key_arn).apply(lambda arn: [arn, arn.rsplit("/", 1)[-1]])
    return [
        Statement(
            sid="DenyOtherEncryption",
            effect="Deny",
            principals=EVERYONE,
            actions=["s3:PutObject"],
            # every object of the bucket, but the prefixes whose writer uses SSE-S3
            resources=[] if sse_s3_resources else [objects],
            not_resources=[*sse_s3_resources, bucket_arn] if sse_s3_resources else [],
            conditions={"StringNotEquals": {SSE: "aws:kms"}, "Null": {SSE: "false"}},
        ),
        Statement(
            sid="DenyOtherKmsKey",
            effect="Deny",
            principals=EVERYONE,
            actions=["s3:PutObject"],
            resources=[objects],
            conditions={"StringNotEquals": {SSE_KEY: key_names}, "Null": {SSE_KEY: "false"}},
        ),
        Statement(
            sid="DenyKmsWithoutKey",
            effect="Deny",
            principals=EVERYONE,
            actions=["s3:PutObject"],
            resources=[objects],
            conditions={"StringEquals": {SSE: "aws:kms"}, "Null": {SSE_KEY: "true"}},
        ),
    ]


class SecureBucket(pulumi.ComponentResource):
    """One S3 bucket with every hardening setting, and grant helpers for its objects."""

    def __init__(self, name: str, args: SecureBucketArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("mlplatform:storage:SecureBucket", name, None, opts)
        import pulumi_aws as aws

        s3 = aws.s3
        self.args = args
        self.label = name  # the logical name: statement ids of grants derive from it
        self.name = args.bucket_name
        self.arn = f"arn:{partition_for(args.region)}:s3:::{args.bucket_name}"
        aliases = list(args.aliases) or None
        child = pulumi.ResourceOptions(parent=self, aliases=aliases)

        self.bucket = s3.Bucket(
            name,
            s3.BucketArgs(
                bucket=args.bucket_name,
                force_destroy=args.force_destroy,
                object_lock_enabled=args.object_lock_days > 0,
            ),
            opts=stateful_options(self, args.protect, aliases=aliases),
        )
        bucket_id = self.bucket.id
        public_block = s3.BucketPublicAccessBlock(
            name,
            s3.BucketPublicAccessBlockArgs(
                bucket=bucket_id,
                block_public_acls=True,
                block_public_policy=True,
                ignore_public_acls=True,
                restrict_public_buckets=True,
            ),
            opts=child,
        )
        s3.BucketOwnershipControls(
            name,
            s3.BucketOwnershipControlsArgs(
                bucket=bucket_id,
                rule=s3.BucketOwnershipControlsRuleArgs(object_ownership="BucketOwnerEnforced"),
            ),
            opts=child,
        )
        versioning = s3.BucketVersioning(
            name,
            s3.BucketVersioningInitArgs(
                bucket=bucket_id,
                versioning_configuration=s3.BucketVersioningVersioningConfigurationArgs(status="Enabled"),
            ),
            opts=child,
        )
        by_default = (
            s3.BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultArgs(sse_algorithm="AES256")
            if args.is_access_log_target
            else s3.BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultArgs(
                sse_algorithm="aws:kms", kms_master_key_id=args.kms_key_arn
            )
        )
        s3.BucketServerSideEncryptionConfiguration(
            name,
            s3.BucketServerSideEncryptionConfigurationInitArgs(
                bucket=bucket_id,
                rules=[
                    s3.BucketServerSideEncryptionConfigurationRuleArgs(
                        apply_server_side_encryption_by_default=by_default,
                        bucket_key_enabled=not args.is_access_log_target,
                    )
                ],
            ),
            opts=child,
        )
        if args.log_bucket is not None:
            s3.BucketLogging(
                name,
                s3.BucketLoggingInitArgs(
                    bucket=bucket_id, target_bucket=args.log_bucket, target_prefix=f"{self.name}/"
                ),
                opts=pulumi.ResourceOptions(parent=self, aliases=aliases, depends_on=list(args.depends_on)),
            )
        s3.BucketPolicy(
            name,
            s3.BucketPolicyArgs(bucket=bucket_id, policy=document(self._policy_statements())),
            opts=pulumi.ResourceOptions(parent=self, aliases=aliases, depends_on=[public_block]),
        )
        s3.BucketLifecycleConfiguration(
            name,
            s3.BucketLifecycleConfigurationArgs(bucket=bucket_id, rules=_lifecycle_rules(args.lifecycle)),
            opts=pulumi.ResourceOptions(parent=self, aliases=aliases, depends_on=[versioning]),
        )
        if args.object_lock_days:
            s3.BucketObjectLockConfiguration(
                name,
                s3.BucketObjectLockConfigurationInitArgs(
                    bucket=bucket_id,
                    rule=s3.BucketObjectLockConfigurationRuleArgs(
                        default_retention=s3.BucketObjectLockConfigurationRuleDefaultRetentionArgs(
                            mode=args.object_lock_mode, days=args.object_lock_days
                        )
                    ),
                ),
                opts=pulumi.ResourceOptions(parent=self, aliases=aliases, depends_on=[versioning]),
            )
        self.register_outputs({"bucket": self.name, "arn": self.arn})

    def _policy_statements(self) -> list[Statement]:
        a = self.args
        objects = f"{self.arn}/*"
        statements = [
            Statement(
                sid="DenyInsecureTransport",
                effect="Deny",
                principals=EVERYONE,
                actions=["s3:*"],
                resources=[self.arn, objects],
                conditions={"Bool": {"aws:SecureTransport": "false"}},
            )
        ]
        if a.is_access_log_target:
            statements.append(
                Statement(
                    sid="AllowServerAccessLogDelivery",
                    principals={"Service": "logging.s3.amazonaws.com"},
                    actions=["s3:PutObject"],
                    resources=[objects],
                    # S3 user guide (enable-server-access-logging): the delivery policy names the source
                    # buckets (aws:SourceArn) and their account (aws:SourceAccount).
                    conditions={
                        "StringEquals": {"aws:SourceAccount": a.account_id},
                        **({"ArnLike": {"aws:SourceArn": list(a.log_sources)}} if a.log_sources else {}),
                    },
                )
            )
        else:
            sse_s3 = [f"{self.arn}/{prefix}*" for prefix in a.sse_s3_prefixes]
            statements += encryption_guard(self.arn, a.kms_key_arn, sse_s3_resources=sse_s3)
        return statements + list(a.extra_policy_statements)

    # --- grants: the exact actions and ARNs a role needs on this bucket -------------------------

    def grant_read(self, prefix: str = "") -> list[Statement]:
        """Read objects under ``prefix`` (and list them); decrypt with the bucket's key through S3."""
        sid = _sid("Read", self.label, prefix)
        statements = [
            Statement(
                sid=f"{sid}Objects",
                actions=["s3:GetObject", "s3:GetObjectVersion"],
                resources=[f"{self.arn}/{prefix}*"],
            ),
            Statement(
                sid=f"{sid}List",
                actions=["s3:ListBucket"],
                resources=[self.arn],
                conditions={"StringLike": {"s3:prefix": [f"{prefix}*"]}} if prefix else {},
            ),
        ]
        return statements + self._key_use(sid, ["kms:Decrypt"])

    def grant_write(self, prefix: str = "") -> list[Statement]:
        """Write (not delete) objects under ``prefix``; encrypt with the bucket's key through S3."""
        sid = _sid("Write", self.label, prefix)
        statements = [
            Statement(
                sid=f"{sid}Objects",
                actions=["s3:PutObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"],
                resources=[f"{self.arn}/{prefix}*"],
            )
        ]
        # Decrypt is needed to complete multipart uploads of SSE-KMS objects.
        return statements + self._key_use(sid, ["kms:GenerateDataKey", "kms:Decrypt"])

    def _key_use(self, sid: str, actions: list[str]) -> list[Statement]:
        if self.args.kms_key_arn is None:
            return []
        return [
            Statement(
                sid=f"{sid}Key",
                actions=actions,
                resources=[self.args.kms_key_arn],
                conditions={"StringEquals": {"kms:ViaService": f"s3.{self.args.region}.amazonaws.com"}},
            )
        ]


def _sid(verb: str, label: str, prefix: str) -> str:
    """``Read`` + ``lake-curated`` + ``experiments/recsys/`` -> ``ReadLakeCuratedExperimentsRecsys``."""
    words = f"{label}-{prefix}".replace("/", "-").replace("_", "-").replace(".", "-").split("-")
    return verb + "".join(w.capitalize() for w in words if w.isalnum())


def _lifecycle_rules(lc: Lifecycle) -> list:
    import pulumi_aws as aws

    s3 = aws.s3
    transitions = []
    if lc.infrequent_access_after_days:
        transitions.append(
            s3.BucketLifecycleConfigurationRuleTransitionArgs(
                days=lc.infrequent_access_after_days, storage_class="STANDARD_IA"
            )
        )
    if lc.archive_after_days:
        transitions.append(
            s3.BucketLifecycleConfigurationRuleTransitionArgs(days=lc.archive_after_days, storage_class="GLACIER_IR")
        )
    return [
        s3.BucketLifecycleConfigurationRuleArgs(
            id=lc.rule_id,
            status="Enabled",
            filter=s3.BucketLifecycleConfigurationRuleFilterArgs(prefix=""),
            transitions=transitions or None,
            expiration=s3.BucketLifecycleConfigurationRuleExpirationArgs(days=lc.expire_after_days)
            if lc.expire_after_days
            else None,
            noncurrent_version_expiration=s3.BucketLifecycleConfigurationRuleNoncurrentVersionExpirationArgs(
                noncurrent_days=lc.noncurrent_version_expiry_days
            ),
            abort_incomplete_multipart_upload=s3.BucketLifecycleConfigurationRuleAbortIncompleteMultipartUploadArgs(
                days_after_initiation=lc.abort_incomplete_uploads_after_days
            ),
        )
    ]


# --- the data lake ------------------------------------------------------------------------------

ZONES = ("raw", "curated", "artifacts")


@dataclass(frozen=True)
class DataLakeArgs:
    environment: str
    account_id: str
    region: str
    data_key_arn: pulumi.Input[str]
    models_key_arn: pulumi.Input[str]
    raw_lifecycle: Lifecycle = field(default_factory=lambda: Lifecycle(30, 90))
    curated_lifecycle: Lifecycle = field(default_factory=Lifecycle)
    artifacts_lifecycle: Lifecycle = field(default_factory=Lifecycle)
    access_log_retention_days: int = 365
    artifact_object_lock_days: int = 0
    protect: bool = True
    force_destroy: bool = False
    # Accounts that deploy this registry's model packages: they read the models/ prefix of the
    # artifacts bucket (SageMaker guide, model-registry-deploy: an S3 bucket policy for the consumer).
    model_consumers: Sequence[str] = ()


class DataLake(pulumi.ComponentResource):
    """Raw, curated and model-artifact buckets, and the bucket their access logs go to."""

    def __init__(self, name: str, args: DataLakeArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("mlplatform:storage:DataLake", name, None, opts)
        common = {
            "account_id": args.account_id,
            "region": args.region,
            "protect": args.protect,
            "force_destroy": args.force_destroy,
        }
        child = pulumi.ResourceOptions(parent=self)

        def bucket_name(purpose: str) -> str:
            return physical_name(args.environment, purpose, args.account_id, args.region)

        self.access_logs = SecureBucket(
            f"{name}-access-logs",
            SecureBucketArgs(
                bucket_name=bucket_name("access-logs"),
                is_access_log_target=True,
                # the platform's buckets of this environment, the audit bucket included
                log_sources=[f"arn:{partition_for(args.region)}:s3:::{PROJECT}-{args.environment}-*"],
                lifecycle=Lifecycle(
                    expire_after_days=args.access_log_retention_days, noncurrent_version_expiry_days=30
                ),
                **common,
            ),
            opts=child,
        )
        zone_specs = {
            "raw": (args.data_key_arn, args.raw_lifecycle, 0),
            "curated": (args.data_key_arn, args.curated_lifecycle, 0),
            "artifacts": (args.models_key_arn, args.artifacts_lifecycle, args.artifact_object_lock_days),
        }
        self.zones: dict[str, SecureBucket] = {}
        for zone, (key, lifecycle, lock_days) in zone_specs.items():
            self.zones[zone] = SecureBucket(
                f"{name}-{zone}",
                SecureBucketArgs(
                    bucket_name=bucket_name(zone),
                    kms_key_arn=key,
                    log_bucket=self.access_logs.name,
                    lifecycle=lifecycle,
                    object_lock_days=lock_days,
                    object_lock_mode="GOVERNANCE",
                    extra_policy_statements=consumer_reads(bucket_name(zone), args) if zone == "artifacts" else (),
                    **common,
                ),
                opts=pulumi.ResourceOptions(parent=self, depends_on=[self.access_logs]),
            )
        self.register_outputs({"buckets": {z: b.name for z, b in self.zones.items()}})

    def zone(self, name: str) -> SecureBucket:
        try:
            return self.zones[name]
        except KeyError:
            raise KeyError(f"no data lake zone {name!r}; zones: {', '.join(self.zones)}") from None


def consumer_reads(bucket: str, args: DataLakeArgs) -> list[Statement]:
    """Consumer accounts read model artifacts (``models/``) to deploy a package of this registry."""
    if not args.model_consumers:
        return []
    arn = f"arn:{partition_for(args.region)}:s3:::{bucket}"
    principals = {"AWS": [f"arn:{partition_for(args.region)}:iam::{a}:root" for a in args.model_consumers]}
    return [
        Statement(
            sid="ConsumersReadModels",
            principals=principals,
            actions=["s3:GetObject", "s3:GetObjectVersion"],
            resources=[f"{arn}/models/*"],
        ),
        Statement(
            sid="ConsumersListModels",
            principals=principals,
            actions=["s3:ListBucket"],
            resources=[arn],
            conditions={"StringLike": {"s3:prefix": ["models/*"]}},
        ),
    ]
