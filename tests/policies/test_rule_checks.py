"""Every check inside every rule, on both sides: a resource that passes every check of its rule, and
for each check one edit of it that fails that check alone (exactly one violation, whose message
names the fix). Exemptions get edits that must still pass. A rule gains a check => a test below
counts the rule's conditions and asks for the missing case."""

from __future__ import annotations

import ast
import copy
import inspect
import json
from dataclasses import dataclass, field

import pytest

from infra.policies import compute, cost, identity, ml, observability, stack, storage
from infra.policies.compute import GPU_IDLE_MAX_MINUTES
from infra.policies.rules import RULES
from pipelines.plan import Resource
from pipelines.policy_check import evaluate
from tests.policies.test_rules import plan_of, res

RULES_BY_ID = {r.name: r for r in RULES}
DELETE = object()
JSON_PROPS = ("policy", "assumeRolePolicy", "resourcePolicy")  # the provider takes documents as JSON strings
ACCOUNT = "111111111111"
CLUSTER_ARN = f"arn:aws:eks:eu-west-1:{ACCOUNT}:cluster/mlplatform-dev-training"
KEY = f"arn:aws:kms:eu-west-1:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
GITHUB = "token.actions.githubusercontent.com"
S3 = "aws:s3/"


def edited(props: dict, changes: dict) -> dict:
    """A deep copy of ``props`` with each path set, or removed with DELETE: "a.b.0.c", or a tuple of
    parts for keys that contain dots."""
    out = copy.deepcopy(props)
    for path, value in changes.items():
        *parents, last = path if isinstance(path, tuple) else path.split(".")
        node = out
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node.setdefault(part, {})
        key = int(last) if isinstance(node, list) else last
        if value is DELETE:
            del node[key]
        else:
            node[key] = value
    return out


def resource(type_: str, props: dict, **kw) -> Resource:
    return res(type_, {k: json.dumps(v) if k in JSON_PROPS else v for k, v in props.items()}, **kw)


@dataclass
class Checks:
    """One resource rule: its type, props that pass, the stack they are planned in, the edits that must
    fail (label -> (changes, message)) and the edits that must still pass (exemptions)."""

    type: str
    good: dict
    fails: dict[str, tuple[dict, str]]
    passes: dict[str, dict] = field(default_factory=dict)
    stack: str = "dev"


def doc(*statements: dict) -> dict:
    return {"Version": "2012-10-17", "Statement": list(statements)}


TLS_DENY = {
    "Sid": "DenyInsecureTransport",
    "Effect": "Deny",
    "Principal": "*",
    "Action": "s3:*",
    "Resource": "*",
    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
}
READ = {"Sid": "Read", "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:role/r"}, "Action": "x:Get"}
EBS = {
    "Sid": "NodeVolumes",
    "Effect": "Allow",
    "Principal": {"AWS": "*"},
    "Action": ["kms:Decrypt", "kms:CreateGrant"],
    "Resource": "*",
    "Condition": {"StringEquals": {"kms:CallerAccount": ACCOUNT, "kms:ViaService": "ec2.eu-west-1.amazonaws.com"}},
}
OIDC = {
    "Sid": "GitHub",
    "Effect": "Allow",
    "Principal": {"Federated": f"arn:aws:iam::{ACCOUNT}:oidc-provider/{GITHUB}"},
    "Action": "sts:AssumeRoleWithWebIdentity",
    "Condition": {
        "StringEquals": {f"{GITHUB}:aud": "sts.amazonaws.com", f"{GITHUB}:sub": "repo:acme/ml:environment:dev"}
    },
}
POD = {
    "Sid": "Pods",
    "Effect": "Allow",
    "Principal": {"Service": "pods.eks.amazonaws.com"},
    "Action": ["sts:AssumeRole", "sts:TagSession"],
    "Condition": {"StringEquals": {"aws:RequestTag/eks-cluster-arn": CLUSTER_ARN}},
}
GPU_POOL = {
    "metadata": {"name": "a100"},
    "spec": {
        "template": {
            "spec": {
                "requirements": [{"key": "karpenter.k8s.aws/instance-gpu-manufacturer", "values": ["nvidia"]}],
                "taints": [{"key": "nvidia.com/gpu", "value": "true", "effect": "NoSchedule"}],
            }
        },
        "limits": {"nvidia.com/gpu": "8"},
        "disruption": {"consolidationPolicy": "WhenEmpty", "consolidateAfter": "5m"},
    },
}
SSE = {
    "applyServerSideEncryptionByDefault": {"sseAlgorithm": "aws:kms", "kmsMasterKeyId": KEY},
    "bucketKeyEnabled": True,
}

