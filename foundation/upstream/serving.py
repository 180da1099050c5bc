"""What SageMaker serving, Model Monitor, Application Auto Scaling, EventBridge Scheduler and Glue Data
Quality accept and publish, as their primary sources say. The serving and data-quality components
build from these facts and tests check them against the same facts, never against the components.

Sources (read 2026-11-29):
- botocore 1.44.8 service models (the version uv.lock pins): sagemaker 2017-07-24, glue 2017-03-31,
  scheduler 2021-06-30, application-autoscaling 2016-02-06 (shape names below).
- SageMaker developer guide: monitoring-cloudwatch, deployment-guardrails-configuration,
  deployment-guardrails-exclusions, endpoint-auto-scaling-zero-instances, model-registry-deploy
  (awsdocs/amazon-sagemaker-developer-guide a869fa5c, doc_source/), model-monitor-interpreting-
  cloudwatch, model-monitor-byoc-cloudwatch, mkt-algo-model-internet-free.
- aws/sagemaker-python-sdk v2.257.6 src/sagemaker/image_uri_config/model-monitor.json and
  src/sagemaker/model_monitor/model_monitoring.py.
- EventBridge Scheduler user guide: managing-targets-universal, cross-service-confused-deputy-
  prevention. Glue developer guide: data-quality-alerts, data-quality-trouble; EventBridge events
  reference events-ref-glue-dataquality.
- aws-samples/aws-enterprise-mlops-framework b3eefc21 mlops-multi-account-cdk (the registry in the
  DEV account, consumed by PREPROD and PROD through the model package group's policy).
"""

from __future__ import annotations

# --- SageMaker endpoints (namespace AWS/SageMaker, dimensions EndpointName and VariantName) ----------
ENDPOINT_NAMESPACE = "AWS/SageMaker"
ENDPOINT_DIMENSIONS = ("EndpointName", "VariantName")
# "For each 5xx response, 1 is sent; otherwise, 0 is sent."
ERRORS_METRIC = "Invocation5XXErrors"
# "ModelLatency ... Units: Microseconds" (archived guide; the current table could not be read: UNVERIFIED
# beyond the archive and the CDK's metric helpers).
LATENCY_METRIC = "ModelLatency"
LATENCY_UNIT_PER_MS = 1000
INVOCATIONS_PER_INSTANCE = "InvocationsPerInstance"

# --- deployment guardrails (DeploymentConfig, BlueGreenUpdatePolicy, TrafficRoutingConfig) ----------
TRAFFIC_TYPES = ("ALL_AT_ONCE", "CANARY", "LINEAR")
WAIT_INTERVAL_SECONDS = (0, 3600)
TERMINATION_WAIT_SECONDS = (0, 3600)
MAX_EXECUTION_SECONDS = (600, 28800)  # "larger than the total waiting time"
ROLLBACK_ALARMS = (1, 10)
# CanarySize: "Value must be less than or equal to 50% of the variant's total instance count."
CANARY_MAX_SHARE = 0.5

# --- Application Auto Scaling of a variant ----------------------------------------------------------
SCALING_NAMESPACE = "sagemaker"
SCALABLE_DIMENSION = "sagemaker:variant:DesiredInstanceCount"
SCALING_METRIC = "SageMakerVariantInvocationsPerInstance"
# "An endpoint can scale to and from zero instances only if it hosts inference components": a
# model-backed variant keeps at least one instance.
MIN_VARIANT_INSTANCES = 1


# UpdateEndpointInput.RetainAllVariantProperties: "To use the variant properties specified in a new
# EndpointConfig ... set RetainAllVariantProperties to false. The default is false." (botocore); the
# pulumi-aws Endpoint has no such input, so a rollout starts the new fleet at the configuration's
# InitialInstanceCount, not at the size autoscaling had reached.
UPDATE_RETAINS_INSTANCE_COUNT = False
# Guide, endpoint-scaling-update: "If the update would change the instance type for any model that is
# a target for auto scaling, the update fails. ... Before you update the endpoint, delete any scaling
# policies configured for it and deregister the variant as a scalable target"; the same holds for
# removing an autoscaled variant; changing the model alone is allowed. Autoscaling "is blocked" while
# an update is in progress.


def scalable_resource_id(endpoint: str, variant: str) -> str:
    """ResourceId of a variant: "endpoint/my-end-point/variant/KMeansClustering"."""
    return f"endpoint/{endpoint}/variant/{variant}"


# --- data capture (DataCaptureConfig) -------------------------------------------------------------
CAPTURE_MODES = ("Input", "Output")  # CaptureMode enum: Input | Output | InputAndOutput

