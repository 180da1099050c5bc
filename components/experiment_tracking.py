"""Experiment tracking: a SageMaker managed MLflow tracking server, and a DVC remote.

The tracking server stores its artifacts under ``mlflow/`` of the artifacts bucket with its own
least-privilege role; DVC data versions live under ``dvc/`` of the same bucket, encrypted with the
models key, and the stack outputs the exact ``dvc remote`` commands to use it.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi

from components.model_registry import NOT_APPROVED
from components.storage import SecureBucket
from foundation.conventions import partition_for, physical_name, stateful_options
from foundation.iam.documents import Statement
from foundation.iam.roles import service_role
from foundation.iam.trust import service_trust

# What a training job needs to log experiments, runs, metrics, parameters and models;
# no deletes and no changes to registered models.
LOGGING_ACTIONS = [
    "sagemaker-mlflow:AccessUI",
    "sagemaker-mlflow:CreateExperiment",
    "sagemaker-mlflow:SearchExperiments",
    "sagemaker-mlflow:GetExperiment",
    "sagemaker-mlflow:GetExperimentByName",
    "sagemaker-mlflow:SetExperimentTag",
    "sagemaker-mlflow:CreateRun",
    "sagemaker-mlflow:UpdateRun",
    "sagemaker-mlflow:GetRun",
    "sagemaker-mlflow:SearchRuns",
    "sagemaker-mlflow:LogMetric",
    "sagemaker-mlflow:LogBatch",
    "sagemaker-mlflow:LogParam",
    "sagemaker-mlflow:LogModel",
    "sagemaker-mlflow:LogInputs",
    "sagemaker-mlflow:SetTag",
    "sagemaker-mlflow:GetMetricHistory",
    "sagemaker-mlflow:ListArtifacts",
]


@dataclass(frozen=True)
class ExperimentTrackingArgs:
    environment: str
    account_id: str
    region: str
    artifacts_bucket: SecureBucket
    models_key_arn: pulumi.Input[str]
    tracking_server_size: str = "Small"
    mlflow_version: str = "3.0"
    automatic_model_registration: bool = False
    weekly_maintenance_window_start: str = "Sun:02:00"
    permissions_boundary: pulumi.Input[str] | None = None
    # The server holds the experiments' metadata (its backend store): protected like data.
    protect: bool = True
    mlflow_prefix: str = "mlflow/"
    dvc_prefix: str = "dvc/"


class ExperimentTracking(pulumi.ComponentResource):
    def __init__(self, name: str, args: ExperimentTrackingArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("mlplatform:experiment_tracking:ExperimentTracking", name, None, opts)
        import pulumi_aws as aws

        self.args = args
        p = partition_for(args.region)
        bucket = args.artifacts_bucket
        self.server_name = physical_name(args.environment, "mlflow")
        self.server_arn = f"arn:{p}:sagemaker:{args.region}:{args.account_id}:mlflow-tracking-server/{self.server_name}"
        statements = [
            *bucket.grant_read(args.mlflow_prefix),
            *bucket.grant_write(args.mlflow_prefix),
        ]
        if args.automatic_model_registration:
            # MLflow registered models become model package groups of the same name. Never Approved:
            # creating or updating a package with that status is the approver's (model_registry.NOT_APPROVED).
            packages = [
                f"arn:{p}:sagemaker:{args.region}:{args.account_id}:model-package-group/*",
                f"arn:{p}:sagemaker:{args.region}:{args.account_id}:model-package/*",
            ]
            statements += [
                Statement(
                    sid="RegisterMlflowModels",
                    actions=[
                        "sagemaker:CreateModelPackageGroup",
                        "sagemaker:DescribeModelPackageGroup",
                        "sagemaker:DescribeModelPackage",
                    ],
                    resources=packages,
                ),
                Statement(
                    sid="RegisterMlflowVersionsUnapproved",
                    actions=["sagemaker:CreateModelPackage", "sagemaker:UpdateModelPackage"],
                    resources=packages,
                    conditions=NOT_APPROVED,
                ),
            ]
        role, policy, _ = service_role(
            f"{name}-server",
            parent=self,
            name=physical_name(args.environment, "mlflow-server"),
            description="SageMaker managed MLflow tracking server",
            boundary=args.permissions_boundary,
            trust=service_trust("SageMakerMlflow", "sagemaker.amazonaws.com", account_id=args.account_id),
            policy_name="artifact-store",
            statements=statements,
        )
        self.server = aws.sagemaker.MlflowTrackingServer(
            f"{name}-server",
            aws.sagemaker.MlflowTrackingServerArgs(
                tracking_server_name=self.server_name,
                artifact_store_uri=f"s3://{bucket.name}/{args.mlflow_prefix.rstrip('/')}",
                role_arn=role.arn,
                tracking_server_size=args.tracking_server_size,
                mlflow_version=args.mlflow_version,
                automatic_model_registration=args.automatic_model_registration,
                weekly_maintenance_window_start=args.weekly_maintenance_window_start,
            ),
            opts=stateful_options(self, args.protect, depends_on=[policy]),
        )
        remote = f"mlplatform-{args.environment}"
        self.dvc_url = f"s3://{bucket.name}/{args.dvc_prefix.rstrip('/')}"
        self.dvc_commands = pulumi.Output.concat(
            f"dvc remote add -d {remote} {self.dvc_url} && ",
            f"dvc remote modify {remote} region {args.region} && ",
            f"dvc remote modify {remote} sse aws:kms && ",
            f"dvc remote modify {remote} sse_kms_key_id ",
            args.models_key_arn,
        )
        self.register_outputs({"trackingServer": self.server_arn, "dvcRemote": self.dvc_url})

    # --- grants -------------------------------------------------------------------------------

    def grant_log(self, _scope: str = "") -> list[Statement]:
        """Log experiments to the tracking server and write run artifacts (MLflow clients upload
        artifacts straight to the artifact store)."""
        a, bucket = self.args, self.args.artifacts_bucket
        return [
            Statement(
                sid="UseTrackingServer",
                actions=["sagemaker:CreatePresignedMlflowTrackingServerUrl", "sagemaker:DescribeMlflowTrackingServer"],
                resources=[self.server_arn],
            ),
            Statement(sid="LogExperiments", actions=LOGGING_ACTIONS, resources=[self.server_arn]),
            *bucket.grant_read(a.mlflow_prefix),
            *bucket.grant_write(a.mlflow_prefix),
        ]

    def grant_dvc(self, _scope: str = "") -> list[Statement]:
        """Push and pull DVC-tracked data versions."""
        bucket = self.args.artifacts_bucket
        return [*bucket.grant_read(self.args.dvc_prefix), *bucket.grant_write(self.args.dvc_prefix)]