RESOURCE_RULES: dict[str, Checks] = {
    "s3-public-access-block": Checks(
        S3 + "bucketPublicAccessBlock:BucketPublicAccessBlock",
        {"bucket": "b"}
        | {f: True for f in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls")}
        | {"restrictPublicBuckets": True},
        {
            f: ({f: False}, f"must set {f} to true")
            for f in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
        }
        | {"flag missing": ({"restrictPublicBuckets": DELETE}, "restrictPublicBuckets")},
    ),
    "s3-sse-kms": Checks(
        S3 + "bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
        {"bucket": "mlplatform-dev-raw", "rules": [SSE]},
        {
            "SSE-S3": (
                {"rules.0.applyServerSideEncryptionByDefault.sseAlgorithm": "AES256"},
                "use sseAlgorithm aws:kms",
            ),
            "AWS key": ({"rules.0.applyServerSideEncryptionByDefault.kmsMasterKeyId": DELETE}, "customer key"),
            "no bucket key": ({"rules.0.bucketKeyEnabled": False}, "enable bucketKeyEnabled"),
        },
        passes={
            # S3 delivers server access logs only to SSE-S3 buckets (the exemption, and only for that bucket)
            "access-log bucket on SSE-S3": {
                "bucket": "mlplatform-dev-access-logs",
                "rules.0.applyServerSideEncryptionByDefault": {"sseAlgorithm": "AES256"},
            },
        },
    ),
    "s3-versioning": Checks(
        S3 + "bucketVersioning:BucketVersioning",
        {"bucket": "b", "versioningConfiguration": {"status": "Enabled"}},
        {"suspended": ({"versioningConfiguration.status": "Suspended"}, "status to Enabled")},
    ),
    "s3-acls-disabled": Checks(
        S3 + "bucketOwnershipControls:BucketOwnershipControls",
        {"bucket": "b", "rule": {"objectOwnership": "BucketOwnerEnforced"}},
        {"ACLs on": ({"rule.objectOwnership": "BucketOwnerPreferred"}, "BucketOwnerEnforced")},
    ),
    "s3-tls-only": Checks(
        S3 + "bucketPolicy:BucketPolicy",
        {"bucket": "b", "policy": doc(READ, TLS_DENY)},
        {
            "allow, not deny": ({"policy.Statement.1.Effect": "Allow"}, "aws:SecureTransport = false"),
            "denies TLS requests": (
                {"policy.Statement.1.Condition.Bool.aws:SecureTransport": "true"},
                "aws:SecureTransport = false",
            ),
            "no such statement": ({"policy.Statement": [READ]}, "aws:SecureTransport = false"),
        },
    ),
    "s3-no-public-principal": Checks(
        S3 + "bucketPolicy:BucketPolicy",
        {"bucket": "b", "policy": doc(READ, TLS_DENY)},  # Deny with Principal '*' is what TLS-only needs
        {
            "anyone": ({"policy.Statement.0.Principal": "*"}, "statement Read allows Principal '*'"),
            "any AWS principal among others": (
                {"policy.Statement.0.Principal": {"AWS": [f"arn:aws:iam::{ACCOUNT}:root", "*"]}},
                "allows Principal '*'",
            ),
        },
    ),
    "kms-rotation": Checks(
        "aws:kms/key:Key",
        {"enableKeyRotation": True},
        {"off": ({"enableKeyRotation": False}, "enableKeyRotation"), "unset": ({"enableKeyRotation": DELETE}, "true")},
    ),
    "kms-no-wildcard-principal": Checks(
        "aws:kms/key:Key",
        {"enableKeyRotation": True, "policy": doc(READ, EBS)},
        {
            "any account": (
                {"policy.Statement.1.Condition": {"StringEquals": {"kms:ViaService": "ec2.eu-west-1.amazonaws.com"}}},
                "NodeVolumes allows Principal '*'",
            ),
            "any service": (
                {"policy.Statement.1.Condition": {"StringEquals": {"kms:CallerAccount": ACCOUNT}}},
                "NodeVolumes allows Principal '*'",
            ),
            "pattern, not equality": (
                {"policy.Statement.1.Condition": {"StringLike": EBS["Condition"]["StringEquals"]}},
                "without StringEquals kms:CallerAccount and kms:ViaService",
            ),
        },
        passes={"deny to anyone": {"policy.Statement.1": {**EBS, "Effect": "Deny", "Condition": {}}}},
    ),
    "kms-no-lockout-bypass": Checks(
        "aws:kms/key:Key",
        {"enableKeyRotation": True, "bypassPolicyLockoutSafetyCheck": False},
        {"bypassed": ({"bypassPolicyLockoutSafetyCheck": True}, "remove bypassPolicyLockoutSafetyCheck")},
    ),
    "iam-no-star-action": Checks(
        "aws:iam/rolePolicy:RolePolicy",
        {"name": "r", "policy": doc({"Sid": "Read", "Effect": "Allow", "Action": ["s3:GetObject"], "Resource": "arn"})},
        {"star": ({"policy.Statement.0.Action": ["s3:GetObject", "*"]}, "statement Read allows Action '*'")},
        passes={"deny everything": {"policy.Statement.0.Effect": "Deny", "policy.Statement.0.Action": "*"}},
    ),
    "iam-no-unscoped-resource": Checks(
        "aws:iam/rolePolicy:RolePolicy",
        {
            "name": "mlplatform-dev-node",
            "policy": doc(
                {"Sid": "Login", "Effect": "Allow", "Action": "ecr:GetAuthorizationToken", "Resource": "*"},
                {
                    "Sid": "Nodes",
                    "Effect": "Allow",
                    "Action": "ec2:TerminateInstances",
                    "Resource": "*",
                    "Condition": {"StringEquals": {"aws:RequestedRegion": "eu-west-1"}},
                },
            ),
        },
        {
            "a named-resource action": (
                {"policy.Statement.0.Action": ["ecr:GetAuthorizationToken", "s3:GetObject"]},
                "Login grants s3:GetObject on Resource '*'",
            ),
            "regional action in every region": (
                {"policy.Statement.1.Condition": DELETE},
                "Nodes grants ec2:TerminateInstances",
            ),
        },
        passes={
            "a boundary (a ceiling, not a grant)": {
                "name": "mlplatform-dev-ci-boundary",
                "policy.Statement.0.Action": "s3:GetObject",
            }
        },
    ),
    "iam-no-admin-attachments": Checks(
        "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
        {"role": "r", "policyArn": "arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy"},
        {
            name: ({"policyArn": f"arn:aws:iam::aws:policy/{name}"}, "must not be attached")
            for name in ("AdministratorAccess", "IAMFullAccess", "PowerUserAccess")
        },
    ),
    "iam-oidc-trust-conditions": Checks(
        "aws:iam/role:Role",
        {"assumeRolePolicy": doc(OIDC)},
        {
            "no aud": (
                {("assumeRolePolicy", "Statement", "0", "Condition", "StringEquals", f"{GITHUB}:aud"): DELETE},
                f"must condition {GITHUB}:aud",
            ),
            "no sub": (
                {("assumeRolePolicy", "Statement", "0", "Condition", "StringEquals", f"{GITHUB}:sub"): DELETE},
                f"must condition {GITHUB}:sub",
            ),
            "wildcard sub": (
                {
                    ("assumeRolePolicy", "Statement", "0", "Condition", "StringEquals", f"{GITHUB}:sub"): DELETE,
                    "assumeRolePolicy.Statement.0.Condition.StringLike": {f"{GITHUB}:sub": "repo:acme/ml:*"},
                },
                "a wildcard sub admits any branch or fork",
            ),
            "wildcard beside a pull request number": (
                {
                    ("assumeRolePolicy", "Statement", "0", "Condition", "StringEquals", f"{GITHUB}:sub"): DELETE,
                    "assumeRolePolicy.Statement.0.Condition.StringLike": {
                        f"{GITHUB}:sub": "repo:acme/ml:environment:preview-dev:ref:refs/pull/*/merge:job_workflow_ref:"
                        "acme/ml/.github/workflows/*.yml@refs/pull/*/merge"
                    },
                },
                "a wildcard sub admits any branch or fork",
            ),
        },
        passes={
            "a pull request's number left open": {
                ("assumeRolePolicy", "Statement", "0", "Condition", "StringEquals", f"{GITHUB}:sub"): DELETE,
                "assumeRolePolicy.Statement.0.Condition.StringLike": {
                    f"{GITHUB}:sub": "repo:acme/ml:environment:preview-dev:ref:refs/pull/*/merge:job_workflow_ref:"
                    "acme/ml/.github/workflows/pull-request.yml@refs/pull/*/merge"
                },
            },
        },
    ),
    "iam-pod-identity-trust": Checks(
        "aws:iam/role:Role",
        {"assumeRolePolicy": doc(POD)},
        {
            "another service": (
                {"assumeRolePolicy.Statement.0.Principal.Service": ["pods.eks.amazonaws.com", "ec2.amazonaws.com"]},
                "mixes pods.eks.amazonaws.com",
            ),
            "no TagSession": (
                {"assumeRolePolicy.Statement.0.Action": "sts:AssumeRole"},
                "needs sts:AssumeRole and sts:TagSession",
            ),
            "any cluster": ({"assumeRolePolicy.Statement.0.Condition": {}}, "aws:RequestTag/eks-cluster-arn"),
            "wildcard cluster": (
                {"assumeRolePolicy.Statement.0.Condition.StringEquals.aws:RequestTag/eks-cluster-arn": "arn:*"},
                "aws:RequestTag/eks-cluster-arn",
            ),
        },
    ),
    "eks-secrets-encryption": Checks(
        "aws:eks/cluster:Cluster",
        {"encryptionConfig": {"resources": ["secrets"], "provider": {"keyArn": KEY}}},
        {
            "no secrets": ({"encryptionConfig.resources": []}, "resources [secrets]"),
            "no key": ({"encryptionConfig.provider": {}}, "the cluster key"),
        },
    ),
    "eks-control-plane-logs": Checks(
        "aws:eks/cluster:Cluster",
        {"enabledClusterLogTypes": ["api", "audit", "authenticator", "controllerManager", "scheduler"]},
        {"no audit": ({"enabledClusterLogTypes": ["api", "authenticator", "controllerManager", "scheduler"]}, "audit")},
    ),
    "eks-no-public-endpoint-in-prod": Checks(
        "aws:eks/cluster:Cluster",
        {"vpcConfig": {"endpointPublicAccess": False, "endpointPrivateAccess": True}},
        {
            "public in prod": ({"vpcConfig.endpointPublicAccess": True}, "endpointPublicAccess to false"),
            "unset in prod (the provider defaults to public)": (
                {"vpcConfig.endpointPublicAccess": DELETE},
                "endpointPublicAccess to false",
            ),
        },
        stack="prod",
    ),
    "eks-private-endpoint-access": Checks(
        "aws:eks/cluster:Cluster",
        {"vpcConfig": {"endpointPublicAccess": True, "endpointPrivateAccess": True}},
        {
            "public only": ({"vpcConfig.endpointPrivateAccess": False}, "endpointPrivateAccess to true"),
            "unset (the provider defaults to false)": (
                {"vpcConfig.endpointPrivateAccess": DELETE},
                "endpointPrivateAccess to true",
            ),
        },
    ),
    "eks-supported-version": Checks(
        "aws:eks/cluster:Cluster", {"version": "1.34"}, {"old": ({"version": "1.24"}, "1.24 is not supported")}
    ),
    "eks-api-authentication": Checks(
        "aws:eks/cluster:Cluster",
        {"accessConfig": {"authenticationMode": "API", "bootstrapClusterCreatorAdminPermissions": False}},
        {
            "aws-auth ConfigMap": ({"accessConfig.authenticationMode": "API_AND_CONFIG_MAP"}, "authenticationMode"),
            "creator is admin": ({"accessConfig.bootstrapClusterCreatorAdminPermissions": True}, "bootstrapCluster"),
            "creator admin by default": (
                {"accessConfig.bootstrapClusterCreatorAdminPermissions": DELETE},
                "bootstrapClusterCreatorAdminPermissions to false",
            ),
        },
    ),
    "ec2-imdsv2-hop-limit-1": Checks(
        "aws:ec2/launchTemplate:LaunchTemplate",
        {"metadataOptions": {"httpTokens": "required", "httpPutResponseHopLimit": 1}},
        {
            "IMDSv1": ({"metadataOptions.httpTokens": "optional"}, "httpTokens to required"),
            "pods reach IMDS": ({"metadataOptions.httpPutResponseHopLimit": 2}, "httpPutResponseHopLimit to 1"),
        },
    ),
    "ec2-encrypted-volumes": Checks(
        "aws:ec2/launchTemplate:LaunchTemplate",
        {"blockDeviceMappings": [{"deviceName": "/dev/xvda", "ebs": {"encrypted": "true", "kmsKeyId": KEY}}]},
        {
            "plain": ({"blockDeviceMappings.0.ebs.encrypted": "false"}, "/dev/xvda: set ebs.encrypted"),
            "unset": ({"blockDeviceMappings.0.ebs.encrypted": DELETE}, "/dev/xvda: set ebs.encrypted"),
        },
    ),
    "ecr-immutable-tags": Checks(
        "aws:ecr/repository:Repository",
        {"imageTagMutability": "IMMUTABLE"},
        {"mutable": ({"imageTagMutability": "MUTABLE"}, "IMMUTABLE")},
    ),
    "ecr-scan-on-push": Checks(
        "aws:ecr/repository:Repository",
        {"imageScanningConfiguration": {"scanOnPush": True}},
        {"off": ({"imageScanningConfiguration.scanOnPush": False}, "scanOnPush to true")},
    ),
    "ecr-kms": Checks(
        "aws:ecr/repository:Repository",
        {"encryptionConfigurations": [{"encryptionType": "KMS", "kmsKey": KEY}]},
        {
            "AES256": ({"encryptionConfigurations.0.encryptionType": "AES256"}, "KMS with the models key"),
            "AWS-managed key": ({"encryptionConfigurations.0.kmsKey": DELETE}, "KMS with the models key"),
            "unset": ({"encryptionConfigurations": []}, "KMS with the models key"),
        },
    ),
    "karpenter-gpu-pool-guardrails": Checks(
        "kubernetes:karpenter.sh/v1:NodePool",
        GPU_POOL,
        {
            "no taint": ({"spec.template.spec.taints": []}, "taint nodes nvidia.com/gpu:NoSchedule"),
            "soft taint": ({"spec.template.spec.taints.0.effect": "PreferNoSchedule"}, "nvidia.com/gpu:NoSchedule"),
            "no GPU cap": ({"spec.limits": {"cpu": "1000"}}, "cap limits.nvidia.com/gpu"),
            "static nodes": ({"spec.replicas": 1}, "static replicas"),
            "never consolidates": ({"spec.disruption.consolidationPolicy": DELETE}, "consolidationPolicy"),
            "never empties": ({"spec.disruption.consolidateAfter": "Never"}, "consolidateAfter to at most"),
            "idle too long": (
                {"spec.disruption.consolidateAfter": f"{GPU_IDLE_MAX_MINUTES + 1}m"},
                "consolidateAfter to at most",
            ),
            # a pool is a GPU pool by its requirement or by its GPU limit: either makes the rule apply
            "GPU by its limit alone": (
                {"spec.template.spec.requirements": [], "spec.template.spec.taints": []},
                "taint nodes nvidia.com/gpu:NoSchedule",
            ),
        },
        passes={
            "a CPU pool": {
                "spec.template.spec.requirements": [],
                "spec.template.spec.taints": [],
                "spec.limits": {"cpu": "64"},
                "spec.disruption": {"consolidationPolicy": "WhenEmptyOrUnderutilized", "consolidateAfter": "Never"},
            },
            "idle for exactly the limit": {"spec.disruption.consolidateAfter": f"{GPU_IDLE_MAX_MINUTES}m"},
        },
    ),
    "k8s-pod-security-labels": Checks(
        "kubernetes:core/v1:Namespace",
        {"metadata": {"name": "vision", "labels": {"pod-security.kubernetes.io/enforce": "baseline"}}},
        {
            "privileged": ({("metadata", "labels", "pod-security.kubernetes.io/enforce"): "privileged"}, "enforce"),
            "unlabelled": ({"metadata.labels": {}}, "pod-security.kubernetes.io/enforce"),
        },
        passes={"restricted": {("metadata", "labels", "pod-security.kubernetes.io/enforce"): "restricted"}},
    ),
    "logs-encrypted-with-retention": Checks(
        "aws:cloudwatch/logGroup:LogGroup",
        {"name": "/x", "kmsKeyId": KEY, "retentionInDays": 30},
        {
            "no key": ({"kmsKeyId": DELETE}, "set kmsKeyId"),
            "kept forever": ({"retentionInDays": 0}, "set retentionInDays"),
        },
    ),
    "alarms-have-actions": Checks(
        "aws:cloudwatch/metricAlarm:MetricAlarm",
        {"name": "a", "alarmActions": ["arn:aws:sns:eu-west-1:111111111111:alerts"]},
        {"silent": ({"alarmActions": []}, "set alarmActions"), "unset": ({"alarmActions": DELETE}, "alarmActions")},
    ),
    "sns-kms": Checks(
        "aws:sns/topic:Topic",
        {"name": "t", "kmsMasterKeyId": KEY},
        {
            "none": ({"kmsMasterKeyId": DELETE}, "customer key"),
            "AWS-managed key": ({"kmsMasterKeyId": "alias/aws/sns"}, "customer key"),
        },
    ),
    "sns-no-public-publish": Checks(
        "aws:sns/topicPolicy:TopicPolicy",
        {"arn": "t", "policy": doc({**READ, "Principal": {"Service": "cloudwatch.amazonaws.com"}})},
        {"anyone": ({"policy.Statement.0.Principal": "*"}, "statement Read allows Principal '*'")},
        passes={"deny to anyone": {"policy.Statement.0.Principal": "*", "policy.Statement.0.Effect": "Deny"}},
    ),
    "cloudtrail-multi-region": Checks(
        "aws:cloudtrail/trail:Trail",
        {"isMultiRegionTrail": True},
        {"one region": ({"isMultiRegionTrail": False}, "isMultiRegionTrail to true")},
    ),
    "cloudtrail-log-validation": Checks(
        "aws:cloudtrail/trail:Trail",
        {"enableLogFileValidation": True},
        {"off": ({"enableLogFileValidation": DELETE}, "enableLogFileValidation to true")},
    ),
    "cloudtrail-kms": Checks(
        "aws:cloudtrail/trail:Trail", {"kmsKeyId": KEY}, {"none": ({"kmsKeyId": ""}, "kmsKeyId to the logs key")}
    ),
    "featurestore-encrypted": Checks(
        "aws:sagemaker/featureGroup:FeatureGroup",
        {
            "offlineStoreConfig": {"s3StorageConfig": {"s3Uri": "s3://b/fs", "kmsKeyId": KEY}},
            "onlineStoreConfig": {"enableOnlineStore": True, "securityConfig": {"kmsKeyId": KEY}},
        },
        {
            "offline store": ({"offlineStoreConfig.s3StorageConfig.kmsKeyId": DELETE}, "s3StorageConfig.kmsKeyId"),
            "online store": ({"onlineStoreConfig.securityConfig": {}}, "securityConfig.kmsKeyId"),
        },
        passes={"no online store, no online key": {"onlineStoreConfig": {"enableOnlineStore": False}}},
    ),
    "model-registry-allowlist": Checks(
        "aws:sagemaker/modelPackageGroupPolicy:ModelPackageGroupPolicy",
        {"resourcePolicy": doc({**READ, "Principal": {"AWS": [f"arn:aws:iam::{ACCOUNT}:root"]}})},
        {
            "anyone": ({"resourcePolicy.Statement.0.Principal": {"AWS": "*"}}, "must name the consumer accounts"),
            "nobody named": ({"resourcePolicy.Statement.0.Principal": DELETE}, "must name the consumer accounts"),
        },
        passes={
            "deny to anyone": {"resourcePolicy.Statement.0.Principal": "*", "resourcePolicy.Statement.0.Effect": "Deny"}
        },
    ),
    "sagemaker-endpoint-encrypted": Checks(
        ml.ENDPOINT_CONFIG,
        {
            "kmsKeyArn": KEY,
            "dataCaptureConfig": {"enableCapture": True, "initialSamplingPercentage": 10, "kmsKeyId": KEY},
        },
        {
            "storage": ({"kmsKeyArn": DELETE}, "set kmsKeyArn"),
            "capture": ({"dataCaptureConfig.kmsKeyId": DELETE}, "dataCaptureConfig.kmsKeyId"),
        },
        passes={
            "no capture, no capture key": {"dataCaptureConfig": DELETE},
            "capture off": {"dataCaptureConfig.enableCapture": False, "dataCaptureConfig.kmsKeyId": DELETE},
        },
    ),
    "sagemaker-data-capture-in-prod": Checks(
        ml.ENDPOINT_CONFIG,
        {
            "kmsKeyArn": KEY,
            "dataCaptureConfig": {"enableCapture": True, "initialSamplingPercentage": 10, "kmsKeyId": KEY},
        },
        {
            "capture off": ({"dataCaptureConfig.enableCapture": False}, "capture requests and responses in prod"),
            "nothing sampled": ({"dataCaptureConfig.initialSamplingPercentage": 0}, "initialSamplingPercentage"),
        },
        stack="prod",
    ),
    "sagemaker-model-in-vpc": Checks(
        ml.MODEL,
        {"vpcConfig": {"subnets": ["subnet-1"], "securityGroupIds": ["sg-1"]}, "enableNetworkIsolation": True},
        {
            "no subnets": ({"vpcConfig.subnets": []}, "set vpcConfig"),
            "no security group": ({"vpcConfig.securityGroupIds": DELETE}, "set vpcConfig"),
        },
    ),
    "sagemaker-endpoint-rollback": Checks(
        ml.ENDPOINT,
        {
            "deploymentConfig": {
                "blueGreenUpdatePolicy": {
                    "trafficRoutingConfiguration": {"type": "ALL_AT_ONCE", "waitIntervalInSeconds": 600}
                },
                "autoRollbackConfiguration": {"alarms": [{"alarmName": "mlplatform-dev-endpoint-churn-errors"}]},
            }
        },
        {
            "in place": ({"deploymentConfig.blueGreenUpdatePolicy": DELETE}, "blueGreenUpdatePolicy"),
            "no alarms": (
                {"deploymentConfig.autoRollbackConfiguration.alarms": []},
                "autoRollbackConfiguration.alarms",
            ),
        },
    ),
    "mlflow-artifacts-in-platform-bucket": Checks(
        "aws:sagemaker/mlflowTrackingServer:MlflowTrackingServer",
        {"artifactStoreUri": "s3://mlplatform-dev-models/mlflow"},
        {"elsewhere": ({"artifactStoreUri": "s3://personal/mlflow"}, "outside the platform's")},
    ),
}
# Resource rules whose only check is that the resource exists at all.
FORBIDDEN_TYPES = {
    "iam-no-users": ("aws:iam/user:User", "use a role"),
    "iam-no-access-keys": ("aws:iam/accessKey:AccessKey", "long-lived"),
}


def violations(plan_resources: list[Resource], rule: str, stack_name: str = "dev") -> list[str]:
    return [v.message for v in evaluate(plan_of(*plan_resources, stack=stack_name), [RULES_BY_ID[rule]])]


def _cases(kind: str):
    for rule, c in RESOURCE_RULES.items():
        for label, item in (c.fails if kind == "fails" else c.passes).items():
            yield pytest.param(rule, label, item, id=f"{rule}: {label}")


@pytest.mark.parametrize("rule", sorted(RESOURCE_RULES))
def test_the_good_resource_passes(rule):
    c = RESOURCE_RULES[rule]
    assert violations([resource(c.type, c.good, stack=c.stack)], rule, c.stack) == []


@pytest.mark.parametrize(("rule", "label", "case"), list(_cases("fails")))
def test_one_failed_check_gives_one_violation_that_names_it(rule, label, case):
    c = RESOURCE_RULES[rule]
    changes, message = case
    found = violations([resource(c.type, edited(c.good, changes), stack=c.stack)], rule, c.stack)
    assert len(found) == 1 and message in found[0], found


@pytest.mark.parametrize(("rule", "label", "changes"), list(_cases("passes")))
def test_exemptions_pass(rule, label, changes):
    c = RESOURCE_RULES[rule]
    assert violations([resource(c.type, edited(c.good, changes), stack=c.stack)], rule, c.stack) == []


@pytest.mark.parametrize("rule", sorted(FORBIDDEN_TYPES))
def test_forbidden_types_are_refused_whatever_their_settings(rule):
    type_, message = FORBIDDEN_TYPES[rule]
    (found,) = violations([resource(type_, {"name": "alice"})], rule)
    assert message in found


def test_a_public_endpoint_is_allowed_outside_prod_only_for_named_cidrs():
    def cluster(public: bool, cidrs: list[str], stack_name: str) -> list[str]:
        vpc = {"endpointPublicAccess": public, "publicAccessCidrs": cidrs}
        return violations(
            [resource(compute.CLUSTER, {"vpcConfig": vpc}, stack=stack_name)],
            "eks-no-public-endpoint-in-prod",
            stack_name,
        )

    assert cluster(True, ["203.0.113.0/24"], "dev") == []
    (found,) = cluster(True, ["0.0.0.0/0"], "dev")
    assert "not 0.0.0.0/0" in found
    assert len(cluster(True, ["0.0.0.0/0"], "prod")) == 2  # both checks, each on its own
    assert cluster(False, ["0.0.0.0/0"], "prod") == []  # CIDRs of a disabled endpoint do not matter


# Stack rules: each check on its own, in a plan of several resources.
def namespace(name: str) -> Resource:
    return resource("kubernetes:core/v1:Namespace", {"metadata": {"name": name}}, name=f"ns-{name}")


def in_ns(type_: str, ns: str, spec: dict, name: str) -> Resource:
    return resource(
        f"kubernetes:{type_}", {"metadata": {"name": name, "namespace": ns}, "spec": spec}, name=f"{ns}-{name}"
    )


DENY_ALL = {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
GUARDRAILS = {
    "quota": ("core/v1:ResourceQuota", {"hard": {"requests.nvidia.com/gpu": "4"}}),
    "limits": ("core/v1:LimitRange", {"limits": [{"type": "Container", "default": {"memory": "1Gi"}}]}),
    "deny": ("networking.k8s.io/v1:NetworkPolicy", DENY_ALL),
}


def team(ns: str, **override: dict | None) -> list[Resource]:
    out = [namespace(ns)]
    for name, (type_, default) in GUARDRAILS.items():
        spec = override.get(name, default)
        if spec is not None:
            out.append(in_ns(type_, ns, spec, name))
    return out


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"quota": None}, "add a ResourceQuota with requests.nvidia.com/gpu"),
        ({"quota": {"hard": {"requests.cpu": "64"}}}, "add a ResourceQuota with requests.nvidia.com/gpu"),
        ({"limits": None}, "add a LimitRange"),
        ({"deny": None}, "default-deny NetworkPolicy"),
        ({"deny": {**DENY_ALL, "podSelector": {"matchLabels": {"app": "x"}}}}, "default-deny"),  # some pods only
        ({"deny": {**DENY_ALL, "policyTypes": ["Ingress"]}}, "default-deny"),  # egress open
        ({"deny": {**DENY_ALL, "ingress": [{}]}}, "default-deny"),  # a rule that admits everything
        ({"deny": {**DENY_ALL, "egress": [{"to": [{"namespaceSelector": {}}]}]}}, "default-deny"),
    ],
)
def test_namespace_guardrails_one_at_a_time(override, message):
    assert violations(team("vision"), "k8s-namespace-guardrails") == []
    found = violations(team("vision", **override), "k8s-namespace-guardrails")
    assert len(found) == 1 and message in found[0] and "namespace vision" in found[0], found


