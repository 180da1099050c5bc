"""What one S3 API call asks IAM: the S3 request (action, object ARN, condition keys from its
headers) and, for SSE-KMS objects, the KMS request S3 makes with the caller's identity.

Sources:
- Actions: S3 user guide, "Multipart upload and permissions": CreateMultipartUpload, UploadPart and
  CompleteMultipartUpload are authorized as ``s3:PutObject``; HeadObject as ``s3:GetObject``
  (Service Authorization Reference, Amazon S3).
- Condition keys: ``s3:x-amz-server-side-encryption``, ``s3:x-amz-server-side-encryption-aws-kms-key-id``
  and ``s3:x-amz-acl`` hold the request's headers, and are absent when it sends none (the keys
  table of the Service Authorization Reference; S3 user guide, "Amazon S3 condition key examples").
  UploadPart may carry no SSE-KMS headers (S3 API reference, UploadPart: only SSE-C ones).
- Which key: the header's key; ``aws:kms`` without a key id uses the AWS managed key ``aws/s3`` (S3 API
  reference, PutObject); no header uses the bucket's default encryption (S3 user guide,
  default-bucket-encryption).
- KMS: "the requester must have permission to the kms:Decrypt and kms:GenerateDataKey* actions"
  (multipart upload and permissions); S3 calls KMS on the caller's behalf, so the key policy sees
  ``kms:ViaService`` = ``s3.<region>.amazonaws.com`` and ``kms:CallerAccount`` (KMS developer guide,
  conditions-kms). With S3 Bucket Keys the encryption context is the bucket's ARN.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from pipelines.semantics.iam import Decision, Principal, Request, evaluate

ACTIONS = {
    "PutObject": "s3:PutObject",
    "CreateMultipartUpload": "s3:PutObject",
    "UploadPart": "s3:PutObject",
    "CompleteMultipartUpload": "s3:PutObject",
    "GetObject": "s3:GetObject",
    "HeadObject": "s3:GetObject",
    "ListBucket": "s3:ListBucket",
}
# KMS calls S3 makes for an SSE-KMS object, per operation.
KMS_CALLS = {
    "PutObject": "kms:GenerateDataKey",
    "CreateMultipartUpload": "kms:GenerateDataKey",
    "UploadPart": "kms:GenerateDataKey",
    "CompleteMultipartUpload": "kms:Decrypt",
    "GetObject": "kms:Decrypt",
    "HeadObject": None,
    "ListBucket": None,
}
HEADER_KEYS = {
    "x-amz-server-side-encryption": "s3:x-amz-server-side-encryption",
    "x-amz-server-side-encryption-aws-kms-key-id": "s3:x-amz-server-side-encryption-aws-kms-key-id",
    "x-amz-acl": "s3:x-amz-acl",
}
AWS_MANAGED_S3_KEY = "alias/aws/s3"


@dataclass(frozen=True)
class S3Call:
    """One API call as a client sends it."""

    operation: str
    bucket: str
    key: str = ""
    headers: Mapping[str, str] = field(default_factory=dict)
    secure: bool = True
    # For service principals: on whose behalf (aws:SourceAccount, aws:SourceArn), and the encryption
    # context of the KMS call the service makes itself (CloudTrail: kms:EncryptionContext:aws:cloudtrail:arn).
    source_account: str | None = None
    source_arn: str | None = None
    kms_context: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.operation == "UploadPart" and any("encryption" in h and "customer" not in h for h in self.headers):
            raise ValueError("UploadPart carries no SSE-S3 or SSE-KMS header (S3 API reference, UploadPart)")


def requests(
    call: S3Call, principal: Principal, *, region: str, default_key: str | None
) -> tuple[Request, Request | None]:
    """The S3 request and, when the object is (or is to be) SSE-KMS, the KMS request S3 makes.
    ``default_key``: the bucket's default encryption key (None for SSE-S3 buckets)."""
    context: dict[str, object] = {"aws:SecureTransport": "true" if call.secure else "false"}
    if principal.service:
        context["aws:PrincipalServiceName"] = principal.service
        context |= {
            k: v for k, v in (("aws:SourceAccount", call.source_account), ("aws:SourceArn", call.source_arn)) if v
        }
    else:
        context |= {"aws:PrincipalArn": principal.role_arn, "aws:PrincipalAccount": principal.account}
    for header, value in call.headers.items():
        if header in HEADER_KEYS:
            context[HEADER_KEYS[header]] = value
    bucket_arn = f"arn:aws:s3:::{call.bucket}"
    resource = bucket_arn if call.operation == "ListBucket" else f"{bucket_arn}/{call.key}"
    s3 = Request(principal, ACTIONS[call.operation], resource, context)
    kms_action = KMS_CALLS[call.operation]
    key = _key(call, default_key)
    if kms_action is None or key is None:
        return s3, None
    if principal.service:
        # A service that writes encrypted objects for itself (CloudTrail) calls KMS as itself.
        sources = {k: v for k, v in context.items() if k in ("aws:SourceAccount", "aws:SourceArn")}
        return s3, Request(principal, kms_action, key, {**sources, **call.kms_context})
    kms = Request(
        principal,
        kms_action,
        key,
        {
            "kms:ViaService": f"s3.{region}.amazonaws.com",
            "kms:CallerAccount": principal.account or "",
            "kms:EncryptionContext:aws:s3:arn": bucket_arn,
            **({"aws:PrincipalArn": principal.role_arn} if principal.role_arn else {}),
            **call.kms_context,
        },
    )
    return s3, kms


