"""A fake AWS account for `mlplatform preflight`: moto where it implements the call (STS, EC2's
offerings and instance types, IAM, KMS, S3, and Systems Manager's global-infrastructure parameters),
botocore's Stubber for the rest (Service Quotas beyond VPC, EKS versions, the AMI parameters,
CodeConnections, Chatbot, Cost Explorer). A stubbed response is validated against botocore's model of
the call's output, and a stubbed client refuses any call that was not queued for it."""

from __future__ import annotations

import os
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import boto3
from botocore.stub import Stubber

from foundation.conventions import secrets_alias, state_bucket_name
from foundation.iam.github import GITHUB_OIDC_HOST
from foundation.upstream import account_reads as facts

# (service, region) answered by moto; "*" any region.
MOTO = {("sts", "*"), ("ec2", "*"), ("iam", "*"), ("kms", "*"), ("s3", "*"), ("ssm", facts.REGION_SERVICES_QUERIED_IN)}


@dataclass
class Answers:
    """Queued stub answers per (service, region): (method, response) or (method, ClientError code, status)."""

    queued: dict[tuple[str, str], list[tuple]] = field(default_factory=dict)

    def add(self, service: str, region: str, method: str, response: Any = None, error: tuple[str, int] | None = None):
        self.queued.setdefault((service, region), []).append((method, response, error))
        return self


class FakeAccount:
    """Client factory for pipelines.preflight.Account, inside moto's mock."""

    def __init__(self, answers: Answers):
        self.answers = answers
        self.stubbers: list[Stubber] = []

    def __call__(self, service: str, region: str):
        client = boto3.client(service, region_name=region)
        if (service, "*") in MOTO or (service, region) in MOTO:
            return client
        stubber = Stubber(client)
        for method, response, error in self.answers.queued.get((service, region), []):
            if error:
                stubber.add_client_error(method, service_error_code=error[0], http_status_code=error[1])
            else:
                stubber.add_response(method, response)
        stubber.activate()
        self.stubbers.append(stubber)
        return client

    def all_answered(self) -> None:
        for s in self.stubbers:
            s.assert_no_pending_responses()


@contextmanager
def moto_account(account_id: str):
    from moto import mock_aws

    saved = {k: os.environ.get(k) for k in ("MOTO_ACCOUNT_ID", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")}
    os.environ.update(MOTO_ACCOUNT_ID=account_id, AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing")
    try:
        with mock_aws():
            yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def bootstrap(settings) -> str:
    """What the account bootstrap makes (bootstrap/account.py), in moto: the state bucket, the
    secrets key and its alias, the GitHub OIDC provider. Returns the backend URL."""
    region = settings.region
    bucket = state_bucket_name(settings.environment, settings.account_id, region)
    boto3.client("s3", region_name=region).create_bucket(
        Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": region}
    )
    kms = boto3.client("kms", region_name=region)
    key = kms.create_key(KeyUsage="ENCRYPT_DECRYPT")["KeyMetadata"]["KeyId"]  # AWS reports it; moto only when given
    kms.create_alias(AliasName=secrets_alias(settings.environment), TargetKeyId=key)
    boto3.client("iam").create_open_id_connect_provider(
        Url=f"https://{GITHUB_OIDC_HOST}", ClientIDList=[facts.OIDC_AUDIENCE], ThumbprintList=["a" * 40]
    )
    return f"s3://{bucket}?region={region}&awssdk=v2"


def quota(code: str, value: float, name: str = "") -> dict:
    return {"Quota": {"ServiceCode": "ec2", "QuotaCode": code, "QuotaName": name or code, "Value": value}}


def endpoint_quotas(values: dict[str, float]) -> dict:
    return {
        "Quotas": [
            {
                "ServiceCode": "sagemaker",
                "QuotaCode": f"L-{i:08X}",
                "QuotaName": facts.SAGEMAKER_ENDPOINT_QUOTA.format(instance_type=t),
                "Value": v,
            }
            for i, (t, v) in enumerate(sorted(values.items()))
        ]
    }


def cluster_version(version: str, status: str = "STANDARD_SUPPORT") -> dict:
    return {"clusterVersions": [{"clusterVersion": version, "versionStatus": status}]}


def addon(name: str, version: str, default: bool = True) -> dict:
    return {
        "addons": [
            {
                "addonName": name,
                "addonVersions": [
                    {
                        "addonVersion": "v1.0.0-eksbuild.1",
                        "compatibilities": [{"clusterVersion": version, "defaultVersion": default}],
                    }
                ],
            }
        ]
    }


def parameters(names: list[str], missing: tuple[str, ...] = ()) -> dict:
    return {
        "Parameters": [
            {"Name": n, "Type": "String", "Value": "ami-0123456789abcdef0", "Version": 1}
            for n in names
            if n not in missing
        ],
        **({"InvalidParameters": list(missing)} if missing else {}),  # the model: min length 1
    }


def connection(arn: str, status: str) -> dict:
    return {
        "Connection": {
            "ConnectionName": "github",
            "ConnectionArn": arn,
            "ProviderType": "GitHub",
            "OwnerAccountId": arn.split(":")[4],
            "ConnectionStatus": status,
        }
    }


def workspaces(*team_ids: str) -> dict:
    return {"SlackWorkspaces": [{"SlackTeamId": t, "SlackTeamName": f"team {t}"} for t in team_ids]}


def cost_tags(status: str | None) -> dict:
    return {
        "CostAllocationTags": []
        if status is None
        else [{"TagKey": "environment", "Type": "UserDefined", "Status": status}]
    }