def test_namespace_guardrails_count_per_namespace_and_spare_system_namespaces():
    # another namespace's guardrails do not cover this one
    moved = [namespace("vision"), *team("nlp")[1:], *team("nlp")]
    assert len(violations(moved, "k8s-namespace-guardrails")) == 3
    assert violations([namespace("karpenter"), namespace("kube-system")], "k8s-namespace-guardrails") == []


def bucket(name: str) -> Resource:
    return resource(S3 + "bucket:Bucket", {"bucket": name}, name=name)


def logging_of(name: str) -> Resource:
    return resource(S3 + "bucketLogging:BucketLogging", {"bucket": name, "targetBucket": "logs"}, name=f"{name}-log")


def test_access_logging_on_both_sides():
    assert (
        violations([bucket("raw"), logging_of("raw"), bucket("mlplatform-dev-access-logs")], "s3-access-logging") == []
    )
    (found,) = violations([bucket("raw"), logging_of("curated"), bucket("curated")], "s3-access-logging")
    assert "bucket raw: add a BucketLogging" in found


def test_required_tags_on_both_sides():
    from tests.policies.test_rules import PROVIDER, TAGS

    def run(resources, tags=TAGS):
        return [v.message for v in evaluate(plan_of(*resources, provider_tags=tags), [RULES_BY_ID["required-tags"]])]

    assert run([bucket("b")]) == []
    for key in TAGS["tags"]:
        (found,) = run([bucket("b")], {"tags": {k: v for k, v in TAGS["tags"].items() if k != key}})
        assert f"defaultTags lack {key}" in found
    (found,) = run([resource(S3 + "bucket:Bucket", {"bucket": "b"}, provider=False)])
    assert "use the stack's AWS provider" in found
    other = resource(S3 + "bucket:Bucket", {"bucket": "b"})
    other = Resource(**{**other.__dict__, "provider": PROVIDER.format(stack="dev") + "-other"})
    (found,) = run([other])  # a second, untagged provider does not count
    assert "use the stack's AWS provider" in found


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"protect": False, "retainOnDelete": True}, "must be protected in prod"),
        ({"protect": True, "retainOnDelete": False}, "must be retained on delete in prod"),
    ],
)
def test_stateful_resources_are_protected_and_retained(options, message):
    def run(stack_name: str, type_: str = S3 + "bucket:Bucket", **opts) -> list[str]:
        r = resource(type_, {"bucket": "b"}, stack=stack_name)
        r = Resource(**{**r.__dict__, "options": {"protect": True, "retainOnDelete": True, **opts}})
        return violations([r], "stateful-protected", stack_name)

    assert run("prod") == [] and run("staging") == []
    (found,) = run("prod", **options)
    assert message in found
    assert len(run("staging", **options)) == 1
    assert run("dev", **options) == []  # dev is meant to be torn down
    assert run("prod", "aws:ec2/securityGroup:SecurityGroup", **options) == []  # stateless: replaceable