def _key(call: S3Call, default_key: str | None) -> str | None:
    sse = call.headers.get("x-amz-server-side-encryption")
    named = call.headers.get("x-amz-server-side-encryption-aws-kms-key-id")
    if named:
        return named
    if sse == "aws:kms":
        return AWS_MANAGED_S3_KEY
    if sse == "AES256":
        return None
    return default_key


@dataclass(frozen=True)
class Setting:
    """The policies around one bucket: its policy, its default key and that key's policy, and the
    caller's identity policies and boundary."""

    region: str
    bucket_policy: Mapping | None
    default_key: str | None
    key_policies: Mapping[str, Mapping]  # key ARN -> key policy
    identity: tuple[Mapping, ...] = ()
    boundary: Mapping | None = None
    account: str | None = None  # the bucket's and keys' account
    # Each key's tags: requests to a key carry them as aws:ResourceTag/<key> (IAM condition keys).
    key_tags: Mapping[str, Mapping[str, str]] = field(default_factory=dict)


def aws_managed_key_policy(account: str, region: str, service: str) -> dict:
    """The key policy of an AWS managed key (aws/s3): every principal of the account may use it
    through that service (KMS developer guide, "AWS managed keys": the policy of aws/ebs allows
    "all principals in the account" with kms:CallerAccount and kms:ViaService)."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": "*"},
                "Action": ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey"],
                "Resource": "*",
                "Condition": {
                    "StringEquals": {
                        "kms:CallerAccount": account,
                        "kms:ViaService": f"{service}.{region}.amazonaws.com",
                    }
                },
            }
        ],
    }


def decide(call: S3Call, principal: Principal, setting: Setting) -> Decision:
    """Whether AWS lets ``principal`` make ``call``: the S3 request, then S3's KMS request."""
    s3, kms = requests(call, principal, region=setting.region, default_key=setting.default_key)
    first = evaluate(
        s3,
        identity=setting.identity,
        boundary=setting.boundary,
        resource_policy=setting.bucket_policy,
        resource_account=setting.account,
    )
    if not first or kms is None:
        return first
    policies = {AWS_MANAGED_S3_KEY: aws_managed_key_policy(setting.account or "", setting.region, "s3")}
    policies |= setting.key_policies
    if kms.resource not in policies:
        return Decision(False, f"S3 would encrypt with {kms.resource}, a key the setting does not have")
    tags = {f"aws:ResourceTag/{k}": v for k, v in setting.key_tags.get(kms.resource, {}).items()}
    kms = Request(kms.principal, kms.action, kms.resource, {**kms.context, **tags})
    second = evaluate(
        kms,
        identity=setting.identity,
        boundary=setting.boundary,
        resource_policy=policies[kms.resource],
        resource_account=setting.account,
        key_policy=True,
    )
    return Decision(second.allowed, f"KMS: {second.why}")
