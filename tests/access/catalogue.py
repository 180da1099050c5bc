"""The requests real clients send to the platform's buckets, each with its source: the shapes our
bucket and key policies must admit (and the variants they must refuse).

An entry is a list of S3 calls, as the client makes them, with the headers it sends. ``{key}`` in a
header stands for the key the bucket is meant to be encrypted with.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from pipelines.semantics.s3 import S3Call

SSE = "x-amz-server-side-encryption"
SSE_KEY = "x-amz-server-side-encryption-aws-kms-key-id"


@dataclass(frozen=True)
class Shape:
    name: str
    source: str
    calls: tuple[S3Call, ...]

    def at(self, bucket: str, key: str, kms_key: str) -> list[S3Call]:
        """The calls for an object ``key`` of ``bucket``, with ``{key}`` replaced by ``kms_key``."""
        return [
            replace(c, bucket=bucket, key=key, headers={h: v.format(key=kms_key) for h, v in c.headers.items()})
            for c in self.calls
        ]


def _multipart(headers: dict[str, str]) -> tuple[S3Call, ...]:
    return (
        S3Call("CreateMultipartUpload", "", headers=headers),
        S3Call("UploadPart", ""),  # UploadPart carries no SSE-S3/SSE-KMS header
        S3Call("CompleteMultipartUpload", ""),
    )


# The Pulumi CLI's S3 state backend: gocloud.dev blob/s3blob (the version pulumi/pulumi pkg/go.mod
# requires at v3.259.0, commit b5401c07b5f1): ``NewTypedWriter`` sets ServerSideEncryption and
# SSEKMSKeyID only when the URL has ``ssetype`` / ``kmskeyid``; the transfer manager uploads
# objects under 16 MiB with one PutObject, larger ones in 8 MiB parts (feature/s3/transfermanager).
PULUMI_STATE = (
    Shape("pulumi state, URL without ssetype", "gocloud.dev blob/s3blob NewTypedWriter", (S3Call("PutObject", ""),)),
    Shape(
        "pulumi state, URL with ssetype and kmskeyid",
        "gocloud.dev blob/s3blob OpenBucketURL (ssetype, kmskeyid)",
        (S3Call("PutObject", "", headers={SSE: "aws:kms", SSE_KEY: "{key}"}),),
    ),
    Shape(
        "pulumi state over 16 MiB, URL with ssetype and kmskeyid",
        "aws-sdk-go-v2 feature/s3/transfermanager (defaultMultipartUploadThreshold 16 MiB)",
        _multipart({SSE: "aws:kms", SSE_KEY: "{key}"}),
    ),
    Shape("pulumi state read", "gocloud.dev blob/s3blob NewRangeReader", (S3Call("GetObject", ""),)),
)

# What a bucket guarded by our policies must refuse, whoever sends it.
REFUSED = (
    Shape("plain HTTP", "aws:SecureTransport false", (S3Call("GetObject", "", secure=False),)),
    Shape("another KMS key", "x-amz-server-side-encryption-aws-kms-key-id of another key",
          (S3Call("PutObject", "", headers={SSE: "aws:kms", SSE_KEY: "arn:aws:kms:eu-west-1:999999999999:key/x"}),)),
    Shape("SSE-S3 where KMS is required", "x-amz-server-side-encryption AES256",
          (S3Call("PutObject", "", headers={SSE: "AES256"}),)),
    Shape("aws:kms without a key (S3 would use aws/s3)", "S3 API reference, PutObject",
          (S3Call("PutObject", "", headers={SSE: "aws:kms"}),)),
)  # fmt: skip