def endpoint(alarms: list[str]) -> Resource:
    rollback = {"alarms": [{"alarmName": a} for a in alarms]}
    return resource(ml.ENDPOINT, {"deploymentConfig": {"autoRollbackConfiguration": rollback}}, name="churn")


def alarm(name: str) -> Resource:
    return resource("aws:cloudwatch/metricAlarm:MetricAlarm", {"name": name}, name=name)


def test_rollback_alarms_must_be_alarms_of_the_stack():
    names = ["mlplatform-dev-endpoint-churn-errors", "mlplatform-dev-endpoint-churn-latency"]
    assert violations([endpoint(names), *map(alarm, names)], "sagemaker-rollback-alarms-exist") == []
    (found,) = violations([endpoint(names), alarm(names[0])], "sagemaker-rollback-alarms-exist")
    assert f"rollback alarm {names[1]} is not in the stack" in found


def ruleset(name: str, stack_name: str) -> Resource:
    return resource("aws:glue/dataQualityRuleset:DataQualityRuleset", {"name": name}, name=name, stack=stack_name)


def schedule(rulesets: list[str], stack_name: str) -> Resource:
    request = json.dumps({"RulesetNames": rulesets, "Role": "r", "DataSource": {}})
    return resource("aws:scheduler/schedule:Schedule", {"target": {"input": request}}, name="s", stack=stack_name)