# --- Model Monitor (data quality) ------------------------------------------------------------------
# The analyzer image per region (model-monitor.json, repository sagemaker-model-monitor-analyzer, no tag).
MONITOR_IMAGE_ACCOUNTS = {
    "eu-west-1": "468650794304",
    "us-east-1": "156813124566",
    "us-west-2": "159807026194",
    "eu-central-1": "048819808253",
}
MONITOR_REPOSITORY = "sagemaker-model-monitor-analyzer"
# The SDK sets this in the job's environment to have the analyzer publish metrics.
MONITOR_METRICS_ENVIRONMENT = {"publish_cloudwatch_metrics": "Enabled"}
# "feature_baseline_drift_{feature_name}". The namespace is written three ways in AWS's pages
# ("/aws/sagemaker/Endpoints/data-metric", "/aws/sagemaker/Endpoint/data-metrics"); this is the form
# of AWS's own examples, with the dimensions model-monitor-byoc-cloudwatch recommends. UNVERIFIED:
# confirm with `aws cloudwatch list-metrics` after the first monitoring run (docs/models-and-serving.md says how).
DRIFT_NAMESPACE = "aws/sagemaker/Endpoints/data-metrics"
DRIFT_METRIC = "feature_baseline_drift_{feature}"
DRIFT_DIMENSIONS = ("Endpoint", "MonitoringSchedule")
# Model Monitor runs hourly or daily.
MONITOR_SCHEDULES = {"hourly": ("cron(0 * ? * * *)", 3600), "daily": ("cron(0 0 ? * * *)", 86400)}
# MonitoringStoppingCondition.MaxRuntimeInSeconds "cannot exceed the frequency of the job. For data
# quality ... up to 3600 seconds for an hourly schedule" (botocore sagemaker).
MONITOR_MAX_RUNTIME_S = 3600
# "Amazon SageMaker Model Monitor is no longer open to new customers": an account that has never used
# it cannot create monitoring schedules (endpoints without `monitor` are unaffected).


def monitor_image(region: str) -> str:
    try:
        account = MONITOR_IMAGE_ACCOUNTS[region]
    except KeyError:
        known = ", ".join(sorted(MONITOR_IMAGE_ACCOUNTS))
        raise ValueError(f"no Model Monitor image recorded for {region} (recorded: {known})") from None
    return f"{account}.dkr.ecr.{region}.amazonaws.com/{MONITOR_REPOSITORY}"


# --- Glue Data Quality started by EventBridge Scheduler -------------------------------------------
# Universal target "arn:aws:scheduler:::aws-sdk:service:apiAction" (camelCase action); Input is the
# API's request JSON. StartDataQualityRulesetEvaluationRunRequest requires DataSource, Role, RulesetNames.
DQ_TARGET = "arn:{partition}:scheduler:::aws-sdk:glue:startDataQualityRulesetEvaluationRun"
# NumberOfWorkers: "The number of G.1X workers ... The default is 5"; Timeout: minutes, min 1, "The
# default is 2,880 minutes". A dataset's evaluation uses 2 workers and 2 hours at most.
DQ_WORKERS, DQ_TIMEOUT_MINUTES = 2, 120
# Scheduler RetryPolicy (MaximumRetryAttempts 0-185, MaximumEventAgeInSeconds 60-86400) and
# FlexibleTimeWindow (FLEXIBLE, MaximumWindowInMinutes 1-1440), botocore scheduler shapes.
SCHEDULE_RETRIES, SCHEDULE_EVENT_AGE_S, SCHEDULE_WINDOW_MINUTES = 3, 3600, 15
DQ_REQUIRED = ("DataSource", "Role", "RulesetNames")
# "Do not scope the aws:SourceArn statement to a specific schedule ... The ARN you specify must be a
# schedule group."
SCHEDULER_PRINCIPAL = "scheduler.amazonaws.com"
# The role Glue runs the evaluation with must read Glue's libraries ("LAUNCH ERROR: Error downloading
# from S3" otherwise, data-quality-trouble).
DQ_ASSETS_BUCKET = "aws-glue-ml-data-quality-assets-{region}"
# Default log groups of evaluation runs (AdditionalRunOptions.CustomLogGroupPrefix).
DQ_LOG_GROUPS = ("/aws-glue/data-quality/error", "/aws-glue/data-quality/output")
# Published with CloudWatchMetricsEnabled, which EventBridge publishing also needs ("must remain
# selected for EventBridge publishing to work"). Dimensions are not documented (UNVERIFIED), so alarms
# use the evaluation event (state, score) and the dashboard a free-text metric search.
DQ_NAMESPACE = "Glue Data Quality"
DQ_METRICS = ("glue.data.quality.rules.passed", "glue.data.quality.rules.failed")
# The evaluation event: source, detail-type, and detail.state / detail.score / detail.rulesetNames.
DQ_EVENT_SOURCE = "aws.glue-dataquality"
DQ_EVENT_TYPE = "Data Quality Evaluation Results Available"
# A score below a minimum is matched with EventBridge's numeric matching ({"numeric": ["<", x]},
# EventBridge user guide, eb-create-pattern-operators); tests run the pattern through moto's matcher.


