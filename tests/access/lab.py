"""Load a stack's generated roles and policies into moto and act as each role with real boto3 calls.

moto's IAM evaluator is independent of our code, so a wrong ARN, a missing ``/*`` or a wildcard
shows up as a wrong allow or deny. Its limits (moto 5.2), and how the tests cover them:
- Resources are matched only for S3, IAM, SQS and STS; other services (KMS, SageMaker, ECR) are checked by
  action alone, so their statements are loaded with ``Resource: "*"`` and their exact ARNs are
  asserted on the policy documents (tests/components/test_identity.py).
- Only ``StringEquals`` conditions on keys present in the request are evaluated; trust policies,
  permission boundaries and session policies are not. Roles are assumed with authentication off,
  and trust conditions (OIDC ``sub``/``aud``, MFA) and boundaries are asserted on the documents.
- Bucket policies are not loaded: moto applies the TLS-only Deny even to HTTPS calls. The bucket
  policy statements are asserted on the documents.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import boto3
from botocore.exceptions import ClientError
from moto import mock_aws
from moto.core import disable_iam_authentication, enable_iam_authentication

from pipelines.plan import Plan
from tests.plans import role_policies

RESOURCE_MATCHED_SERVICES = ("s3", "iam", "sqs", "sts")
EMPTY_POLICY = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Action": "*", "Resource": "*"}]})
DENIED = "denied"
IMAGE_MANIFEST = (
    '{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json",'
    '"config":{"mediaType":"application/vnd.docker.container.image.v1+json","size":1,'
    '"digest":"sha256:' + "a" * 64 + '"},"layers":[]}'
)
# Where Feature Store writes a group's offline records (<prefix><account>/sagemaker/<region>/...).
OFFLINE_FEATURES = "features/123456789012/sagemaker/eu-west-1/offline-store/customer_profile-1/data.parquet"
REGION = "eu-west-1"


def moto_view(policy: dict[str, Any]) -> dict[str, Any]:
    """The policy as moto can evaluate it: statements of action-only services get Resource "*"."""
    statements = []
    for st in policy["Statement"]:
        actions = [st["Action"]] if isinstance(st["Action"], str) else st["Action"]
        services = {a.split(":")[0] for a in actions}
        action_only = not services <= set(RESOURCE_MATCHED_SERVICES)
        statements.append({**st, "Resource": "*"} if action_only else st)
    return {**policy, "Statement": statements}


class AccessLab:
    """One moto account holding a stack's roles, buckets (with objects) and keys."""

    def __init__(self, plan: Plan, foreign_plans: tuple[Plan, ...] = (), objects: tuple[str, ...] = ()):
        self.plan = plan
        self.objects = objects  # more keys to put in every bucket
        self.account = plan.outputs["accountId"]
        self.buckets: dict[str, str] = dict(plan.outputs["buckets"])
        self.foreign_plans = foreign_plans
        self.foreign_buckets = {
            f"{p.stack}:{zone}": name for p in foreign_plans for zone, name in p.outputs["buckets"].items()
        }
        self.role_arns: dict[str, str] = {}
        # Who the cases act for, from the stack's own settings (a fork's teams and families work too):
        # the first team and the one after it, and the first model family.
        from tests.plans import settings_of

        settings = settings_of(plan.stack)
        teams = [t.name for t in settings.training.teams]
        self.team, self.other_team = teams[0], (teams[1] if len(teams) > 1 else None)
        self.family = settings.registry.model_families[0]
        self.names = {"team": self.team, "other_team": self.other_team or "", "family": self.family}
        self.sessions: dict[str, boto3.Session] = {}
        self.key_ids: dict[str, str] = {}
        self.ciphertexts: dict[str, bytes] = {}

    @contextmanager
    def running(self) -> Iterator[AccessLab]:
        previous = os.environ.get("MOTO_ACCOUNT_ID")
        os.environ["MOTO_ACCOUNT_ID"] = self.account
        try:
            with mock_aws(config={"iam": {"load_aws_managed_policies": False}}), disable_iam_authentication():
                self._load()
                yield self
        finally:
            if previous is None:
                os.environ.pop("MOTO_ACCOUNT_ID", None)
            else:
                os.environ["MOTO_ACCOUNT_ID"] = previous

    def _load(self) -> None:
        admin = boto3.Session(region_name=REGION)
        s3, iam, kms = admin.client("s3"), admin.client("iam"), admin.client("kms")
        for name in (*self.buckets.values(), *self.foreign_buckets.values()):
            s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": REGION})
            runs = [f"experiments/{t}/ckpt" for t in (self.team, self.other_team) if t]
            for key in ("data/part-0.parquet", *runs, f"models/{self.family}/1", OFFLINE_FEATURES, *self.objects):
                s3.put_object(Bucket=name, Key=key, Body=b"x")
        for domain in self.plan.outputs["kmsKeyArns"]:
            key_id = kms.create_key(Description=domain, Tags=[{"TagKey": "environment", "TagValue": self.plan.stack}])[
                "KeyMetadata"
            ]["KeyId"]
            self.key_ids[domain] = key_id
            self.ciphertexts[domain] = kms.encrypt(KeyId=key_id, Plaintext=b"secret")["CiphertextBlob"]
        sagemaker, ecr = admin.client("sagemaker"), admin.client("ecr")
        self.model_packages: dict[str, str] = {}
        for family, group in self.plan.outputs["modelPackageGroups"].items():
            sagemaker.create_model_package_group(ModelPackageGroupName=group)
            self.model_packages[family] = sagemaker.create_model_package(
                ModelPackageGroupName=group,
                ModelApprovalStatus="PendingManualApproval",
                InferenceSpecification={
                    "Containers": [{"Image": self.plan.outputs["imageRepositories"]["inference"] + ":1"}],
                    "SupportedContentTypes": ["text/csv"],
                    "SupportedResponseMIMETypes": ["text/csv"],
                },
            )["ModelPackageArn"]
        for url in self.plan.outputs["imageRepositories"].values():
            repo = url.split("/", 1)[1]
            ecr.create_repository(repositoryName=repo)
            ecr.put_image(repositoryName=repo, imageManifest=IMAGE_MANIFEST, imageTag="v1")
        # Roles that are not this environment's, to prove that grants stop at its boundaries.
        self.foreign_roles = [arn.split("/")[-1] for p in self.foreign_plans for arn in p.outputs["roleArns"].values()]
        for name in (*self.foreign_roles, "outsider-admin"):
            iam.create_role(RoleName=name, AssumeRolePolicyDocument=EMPTY_POLICY)
        roles = {r.urn: r for r in self.plan.of_type("aws:iam/role:Role")}
        for role in roles.values():
            name = role.inputs["name"]
            iam.create_role(RoleName=name, AssumeRolePolicyDocument=role.inputs["assumeRolePolicy"])
        for role in roles.values():
            # inline and attached customer-managed policies, merged into one moto inline policy each
            for i, doc in enumerate(role_policies(self.plan, role)):
                iam.put_role_policy(
                    RoleName=role.inputs["name"], PolicyName=f"policy-{i}", PolicyDocument=json.dumps(moto_view(doc))
                )
        sts = admin.client("sts")
        for role_key, arn in self.plan.outputs["roleArns"].items():
            creds = sts.assume_role(RoleArn=arn, RoleSessionName="access-test")["Credentials"]
            self.role_arns[role_key] = arn
            self.sessions[role_key] = boto3.Session(
                aws_access_key_id=creds["AccessKeyId"],
                aws_secret_access_key=creds["SecretAccessKey"],
                aws_session_token=creds["SessionToken"],
                region_name=REGION,
            )

    def key(self, template: str) -> str:
        """An object key or role name with {team}, {other_team} and {family} of this stack filled in."""
        return template.format(**self.names)

    def attempt(self, role: str, call: Callable[[boto3.Session, AccessLab], Any]) -> str | None:
        """Run ``call`` as ``role`` (which may name {team}) with IAM authentication on: None if it
        succeeded, ``DENIED`` if IAM refused it (HTTP 403), else the error code (a call that fails for
        another reason)."""
        with enable_iam_authentication():
            try:
                call(self.sessions[self.key(role)], self)
            except ClientError as err:
                if err.response["ResponseMetadata"]["HTTPStatusCode"] == 403:
                    return DENIED
                return err.response["Error"]["Code"]
        return None