def test_every_prod_ruleset_is_scheduled():
    rule = "data-quality-scheduled-in-prod"
    a, b = "mlplatform-prod-dq-transactions", "mlplatform-prod-dq-customers"
    assert violations([ruleset(a, "prod"), ruleset(b, "prod"), schedule([a, b], "prod")], rule, "prod") == []
    (found,) = violations([ruleset(a, "prod"), ruleset(b, "prod"), schedule([a], "prod")], rule, "prod")
    assert f"ruleset {b}: give its dataset a schedule" in found
    assert violations([ruleset(a, "dev")], rule, "dev") == []  # on demand is fine outside prod


def _cost_settings(tmp_path, monkeypatch, stack: str, **monitoring) -> None:
    """The stack's file, with these monitoring settings, where the cost rules read settings from."""
    import yaml

    from pipelines.offline import REPO_ROOT

    doc = yaml.safe_load((REPO_ROOT / "stacks" / f"Pulumi.{stack}.yaml").read_text())
    doc["config"]["mlplatform:monitoring"] |= monitoring
    (tmp_path / f"Pulumi.{stack}.yaml").write_text(yaml.safe_dump(doc))
    for name in ("dev", "staging", "prod"):  # a registry stack the file may name
        if not (tmp_path / f"Pulumi.{name}.yaml").exists():
            (tmp_path / f"Pulumi.{name}.yaml").write_text((REPO_ROOT / "stacks" / f"Pulumi.{name}.yaml").read_text())
    monkeypatch.setenv("MLPLATFORM_STACKS_DIR", str(tmp_path))


