"""SageMaker rules: encrypted feature stores, allow-listed registries, MLflow in the platform's bucket."""

from __future__ import annotations

from infra.policies.framework import principals, resource_rule, statements


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
