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

# boto3/botocore 1.44.8 (uv.lock): put_object sends ServerSideEncryption and SSEKMSKeyId only when the
# caller passes them (botocore service model, PutObjectRequest); upload_file goes multipart from 8 MiB
# (s3transfer 0.19.3 TransferConfig multipart_threshold), its ExtraArgs on CreateMultipartUpload only.
BOTO3 = (
    Shape(
        "boto3 put_object with defaults", "botocore s3 PutObjectRequest (no default SSE)", (S3Call("PutObject", ""),)
    ),
    Shape(
        "boto3 upload_file over 8 MiB with defaults",
        "s3transfer TransferConfig multipart_threshold 8 MiB",
        _multipart({}),
    ),
    Shape(
        "boto3 put_object naming the bucket's key",
        "ExtraArgs ServerSideEncryption + SSEKMSKeyId",
        (S3Call("PutObject", "", headers={SSE: "aws:kms", SSE_KEY: "{key}"}),),
    ),
    Shape("boto3 get_object", "botocore s3 GetObject", (S3Call("GetObject", ""),)),
)
# MLflow 3.x artifacts (mlflow/store/artifact/s3_artifact_repo.py; the sagemaker-mlflow 0.5 plugin
# replaces the s3 repository but uploads with the client's boto3 the same way): ExtraArgs come only from
# MLFLOW_S3_UPLOAD_EXTRA_ARGS, which the platform does not set (the teams get the tracking URI).
MLFLOW = (
    Shape(
        "MLflow log_artifact",
        "mlflow s3_artifact_repo: upload_file with MLFLOW_S3_UPLOAD_EXTRA_ARGS (unset)",
        (S3Call("PutObject", ""),),
    ),
    Shape("MLflow log_artifact of a large model", "s3_artifact_repo upload_file: multipart from 8 MiB", _multipart({})),
    Shape("MLflow load_model", "s3_artifact_repo download_file", (S3Call("GetObject", ""),)),
)
# AWS Glue Data Quality results (StartDataQualityRulesetEvaluationRun AdditionalRunOptions.ResultsS3Prefix):
# which headers Glue sends is not documented (UNVERIFIED): both shapes must pass.
GLUE_RESULTS = (
    Shape("Glue Data Quality results, no header", "UNVERIFIED: Glue's request headers", (S3Call("PutObject", ""),)),
    Shape(
        "Glue Data Quality results, the bucket's key",
        "UNVERIFIED: Glue's request headers",
        (S3Call("PutObject", "", headers={SSE: "aws:kms", SSE_KEY: "{key}"}),),
    ),
)
# SageMaker writes with the KmsKeyId it is given: DataCaptureConfig.KmsKeyId ("the KMS key that SageMaker
# uses to encrypt the captured data"), S3StorageConfig.KmsKeyId of the offline store,
# MonitoringOutputConfig.KmsKeyId of Model Monitor (botocore sagemaker model, 1.44.8).
SAGEMAKER_WITH_KEY = (
    Shape(
        "SageMaker write with its KmsKeyId",
        "botocore sagemaker DataCaptureConfig / S3StorageConfig / MonitoringOutputConfig KmsKeyId",
        (S3Call("PutObject", "", headers={SSE: "aws:kms", SSE_KEY: "{key}"}),),
    ),
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