def gpu_pool(gpus: int, stack_name: str, family: str = "g5") -> Resource:
    requirements = [
        {"key": "karpenter.k8s.aws/instance-family", "operator": "In", "values": [family]},
        {"key": "karpenter.sh/capacity-type", "operator": "In", "values": ["on-demand"]},
    ]
    spec = {"limits": {"nvidia.com/gpu": str(gpus)}, "template": {"spec": {"requirements": requirements}}}
    return resource(
        "kubernetes:karpenter.sh/v1:NodePool", {"metadata": {"name": "gpu"}, "spec": spec}, name="gpu", stack=stack_name
    )


def test_the_gpu_ceiling_is_held_to_the_budget_mandatory_in_prod_advisory_elsewhere(tmp_path, monkeypatch):
    from infra.cost import prices

    table = prices()
    per_gpu = max(
        table.ec2("eu-west-1", t) / table.specs[t]["gpus"]
        for t in table.specs
        if t.startswith("g5.") and table.ec2("eu-west-1", t)
    )
    ceiling = 8 * per_gpu * 730  # eight GPUs, each on the dearest g5 per GPU, all month
    for stack_name, rule, other in (
        ("prod", "cost-gpu-ceiling-within-budget", "cost-gpu-ceiling-within-budget-advisory"),
        ("dev", "cost-gpu-ceiling-within-budget-advisory", "cost-gpu-ceiling-within-budget"),
    ):
        _cost_settings(
            tmp_path, monkeypatch, stack_name, monthlyBudgetUsd=1000, gpuCeilingBudgetFactor=ceiling / 1000 - 1
        )
        (found,) = violations([gpu_pool(8, stack_name)], rule, stack_name)
        assert f"cost {ceiling:,.0f} USD a month on demand" in found
        assert found.endswith(
            ": lower training.gpuPools[].gpuLimit, or raise monitoring.monthlyBudgetUsd or gpuCeilingBudgetFactor"
        )
        assert violations([gpu_pool(8, stack_name)], other, stack_name) == []  # the other level stays quiet
        _cost_settings(
            tmp_path, monkeypatch, stack_name, monthlyBudgetUsd=1000, gpuCeilingBudgetFactor=ceiling / 1000 + 1
        )
        assert violations([gpu_pool(8, stack_name)], rule, stack_name) == []
        # exactly at the allowance is within it
        _cost_settings(tmp_path, monkeypatch, stack_name, monthlyBudgetUsd=round(ceiling, 2), gpuCeilingBudgetFactor=1)
        assert violations([gpu_pool(8, stack_name)], rule, stack_name) == []
    levels = {r.name: r.enforcement_level.value for r in RULES}
    assert levels["cost-gpu-ceiling-within-budget"] == "mandatory"
    assert levels["cost-gpu-ceiling-within-budget-advisory"] == "advisory"


def test_a_gpu_pool_without_a_price_is_judged_at_the_dearest_known_gpu_or_refused(tmp_path, monkeypatch):
    """Fail closed: a family the table has no price for counts at the dearest GPU it knows (said in the
    estimate); with no GPU price at all, the mandatory rule refuses what it cannot judge."""
    import json as _json

    from infra import cost
    from infra.settings import GPU_FAMILIES

    table = cost.prices()
    region = table.data["regions"]["eu-west-1"]["ec2"]
    priced = {t.split(".")[0] for t in region}
    unpriced = sorted(set(GPU_FAMILIES) - priced)
    assert unpriced, "every GPU family is priced: nothing to fail closed on"
    dearest = max(
        float(e["usd"]) / table.specs[t]["gpus"] for t, e in region.items() if table.specs.get(t, {}).get("gpus")
    )
    gpus = 64
    ceiling = gpus * dearest * 730
    _cost_settings(tmp_path, monkeypatch, "prod", monthlyBudgetUsd=1000, gpuCeilingBudgetFactor=ceiling / 1000 - 1)
    (found,) = violations([gpu_pool(gpus, "prod", unpriced[0])], "cost-gpu-ceiling-within-budget", "prod")
    assert f"cost {ceiling:,.0f} USD a month on demand" in found
    _cost_settings(tmp_path, monkeypatch, "prod", monthlyBudgetUsd=1000, gpuCeilingBudgetFactor=ceiling / 1000 + 1)
    assert violations([gpu_pool(gpus, "prod", unpriced[0])], "cost-gpu-ceiling-within-budget", "prod") == []
    pool = gpu_pool(gpus, "prod", unpriced[0])
    estimate = cost.estimate("prod", "eu-west-1", [cost.Res(pool.type, pool.name, "", pool.inputs)])
    (said,) = [u.why for u in estimate.unpriced]
    assert f"no price for {unpriced[0]} in eu-west-1: counted at the dearest known GPU" in said
    # a table with no GPU price at all: nothing to judge by, refused (in prod), whatever the budget
    data = _json.loads(_json.dumps(table.data))
    data["regions"]["eu-west-1"]["ec2"] = {t: e for t, e in region.items() if not table.specs.get(t, {}).get("gpus")}
    monkeypatch.setattr(cost, "prices", lambda *a, **k: cost.PriceTable(data))
    (found,) = violations([gpu_pool(1, "prod")], "cost-gpu-ceiling-within-budget", "prod")
    assert "GPU pools without any price in eu-west-1 (NodePool::gpu): their ceiling cannot be judged" in found


