"""Every rule passes on the real stacks and fails, with a message that says how to fix it, on a
minimal bad resource."""

from __future__ import annotations

import json

import pytest

from infra.policies.rules import RULES
from pipelines.plan import Plan, Resource
from pipelines.policy_check import evaluate
from tests.plans import STACKS, stack_plan

RULES_BY_ID = {r.name: r for r in RULES}
PROVIDER = "urn:pulumi:{stack}::mlplatform::pulumi:providers:aws::aws"
TAGS = {"tags": {k: "x" for k in ("environment", "owner", "cost-center", "managed-by", "project")}}


def res(
    type_: str, props: dict, *, name: str = "bad", stack: str = "dev", protect: bool = False, provider=True
) -> Resource:
    return Resource(
        urn=f"urn:pulumi:{stack}::mlplatform::{type_}::{name}",
        type=type_,
        name=name,
        parent=None,
        custom=True,
        provider=PROVIDER.format(stack=stack) if provider else None,
        id=name,
        inputs=props,
        outputs=props,
        options={"protect": protect, "retainOnDelete": protect},
        dependencies=[],
    )


def plan_of(*resources: Resource, stack: str = "dev", provider_tags: dict = TAGS) -> Plan:
    provider = res(
        "pulumi:providers:aws", {"defaultTags": json.dumps(provider_tags)}, name="aws", stack=stack, provider=False
    )
    provider = Resource(**{**provider.__dict__, "urn": PROVIDER.format(stack=stack)})
    return Plan(project="mlplatform", stack=stack, resources=[provider, *resources], outputs={})


def doc(*statements: dict) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


