"""The MLflow tracking server, its role, the DVC remote and the training role's logging grant."""

from __future__ import annotations

from tests.plans import policy, settings_of

SERVER = "aws:sagemaker/mlflowTrackingServer:MlflowTrackingServer"


def test_tracking_server_per_stack_settings(any_plan):
    plan, settings = any_plan, settings_of(any_plan.stack)
    x, stack = settings.experiments, any_plan.stack
    auto = x.automatic_model_registration
    (server,) = plan.of_type(SERVER)
    i = server.inputs
    assert i["trackingServerName"] == f"mlplatform-{stack}-mlflow"
    assert i["artifactStoreUri"] == f"s3://{plan.outputs['buckets']['artifacts']}/mlflow"
    assert (i["trackingServerSize"], i["mlflowVersion"]) == (x.tracking_server_size, x.mlflow_version)
    assert i["automaticModelRegistration"] is auto
    assert i["weeklyMaintenanceWindowStart"] == x.weekly_maintenance_window_start
    assert server.options["protect"] is settings.protect  # it holds the experiments' metadata
    sids = {s["Sid"] for s in policy(plan.get("aws:iam/rolePolicy:RolePolicy", "experiments-server"))["Statement"]}
    assert ("RegisterMlflowModels" in sids) is auto


def test_server_role_reaches_only_its_artifact_prefix(any_plan):
    artifacts = any_plan.outputs["buckets"]["artifacts"]
    role = any_plan.get("aws:iam/role:Role", "experiments-server")
    (trust,) = policy(role, "assumeRolePolicy")["Statement"]
    assert trust["Principal"] == {"Service": "sagemaker.amazonaws.com"}
    s3 = [s for s in policy(any_plan.get("aws:iam/rolePolicy:RolePolicy", "experiments-server"))["Statement"]
          if str(s["Action"]).startswith(("s3:", "['s3:"))]  # fmt: skip
    objects = {s["Resource"] for s in s3 if s["Sid"].endswith("Objects")}
    assert objects == {f"arn:aws:s3:::{artifacts}/mlflow/*"}


def test_dvc_remote_outputs_are_ready_to_paste(any_plan):
    env, artifacts = any_plan.stack, any_plan.outputs["buckets"]["artifacts"]
    models_key = any_plan.outputs["kmsKeyArns"]["models"]
    assert any_plan.outputs["dvcRemoteUrl"] == f"s3://{artifacts}/dvc"
    assert any_plan.outputs["dvcRemoteCommands"] == (
        f"dvc remote add -d mlplatform-{env} s3://{artifacts}/dvc && "
        f"dvc remote modify mlplatform-{env} region eu-west-1 && "
        f"dvc remote modify mlplatform-{env} sse aws:kms && "
        f"dvc remote modify mlplatform-{env} sse_kms_key_id {models_key}"
    )


def test_training_logs_to_mlflow_without_deleting(any_plan):
    acct, env = any_plan.outputs["accountId"], any_plan.stack
    server = f"arn:aws:sagemaker:eu-west-1:{acct}:mlflow-tracking-server/mlplatform-{env}-mlflow"
    assert any_plan.outputs["mlflowTrackingServerArn"] == server
    team = settings_of(any_plan.stack).training.teams[0].name  # a team of the stack (a fork's own)
    sts = {
        s["Sid"]: s
        for s in policy(any_plan.get("aws:iam/rolePolicy:RolePolicy", f"identity-training-{team}"))["Statement"]
    }
    assert sts["LogExperiments"]["Resource"] == server
    assert "sagemaker-mlflow:LogMetric" in sts["LogExperiments"]["Action"]
    assert not [a for a in sts["LogExperiments"]["Action"] if "Delete" in a]
    assert sts["UseTrackingServer"]["Action"] == [
        "sagemaker:CreatePresignedMlflowTrackingServerUrl",
        "sagemaker:DescribeMlflowTrackingServer",
    ]
    artifacts = any_plan.outputs["buckets"]["artifacts"]
    assert sts["WriteLakeArtifactsMlflowObjects"]["Resource"] == f"arn:aws:s3:::{artifacts}/mlflow/*"
    assert sts["WriteLakeArtifactsDvcObjects"]["Resource"] == f"arn:aws:s3:::{artifacts}/dvc/*"