def test_the_idle_cost_stays_under_its_cap_where_one_is_set(tmp_path, monkeypatch):
    from infra.cost import prices

    eks = prices().item("eu-west-1", "eks-cluster-hour") * 730
    cluster = [resource("aws:eks/cluster:Cluster", {"name": "c"}, name="cluster")]
    rule = "cost-idle-within-budget"
    _cost_settings(tmp_path, monkeypatch, "dev", idleBudgetUsd=eks - 1)
    (found,) = violations(cluster, rule)
    assert f"costs {eks:,.0f} USD a month at idle, above monitoring.idleBudgetUsd" in found
    assert "EKS control plane" in found
    _cost_settings(tmp_path, monkeypatch, "dev", idleBudgetUsd=eks + 1)
    assert violations(cluster, rule) == []
    _cost_settings(tmp_path, monkeypatch, "dev", idleBudgetUsd=None)
    assert violations(cluster, rule) == []
    monkeypatch.setenv("MLPLATFORM_STACKS_DIR", str(tmp_path / "nowhere"))  # no stack file: nothing to judge by
    assert violations(cluster, rule) == []
    from infra.cost import prices

    monkeypatch.setitem(prices().data, "regions", {})  # a region without prices: not judged, no traceback
    _cost_settings(tmp_path, monkeypatch, "dev", idleBudgetUsd=eks - 1)
    assert violations(cluster, rule) == []


def test_team_gpu_quotas_beyond_the_pools_are_advised_against():
    def quota(team: str, gpus: int) -> Resource:
        spec = {"hard": {"requests.nvidia.com/gpu": str(gpus), "requests.cpu": "8"}}
        meta = {"name": "quota", "namespace": team}
        return resource("kubernetes:core/v1:ResourceQuota", {"metadata": meta, "spec": spec}, name=f"quota-{team}")

    rule = "gpu-quotas-within-pools"
    pools = [gpu_pool(8, "dev")]
    assert violations([*pools, quota("a", 4), quota("b", 4)], rule) == []  # exactly the pools' GPUs
    (found,) = violations([*pools, quota("a", 4), quota("b", 5)], rule)
    assert found.startswith("the teams' GPU quotas add up to 9 (a 4, b 5), more than the GPU pools can run at once (8)")
    assert violations([quota("a", 1)], rule) != []  # quotas and no GPU pool at all
    assert violations(pools, rule) == []  # pools and no team
    levels = {r.name: r.enforcement_level.value for r in RULES}
    assert levels[rule] == "advisory"


STACK_RULE_TESTS = {
    "gpu-quotas-within-pools": test_team_gpu_quotas_beyond_the_pools_are_advised_against,
    "cost-gpu-ceiling-within-budget": test_the_gpu_ceiling_is_held_to_the_budget_mandatory_in_prod_advisory_elsewhere,
    "cost-gpu-ceiling-within-budget-advisory": (
        test_the_gpu_ceiling_is_held_to_the_budget_mandatory_in_prod_advisory_elsewhere
    ),
    "cost-idle-within-budget": test_the_idle_cost_stays_under_its_cap_where_one_is_set,
    "sagemaker-rollback-alarms-exist": test_rollback_alarms_must_be_alarms_of_the_stack,
    "data-quality-scheduled-in-prod": test_every_prod_ruleset_is_scheduled,
    "k8s-namespace-guardrails": test_namespace_guardrails_one_at_a_time,
    "s3-access-logging": test_access_logging_on_both_sides,
    "required-tags": test_required_tags_on_both_sides,
    "stateful-protected": test_stateful_resources_are_protected_and_retained,
}


def _conditions(function: ast.FunctionDef) -> int:
    """How many ways the rule's own code can fail: each yield, and each further ``or`` operand of an
    ``if`` whose body yields (``a or b`` is two checks)."""
    tree = function
    count = sum(isinstance(n, ast.Yield) for n in ast.walk(tree))
    for node in ast.walk(tree):
        is_or = isinstance(node, ast.If) and isinstance(node.test, ast.BoolOp) and isinstance(node.test.op, ast.Or)
        if is_or and any(isinstance(n, ast.Yield) for stmt in node.body for n in ast.walk(stmt)):
            count += len(node.test.values) - 1
    return count


def _rule_functions() -> dict[str, ast.FunctionDef]:
    found = {}
    for module in (storage, identity, compute, observability, ml, stack, cost):
        for node in ast.parse(inspect.getsource(module)).body:
            if isinstance(node, ast.FunctionDef):
                for dec in node.decorator_list:
                    if isinstance(dec, ast.Call) and getattr(dec.func, "id", "") in ("resource_rule", "stack_rule"):
                        found[dec.args[0].value] = node
    return found


def test_every_rule_has_a_case_for_each_of_its_checks():
    functions = _rule_functions()
    assert set(functions) == set(RULES_BY_ID)
    covered = set(RESOURCE_RULES) | set(FORBIDDEN_TYPES) | set(STACK_RULE_TESTS)
    assert covered == set(RULES_BY_ID), set(RULES_BY_ID) ^ covered
    short = {
        rule: (len(c.fails), _conditions(functions[rule]))
        for rule, c in RESOURCE_RULES.items()
        if len(c.fails) < _conditions(functions[rule])
    }
    assert not short, f"rules with fewer failing cases than checks (cases, checks): {short}"


def test_the_helpers_rules_are_built_on():
    from infra.policies.compute import _default_deny, duration_minutes
    from infra.policies.framework import as_json, is_prod, stack_of, statements

    assert [duration_minutes(v) for v in ("30s", "5m", "1h", "1h30m", "1.5h", "90m")] == [0.5, 5, 60, 90, 90, 90]
    assert [duration_minutes(v) for v in ("Never", "", None, "10", "5 m", "m5", "-5m", "5d")] == [None] * 8
    assert stack_of("urn:pulumi:prod-eu::mlplatform::aws:s3/bucket:Bucket::b") == "prod-eu"
    assert is_prod("urn:pulumi:prod-eu::p::t::n") and is_prod("urn:pulumi:prod::p::t::n")
    assert not is_prod("urn:pulumi:production::p::t::n") and not is_prod("urn:pulumi:dev-prod::p::t::n")
    one = {"Sid": "A", "Effect": "Allow"}
    assert statements({"Statement": one}) == [one] and statements(json.dumps({"Statement": [one]})) == [one]
    assert statements("not json") == [] and statements(None) == [] and as_json("[1]") == [1]
    assert _default_deny(DENY_ALL) and not _default_deny({**DENY_ALL, "podSelector": None})
    assert not _default_deny({"policyTypes": ["Ingress", "Egress"]})  # no podSelector: not all pods
    assert not _default_deny({"podSelector": {}})  # no policyTypes: Ingress only, by Kubernetes' default