# --- the platform's drift job (functions/drift), started by EventBridge Scheduler ------------------
# Sources (read 2026-12-02; /tmp notes of the session are not kept, the quotes are here):
# - Scheduler user guide, managing-targets-templated: "you can target Lambda's Invoke operation by
#   providing the function ARN ... you must also grant permissions to the schedule's execution role to
#   perform the targeted API operation" (lambda:InvokeFunction). Lambda developer guide: "EventBridge
#   Scheduler invokes your Lambda function asynchronously."
# - Lambda developer guide, lambda-python: the Python runtime "includes the SDK for Python (Boto3)";
#   lambda-runtimes lists python3.12. Quotas: function timeout 900 seconds.
# - SageMaker Python SDK docs, amazon_sagemaker_model_monitoring.rst: capture files are at
#   s3://{destination-bucket-prefix}/{endpoint-name}/{variant-name}/yyyy/mm/dd/hh/filename.jsonl,
#   "organized based on the hour in which the invocation occurred"; the developer guide: delivery "can
#   require a couple of minutes" (so the job runs 15 minutes past the window).
# - CloudWatch API reference, PutMetricData: at most 1,000 metrics a request; NaN and infinity refused.
DRIFT_RUNTIME = "python3.12"
DRIFT_TIMEOUT_S = 900
DRIFT_MEMORY_MB = 1024
DRIFT_JOB_NAMESPACE = "mlplatform/Drift"  # the platform's own namespace (PutMetricData names it)
DRIFT_JOB_METRIC = "FeatureDrift"  # PSI of one feature over one window (functions/drift/drift.py)
DRIFT_JOB_DIMENSIONS = ("Endpoint", "Feature")
DRIFT_RECORDS_METRIC = "CapturedRecords"
DRIFT_JOB_SCHEDULES = {"hourly": ("cron(15 * * * ? *)", 3600), "daily": ("cron(15 0 * * ? *)", 86400)}
LAMBDA_PRINCIPAL = "lambda.amazonaws.com"
# Lambda developer guide, monitoring-metrics-types: namespace AWS/Lambda, "Errors: The number of
# invocations that result in a function error", dimension FunctionName; invocation-async-error-handling:
# an asynchronous invocation that errors is retried twice. A job that fails (no baseline uploaded, a
# capture file it cannot read) publishes no drift value, so its drift alarms alone would wait forever.
LAMBDA_NAMESPACE, LAMBDA_ERRORS_METRIC, LAMBDA_DIMENSION = "AWS/Lambda", "Errors", "FunctionName"
LAMBDA_LOG_GROUP = "/aws/lambda/{function}"  # Lambda's default; the function names it (LoggingConfig)

# --- Scheduler delivery failures (Scheduler user guide) -------------------------------------------
# configuring-schedule-dlq: Target.DeadLetterConfig.Arn, a standard SQS queue; the execution role
# needs sqs:SendMessage on it. encryption-rest: KmsKeyArn encrypts the target's payload; the execution
# role needs kms:Decrypt on the key, the principal that creates or updates the schedule kms:DescribeKey,
# kms:GenerateDataKey and kms:Decrypt ("Scheduler does not support grants"). monitoring-cloudwatch:
# namespace AWS/Scheduler, dimension ScheduleGroup, metrics delivered "on a best-effort basis".
# UNVERIFIED: that the caller's KMS calls carry kms:ViaService scheduler.<region>.amazonaws.com (the
# deploy boundary admits data-key use through Scheduler on that assumption), and what an SQS queue
# encrypted with a customer key needs of Scheduler beyond the role's kms:GenerateDataKey/kms:Decrypt.
SCHEDULER_NAMESPACE = "AWS/Scheduler"
SCHEDULER_DIMENSION = "ScheduleGroup"
# metric -> what the platform's alarm calls it (alarm names are mlplatform-<env>-<key>, 63 at most)
SCHEDULER_FAILURE_METRICS = {
    "TargetErrorCount": "target-errors",
    "InvocationDroppedCount": "dropped",
    "InvocationsFailedToBeSentToDeadLetterCount": "dlq-failed",
}
