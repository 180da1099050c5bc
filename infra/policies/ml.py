"""SageMaker and Glue rules: encrypted feature stores, allow-listed registries, MLflow in the platform's
bucket; endpoints encrypted, in the VPC, capturing traffic in prod and rolling back on alarms; every
dataset's quality evaluated on a schedule in prod."""

from __future__ import annotations

from infra.policies.framework import as_json, is_prod, principals, resource_rule, stack_rule, statements

MODEL = "aws:sagemaker/model:Model"
ENDPOINT_CONFIG = "aws:sagemaker/endpointConfiguration:EndpointConfiguration"
ENDPOINT = "aws:sagemaker/endpoint:Endpoint"


@resource_rule(
    "featurestore-encrypted",
    "Online and offline stores are encrypted with a customer key",
    ["aws:sagemaker/featureGroup:FeatureGroup"],
)
def feature_store(args):
    offline = ((args.props.get("offlineStoreConfig") or {}).get("s3StorageConfig")) or {}
    if not offline.get("kmsKeyId"):
        yield "set offlineStoreConfig.s3StorageConfig.kmsKeyId to the data key"
    online = args.props.get("onlineStoreConfig") or {}
    if online.get("enableOnlineStore") and not ((online.get("securityConfig") or {}).get("kmsKeyId")):
        yield "set onlineStoreConfig.securityConfig.kmsKeyId to the data key"


@resource_rule(
    "model-registry-allowlist",
    "Model package group policies name their accounts",
    ["aws:sagemaker/modelPackageGroupPolicy:ModelPackageGroupPolicy"],
)
def registry_allowlist(args):
    for st in statements(args.props.get("resourcePolicy")):
        if st.get("Effect") == "Allow" and ("*" in principals(st) or not principals(st)):
            yield f"statement {st.get('Sid', '?')} must name the consumer accounts"


@resource_rule(
    "mlflow-artifacts-in-platform-bucket",
    "MLflow stores artifacts in a bucket of the platform",
    ["aws:sagemaker/mlflowTrackingServer:MlflowTrackingServer"],
)
def mlflow_bucket(args):
    uri = str(args.props.get("artifactStoreUri", ""))
    if not uri.startswith("s3://mlplatform-"):
        yield f"artifactStoreUri {uri} is outside the platform's (hardened, logged) buckets"


@resource_rule(
    "sagemaker-endpoint-encrypted",
    "Endpoint storage and captured traffic are encrypted with a customer key",
    [ENDPOINT_CONFIG],
)
def endpoint_encrypted(args):
    if not args.props.get("kmsKeyArn"):
        yield "set kmsKeyArn to the models key (it encrypts the instances' storage volumes)"
    capture = args.props.get("dataCaptureConfig") or {}
    if capture and capture.get("enableCapture", True) and not capture.get("kmsKeyId"):
        yield "set dataCaptureConfig.kmsKeyId: captured requests and responses are data"


@resource_rule(
    "sagemaker-data-capture-in-prod",
    "Prod endpoints capture a share of their traffic (what drift is measured on)",
    [ENDPOINT_CONFIG],
)
def capture_in_prod(args):
    capture = args.props.get("dataCaptureConfig") or {}
    if is_prod(args.urn) and (capture.get("enableCapture") is False or not capture.get("initialSamplingPercentage")):
        yield "capture requests and responses in prod: dataCaptureConfig with initialSamplingPercentage above 0"


@resource_rule("sagemaker-model-in-vpc", "Models run in the stack's private subnets", [MODEL])
def model_in_vpc(args):
    vpc = args.props.get("vpcConfig") or {}
    if not vpc.get("subnets") or not vpc.get("securityGroupIds"):
        yield "set vpcConfig with the stack's private subnets and a security group"


@resource_rule(
    "sagemaker-endpoint-rollback",
    "Endpoints update blue/green and roll back automatically on alarms",
    [ENDPOINT],
)
def endpoint_rollback(args):
    deployment = args.props.get("deploymentConfig") or {}
    if not deployment.get("blueGreenUpdatePolicy"):
        yield "set deploymentConfig.blueGreenUpdatePolicy: an update shifts traffic after a bake, not in place"
    if not (deployment.get("autoRollbackConfiguration") or {}).get("alarms"):
        yield "set deploymentConfig.autoRollbackConfiguration.alarms: the endpoint's error and latency alarms"


@stack_rule("sagemaker-rollback-alarms-exist", "Every alarm an endpoint rolls back on is an alarm of the stack")
def rollback_alarms_exist(args):
    alarms = {
        r.props.get("name") for r in args.resources if r.resource_type == "aws:cloudwatch/metricAlarm:MetricAlarm"
    }
    for r in args.resources:
        if r.resource_type != ENDPOINT:
            continue
        rollback = ((r.props.get("deploymentConfig") or {}).get("autoRollbackConfiguration") or {}).get("alarms")
        for alarm in rollback or []:
            if alarm.get("alarmName") not in alarms:
                yield f"endpoint {r.name}: rollback alarm {alarm.get('alarmName')} is not in the stack", r.urn


@stack_rule("data-quality-scheduled-in-prod", "In prod, every dataset's ruleset is evaluated on a schedule")
def scheduled_in_prod(args):
    scheduled = set()
    for r in args.resources:
        if r.resource_type == "aws:scheduler/schedule:Schedule":
            request = as_json((r.props.get("target") or {}).get("input")) or {}
            scheduled |= set(request.get("RulesetNames") or []) if isinstance(request, dict) else set()
    for r in args.resources:
        ruleset = r.resource_type == "aws:glue/dataQualityRuleset:DataQualityRuleset"
        if ruleset and is_prod(r.urn) and r.props.get("name") not in scheduled:
            yield f"ruleset {r.props.get('name')}: give its dataset a schedule (stacks/datasets/<name>.yaml)", r.urn