def test_a_boundary_is_exempt_by_its_name_suffix_only():
    from infra.policies.identity import _is_boundary

    class Args:
        def __init__(self, name):
            self.props = {"name": name} if name is not None else {}

    assert _is_boundary(Args("mlplatform-dev-workload-boundary"))
    assert not _is_boundary(Args("boundary-of-mlplatform")) and not _is_boundary(Args(None))


def test_rules_see_the_resources_options_and_provider_as_the_engine_gives_them():
    from pulumi_policy import ResourceValidationPolicy

    seen = []

    def record(args, report):
        seen.append((args.opts, args.provider))

    r = res("aws:s3/bucket:Bucket", {"bucket": "b"}, stack="prod", protect=True)
    r = Resource(
        **{
            **r.__dict__,
            "options": {
                "protect": True,
                "retainOnDelete": True,
                "ignoreChanges": ["tags"],
                "deleteBeforeReplace": True,
                "additionalSecretOutputs": ["x"],
            },
            "parent": "urn:parent",
        }
    )
    evaluate(plan_of(r, stack="prod"), [ResourceValidationPolicy("record", "records", record)])
    opts, provider = seen[-1]
    assert (opts.protect, opts.retain_on_delete, opts.ignore_changes) == (True, True, ["tags"])
    assert opts.aliases == [] and vars(opts.custom_timeouts) == {
        "create_seconds": 0,
        "update_seconds": 0,
        "delete_seconds": 0,
    }
    assert (opts.delete_before_replace, opts.additional_secret_outputs, opts.parent) == (True, ["x"], "urn:parent")
    assert (provider.resource_type, provider.urn, provider.name) == ("aws", r.provider, "aws")
    assert json.loads(provider.props["defaultTags"])["tags"]["owner"] == "x"


def test_evaluate_reports_level_and_resource_of_each_violation():
    from pulumi_policy import EnforcementLevel, ResourceValidationPolicy, StackValidationPolicy

    def complain(args, report):
        report(f"{args.name} is wrong")

    def listed(args, report):
        report("from a list of validators")

    def on_the_stack(args, report):
        by_name = {r.name: r for r in args.resources}
        child = by_name["child"]
        assert child.parent is by_name["parent"] and by_name["parent"].parent is None
        assert (child.name, child.dependencies, child.property_dependencies) == ("child", [], {})
        report("stack-wide")

    parent = res("aws:s3/bucket:Bucket", {"bucket": "p"}, name="parent")
    child = Resource(**{**res("aws:s3/bucket:Bucket", {"bucket": "c"}, name="child").__dict__, "parent": parent.urn})
    rules = [
        ResourceValidationPolicy("mandatory", "m", complain, EnforcementLevel.MANDATORY),
        ResourceValidationPolicy("advisory", "a", complain, EnforcementLevel.ADVISORY),
        ResourceValidationPolicy("listed", "l", [listed]),
        StackValidationPolicy("stack", "s", on_the_stack),
    ]
    found = evaluate(plan_of(parent, child), rules)
    by_rule = {(v.rule, v.urn): v for v in found}
    assert by_rule[("mandatory", child.urn)].mandatory is True
    assert by_rule[("mandatory", child.urn)].message == "child is wrong"
    assert by_rule[("advisory", parent.urn)].mandatory is False
    assert by_rule[("listed", child.urn)].message == "from a list of validators"
    (stack_wide,) = [v for v in found if v.rule == "stack"]
    assert stack_wide.urn is None and stack_wide.path == "(stack)"


def test_an_exceptions_file_lists_every_problem_and_reads_quoted_dates(tmp_path):
    import datetime as dt

    from infra.policies import framework

    file = tmp_path / "exceptions.yaml"
    file.write_text(
        "- not a mapping\n- {resource: 'aws:ecr/repository:Repository::r', reason: the migration window of INC-1, "
        "approved_by: security@example.com, expires: 2030-01-01}\n"
        "- {rule: ecr-kms, resource: 'aws:ecr/repository:Repository::r', reason: the migration window of INC-1, "
        "approved_by: security@example.com, expires: soon}\n"
    )
    with pytest.raises(framework.ExceptionsFileError) as caught:
        framework.read_exceptions(file)
    lines = str(caught.value).splitlines()
    assert lines[0] == "infra/policies/exceptions.yaml has 3 problem(s):"
    assert lines[2] == "entry 2 (?): lacks rule" and "entry 3 (ecr-kms): expires 'soon'" in lines[3]
    file.write_text(
        "- {rule: ecr-kms, resource: 'aws:ecr/repository:Repository::r', reason: the migration window of INC-1, "
        "approved_by: security@example.com, expires: '2030-01-01'}\n"
    )
    (entry,) = framework.read_exceptions(file)
    assert entry["expires"] == dt.date(2030, 1, 1)


def test_exceptions_are_read_once(monkeypatch):
    from infra.policies import framework

    calls = []
    monkeypatch.setattr(framework, "_EXCEPTIONS", None)
    monkeypatch.setattr(framework, "load_exceptions", lambda: calls.append(1) or [])
    assert not framework.excepted("ecr-kms", "urn:a") and not framework.excepted("ecr-kms", "urn:b")
    assert calls == [1]


def test_capture_is_required_in_prod_only():
    config = {"kmsKeyArn": KEY, "dataCaptureConfig": {"enableCapture": False}}
    rule = "sagemaker-data-capture-in-prod"
    assert violations([resource(ml.ENDPOINT_CONFIG, config, stack="dev")], rule, "dev") == []
    assert violations([resource(ml.ENDPOINT_CONFIG, config, stack="staging")], rule, "staging") == []
    assert len(violations([resource(ml.ENDPOINT_CONFIG, config, stack="prod")], rule, "prod")) == 1


def test_every_field_of_an_exception_says_something():
    """An empty or one-word reason, an approver that names nobody, a resource that is not a URN suffix:
    each refused with the entry and what is missing; a complete entry is read."""
    from infra.policies import framework

    good = {
        "rule": "ecr-kms",
        "resource": "aws:ecr/repository:Repository::images",
        "reason": "vendor image, scanned upstream until INC-7 closes",
        "approved_by": "security@example.com",
        "expires": "2030-01-01",
    }
    assert framework._entry_problems(good) == []
    for change, says in [
        ({"reason": ""}, "reason is empty"),
        ({"reason": "   "}, "reason is empty"),
        ({"reason": "temporary"}, "reason 'temporary' says too little: at least 3 words"),
        ({"approved_by": ""}, "approved_by is empty"),
        ({"approved_by": "the team"}, "approved_by 'the team' does not name someone"),
        ({"resource": "images"}, "resource 'images' is not the end of a URN"),
        ({"rule": ""}, "rule is empty"),
    ]:
        problems = framework._entry_problems({**good, **change})
        assert len(problems) == 1 and says in problems[0], (change, problems)
    assert framework._entry_problems({**good, "approved_by": "arn:aws:iam::111111111111:role/security"}) == []
