"""S3 rules: every bucket private, encrypted with a customer key, versioned, logged, TLS-only."""

from __future__ import annotations

from infra.policies.framework import as_list, principals, resource_rule, stack_rule, statements

S3 = "aws:s3/"


@resource_rule(
    "s3-public-access-block",
    "Buckets block public ACLs and policies (all four flags)",
    [S3 + "bucketPublicAccessBlock:BucketPublicAccessBlock"],
)
def public_access_block(args):
    flags = ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
    off = [f for f in flags if args.props.get(f) is not True]
    if off:
        yield f"bucket {args.props.get('bucket')}: public access block must set {', '.join(off)} to true"


@resource_rule(
    "s3-sse-kms",
    "Default encryption is SSE-KMS with a customer key and bucket keys",
    [S3 + "bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"],
)
def sse_kms(args):
    for rule in as_list(args.props.get("rules")):
        default = rule.get("applyServerSideEncryptionByDefault") or {}
        if default.get("sseAlgorithm") == "AES256" and "access-logs" in str(args.props.get("bucket")):
            continue  # S3 server access logs can only be delivered to SSE-S3 buckets
        if default.get("sseAlgorithm") != "aws:kms" or not default.get("kmsMasterKeyId"):
            yield f"bucket {args.props.get('bucket')}: use sseAlgorithm aws:kms with the domain's customer key"
        elif rule.get("bucketKeyEnabled") is not True:
            yield f"bucket {args.props.get('bucket')}: enable bucketKeyEnabled (cuts KMS requests and cost)"


@resource_rule("s3-versioning", "Buckets keep versions of their objects", [S3 + "bucketVersioning:BucketVersioning"])
def versioning(args):
    if (args.props.get("versioningConfiguration") or {}).get("status") != "Enabled":
        yield f"bucket {args.props.get('bucket')}: set versioningConfiguration.status to Enabled"


@resource_rule(
    "s3-acls-disabled",
    "Object ownership is BucketOwnerEnforced (ACLs disabled)",
    [S3 + "bucketOwnershipControls:BucketOwnershipControls"],
)
def ownership(args):
    if (args.props.get("rule") or {}).get("objectOwnership") != "BucketOwnerEnforced":
        yield f"bucket {args.props.get('bucket')}: set rule.objectOwnership to BucketOwnerEnforced"


@resource_rule("s3-tls-only", "Bucket policies deny requests without TLS", [S3 + "bucketPolicy:BucketPolicy"])
def tls_only(args):
    for st in statements(args.props.get("policy")):
        cond = (st.get("Condition") or {}).get("Bool", {})
        if st.get("Effect") == "Deny" and str(cond.get("aws:SecureTransport")).lower() == "false":
            return
    yield f"bucket {args.props.get('bucket')}: add a Deny statement for aws:SecureTransport = false"


@resource_rule("s3-no-public-principal", "Bucket policies allow no Principal '*'", [S3 + "bucketPolicy:BucketPolicy"])
def no_public_principal(args):
    for st in statements(args.props.get("policy")):
        if st.get("Effect") == "Allow" and "*" in principals(st):
            yield f"bucket {args.props.get('bucket')}: statement {st.get('Sid', '?')} allows Principal '*'"


@stack_rule("s3-access-logging", "Every bucket but the access-log bucket sends server access logs")
def access_logging(args):
    logged = {r.props.get("bucket") for r in args.resources if r.resource_type == S3 + "bucketLogging:BucketLogging"}
    for r in args.resources:
        if r.resource_type == S3 + "bucket:Bucket":
            name = r.props.get("bucket")
            if name not in logged and "access-logs" not in str(name):
                yield f"bucket {name}: add a BucketLogging to the access-log bucket", r.urn