ALLOW_ALL = {"Sid": "Open", "Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "s3:GetObject", "Resource": "*"}
S3 = "aws:s3/"
BAD: dict[str, tuple[list[Resource], str, str]] = {
    "s3-public-access-block": (
        [res(S3 + "bucketPublicAccessBlock:BucketPublicAccessBlock", {"bucket": "b", "blockPublicAcls": True})],
        "dev",
        "must set blockPublicPolicy, ignorePublicAcls, restrictPublicBuckets to true",
    ),
    "s3-sse-kms": (
        [
            res(
                S3 + "bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
                {"bucket": "b", "rules": [{"applyServerSideEncryptionByDefault": {"sseAlgorithm": "AES256"}}]},
            )
        ],
        "dev",
        "use sseAlgorithm aws:kms",
    ),
    "s3-versioning": (
        [
            res(
                S3 + "bucketVersioning:BucketVersioning",
                {"bucket": "b", "versioningConfiguration": {"status": "Suspended"}},
            )
        ],
        "dev",
        "status to Enabled",
    ),
    "s3-acls-disabled": (
        [
            res(
                S3 + "bucketOwnershipControls:BucketOwnershipControls",
                {"bucket": "b", "rule": {"objectOwnership": "ObjectWriter"}},
            )
        ],
        "dev",
        "BucketOwnerEnforced",
    ),
    "s3-tls-only": (
        [res(S3 + "bucketPolicy:BucketPolicy", {"bucket": "b", "policy": doc()})],
        "dev",
        "aws:SecureTransport = false",
    ),
    "s3-no-public-principal": (
        [res(S3 + "bucketPolicy:BucketPolicy", {"bucket": "b", "policy": doc(ALLOW_ALL)})],
        "dev",
        "allows Principal '*'",
    ),
    "s3-access-logging": ([res(S3 + "bucket:Bucket", {"bucket": "mlplatform-dev-raw"})], "dev", "add a BucketLogging"),
    "kms-rotation": (
        [res("aws:kms/key:Key", {"enableKeyRotation": False, "policy": doc()})],
        "dev",
        "enableKeyRotation to true",
    ),
    "kms-no-wildcard-principal": (
        [res("aws:kms/key:Key", {"enableKeyRotation": True, "policy": doc({**ALLOW_ALL, "Action": "kms:*"})})],
        "dev",
        "allows Principal '*'",
    ),
    "kms-no-lockout-bypass": (
        [res("aws:kms/key:Key", {"enableKeyRotation": True, "bypassPolicyLockoutSafetyCheck": True})],
        "dev",
        "remove bypassPolicyLockoutSafetyCheck",
    ),
    "iam-no-star-action": (
        [
            res(
                "aws:iam/rolePolicy:RolePolicy",
                {"policy": doc({"Sid": "God", "Effect": "Allow", "Action": "*", "Resource": "arn:aws:s3:::b"})},
            )
        ],
        "dev",
        "allows Action '*'",
    ),
    "iam-no-unscoped-resource": (
        [
            res(
                "aws:iam/rolePolicy:RolePolicy",
                {"policy": doc({"Sid": "Wide", "Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"})},
            )
        ],
        "dev",
        "grants s3:GetObject on Resource '*'",
    ),
    "iam-no-admin-attachments": (
        [
            res(
                "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
                {"role": "r", "policyArn": "arn:aws:iam::aws:policy/AdministratorAccess"},
            )
        ],
        "dev",
        "must not be attached",
    ),
    "iam-no-users": ([res("aws:iam/user:User", {"name": "alice"})], "dev", "use a role"),
    "iam-no-access-keys": ([res("aws:iam/accessKey:AccessKey", {"user": "alice"})], "dev", "long-lived secrets"),
    "iam-oidc-trust-conditions": (
        [
            res(
                "aws:iam/role:Role",
                {
                    "assumeRolePolicy": doc(
                        {
                            "Sid": "Gh",
                            "Effect": "Allow",
                            "Principal": {"Federated": "arn"},
                            "Action": "sts:AssumeRoleWithWebIdentity",
                            "Condition": {"StringLike": {"token.actions.githubusercontent.com:sub": "repo:o/r:*"}},
                        }
                    )
                },
            )
        ],
        "dev",
        "must condition token.actions.githubusercontent.com:aud",
    ),
    "iam-pod-identity-trust": (
        [
            res(
                "aws:iam/role:Role",
                {
                    "assumeRolePolicy": doc(
                        {
                            "Sid": "Pods",
                            "Effect": "Allow",
                            "Principal": {"Service": ["pods.eks.amazonaws.com", "ec2.amazonaws.com"]},
                            "Action": ["sts:AssumeRole", "sts:TagSession"],
                        }
                    )
                },
            )
        ],
        "dev",
        "mixes pods.eks.amazonaws.com",
    ),
    "eks-secrets-encryption": ([res("aws:eks/cluster:Cluster", {"version": "1.34"})], "dev", "resources [secrets]"),
    "eks-control-plane-logs": (
        [res("aws:eks/cluster:Cluster", {"enabledClusterLogTypes": ["api"]})],
        "dev",
        "audit, authenticator, controllerManager, scheduler",
    ),
    "eks-no-public-endpoint-in-prod": (
        [
            res(
                "aws:eks/cluster:Cluster",
                {"vpcConfig": {"endpointPublicAccess": True, "publicAccessCidrs": ["1.2.3.0/24"]}},
                stack="prod",
            )
        ],
        "prod",
        "prod clusters must set vpcConfig.endpointPublicAccess to false",
    ),
    "eks-supported-version": (
        [res("aws:eks/cluster:Cluster", {"version": "1.24"})],
        "dev",
        "version 1.24 is not supported",
    ),
    "eks-api-authentication": (
        [res("aws:eks/cluster:Cluster", {"accessConfig": {"authenticationMode": "CONFIG_MAP"}})],
        "dev",
        "authenticationMode to API",
    ),
    "ec2-imdsv2-hop-limit-1": (
        [
            res(
                "aws:ec2/launchTemplate:LaunchTemplate",
                {"metadataOptions": {"httpTokens": "optional", "httpPutResponseHopLimit": 2}},
            )
        ],
        "dev",
        "httpTokens to required",
    ),
    "ec2-encrypted-volumes": (
        [
            res(
                "aws:ec2/launchTemplate:LaunchTemplate",
                {"blockDeviceMappings": [{"deviceName": "/dev/xvda", "ebs": {"encrypted": "false"}}]},
            )
        ],
        "dev",
        "/dev/xvda: set ebs.encrypted to true",
    ),
    "ecr-immutable-tags": (
        [res("aws:ecr/repository:Repository", {"imageTagMutability": "MUTABLE"})],
        "dev",
        "IMMUTABLE",
    ),
    "ecr-scan-on-push": (
        [res("aws:ecr/repository:Repository", {"imageScanningConfiguration": {"scanOnPush": False}})],
        "dev",
        "scanOnPush to true",
    ),
    "ecr-kms": (
        [res("aws:ecr/repository:Repository", {"encryptionConfigurations": [{"encryptionType": "AES256"}]})],
        "dev",
        "KMS with the models key",
    ),
    "karpenter-gpu-pool-guardrails": (
        [
            res(
                "kubernetes:karpenter.sh/v1:NodePool",
                {
                    "spec": {
                        "template": {
                            "spec": {
                                "requirements": [
                                    {"key": "karpenter.k8s.aws/instance-gpu-manufacturer", "values": ["nvidia"]}
                                ]
                            }
                        }
                    }
                },
            )
        ],
        "dev",
        "taint nodes nvidia.com/gpu:NoSchedule",
    ),
    "k8s-pod-security-labels": (
        [res("kubernetes:core/v1:Namespace", {"metadata": {"name": "vision", "labels": {}}})],
        "dev",
        "pod-security.kubernetes.io/enforce",
    ),
    "k8s-namespace-guardrails": (
        [res("kubernetes:core/v1:Namespace", {"metadata": {"name": "vision"}})],
        "dev",
        "namespace vision: add a ResourceQuota with requests.nvidia.com/gpu",
    ),
    "logs-encrypted-with-retention": (
        [res("aws:cloudwatch/logGroup:LogGroup", {"name": "/x", "kmsKeyId": "k"})],
        "dev",
        "set retentionInDays",
    ),
    "alarms-have-actions": (
        [res("aws:cloudwatch/metricAlarm:MetricAlarm", {"name": "a", "alarmActions": []})],
        "dev",
        "set alarmActions",
    ),
    "sns-kms": ([res("aws:sns/topic:Topic", {"name": "t"})], "dev", "kmsMasterKeyId to a customer key"),
    "sns-no-public-publish": (
        [res("aws:sns/topicPolicy:TopicPolicy", {"policy": doc({**ALLOW_ALL, "Action": "sns:Publish"})})],
        "dev",
        "allows Principal '*'",
    ),
    "cloudtrail-multi-region": (
        [res("aws:cloudtrail/trail:Trail", {"isMultiRegionTrail": False})],
        "dev",
        "isMultiRegionTrail to true",
    ),
    "cloudtrail-log-validation": (
        [res("aws:cloudtrail/trail:Trail", {"enableLogFileValidation": False})],
        "dev",
        "enableLogFileValidation to true",
    ),
    "cloudtrail-kms": ([res("aws:cloudtrail/trail:Trail", {})], "dev", "kmsKeyId to the logs key"),
    "featurestore-encrypted": (
        [
            res(
                "aws:sagemaker/featureGroup:FeatureGroup",
                {
                    "offlineStoreConfig": {"s3StorageConfig": {"s3Uri": "s3://b"}},
                    "onlineStoreConfig": {"enableOnlineStore": True},
                },
            )
        ],
        "dev",
        "s3StorageConfig.kmsKeyId",
    ),
    "model-registry-allowlist": (
        [
            res(
                "aws:sagemaker/modelPackageGroupPolicy:ModelPackageGroupPolicy",
                {"resourcePolicy": doc({**ALLOW_ALL, "Action": "sagemaker:DescribeModelPackage"})},
            )
        ],
        "dev",
        "must name the consumer accounts",
    ),
    "mlflow-artifacts-in-platform-bucket": (
        [
            res(
                "aws:sagemaker/mlflowTrackingServer:MlflowTrackingServer",
                {"artifactStoreUri": "s3://my-personal-bucket/mlflow"},
            )
        ],
        "dev",
        "outside the platform's",
    ),
    "required-tags": (
        [res("aws:s3/bucket:Bucket", {"bucket": "b"}, provider=False)],
        "dev",
        "use the stack's AWS provider",
    ),
    "stateful-protected": (
        [res("aws:s3/bucket:Bucket", {"bucket": "b"}, stack="prod", protect=False)],
        "prod",
        "must be protected in prod",
    ),
}


def test_the_pack_has_at_least_30_rules_each_with_a_failing_case():
    assert len(RULES) >= 30
    assert set(BAD) == set(RULES_BY_ID), set(RULES_BY_ID) ^ set(BAD)
    assert len(RULES_BY_ID) == len(RULES)  # ids are unique


@pytest.mark.parametrize("rule_id", sorted(BAD))
def test_rule_fails_on_a_bad_resource_with_a_useful_message(rule_id):
    resources, stack, message = BAD[rule_id]
    violations = evaluate(plan_of(*resources, stack=stack), [RULES_BY_ID[rule_id]])
    assert violations, f"{rule_id} accepted a bad resource"
    assert any(message in v.message for v in violations), [v.message for v in violations]
    assert all(v.rule == rule_id for v in violations)


@pytest.mark.parametrize("stack", STACKS)
def test_every_rule_passes_on_the_real_stack(stack):
    violations = evaluate(stack_plan(stack))
    assert violations == [], "\n".join(f"{v.rule}: {v.path}: {v.message}" for v in violations)


def test_required_tags_rule_reads_the_providers_default_tags():
    bad = plan_of(stack="dev", provider_tags={"tags": {"environment": "dev"}})
    (v,) = evaluate(bad, [RULES_BY_ID["required-tags"]])
    assert "defaultTags lack cost-center, managed-by, owner, project" in v.message


def test_an_unexpired_reviewed_exception_silences_exactly_its_rule_and_resource(tmp_path, monkeypatch):
    import datetime as dt

    from infra.policies import framework

    exceptions = tmp_path / "exceptions.yaml"
    exceptions.write_text(
        "- rule: ecr-scan-on-push\n  resource: 'aws:ecr/repository:Repository::bad'\n"
        "  reason: vendor image, scanned upstream\n  approved_by: security@example.com\n  expires: 2030-01-01\n"
        "- rule: ecr-immutable-tags\n  resource: 'aws:ecr/repository:Repository::bad'\n"
        "  reason: expired\n  approved_by: security@example.com\n  expires: 2020-01-01\n"
    )
    monkeypatch.setattr(framework, "_EXCEPTIONS", framework.load_exceptions(exceptions, today=dt.date(2026, 11, 28)))
    repo = res("aws:ecr/repository:Repository", {"imageTagMutability": "MUTABLE", "imageScanningConfiguration": {}})
    found = {
        v.rule for v in evaluate(plan_of(repo), [RULES_BY_ID["ecr-scan-on-push"], RULES_BY_ID["ecr-immutable-tags"]])
    }
    assert found == {"ecr-immutable-tags"}  # the expired exception no longer applies
    incomplete = tmp_path / "incomplete.yaml"
    incomplete.write_text("- rule: ecr-kms\n  resource: x\n")
    with pytest.raises(ValueError, match="lacks approved_by, expires, reason"):
        framework.load_exceptions(incomplete)


def test_readme_rule_table_is_the_packs():
    from infra.policies.rules import rules_markdown
    from pipelines.offline import REPO_ROOT

    assert rules_markdown() in (REPO_ROOT / "README.md").read_text()
