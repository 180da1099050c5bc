"""The KMS keys: one per data domain, rotating, protected where it matters, narrow key policies."""

from __future__ import annotations

import re

import pytest

from components.encryption import EncryptionArgs
from infra.settings import DEFAULT_KEY_DOMAINS
from tests.plans import policy, settings_of, stack_plan

KEY = "aws:kms/key:Key"
ALIAS = "aws:kms/alias:Alias"


def test_one_rotating_key_and_alias_per_domain(any_plan):
    plan, stack, settings = any_plan, any_plan.stack, settings_of(any_plan.stack)
    e = settings.encryption
    keys = {r.inputs["tags"]["data-domain"]: r for r in plan.of_type(KEY)}
    assert set(keys) == {*DEFAULT_KEY_DOMAINS, *e.additional_domains}
    for domain, key in keys.items():
        assert key.inputs["enableKeyRotation"] is True
        assert key.inputs["rotationPeriodInDays"] == e.key_rotation_period_days
        assert key.inputs["deletionWindowInDays"] == e.key_deletion_window_days
        assert key.inputs["bypassPolicyLockoutSafetyCheck"] is False
        assert key.inputs["multiRegion"] is False
        assert key.inputs["keyUsage"] == "ENCRYPT_DECRYPT"
        assert key.options["protect"] is settings.protect and key.options["retainOnDelete"] is settings.protect
        alias = plan.get(ALIAS, key.name)
        assert alias.inputs["name"] == f"alias/mlplatform-{stack}-{domain}"
        assert alias.inputs["targetKeyId"] == key.outputs["keyId"]
        assert key.urn in alias.dependencies
        assert plan.outputs["kmsKeyArns"][domain] == key.outputs["arn"]


def test_key_policies_name_their_principals_and_scope_services(any_plan):
    account = any_plan.outputs["accountId"]
    for key in any_plan.of_type(KEY):
        statements = {s["Sid"]: s for s in policy(key)["Statement"]}
        admin = statements.pop("AccountAdministration")
        assert admin["Principal"] == {"AWS": f"arn:aws:iam::{account}:root"}
        volumes = statements.pop("NodeVolumesThroughEc2", None)
        consumers = statements.pop("ConsumerAccountsDecrypt", None)
        for sid, st in statements.items():
            assert st["Effect"] == "Allow"
            assert set(st["Principal"]) == {"Service"}, sid
            assert "*" not in str(st["Principal"])
            if sid == "EventBridgePublish":
                # the EventBridge guide's statement has no condition: source conditions drop deliveries
                assert "Condition" not in st
                continue
            # every other service statement is pinned to this account, by source account or ARN context
            assert account in str(st["Condition"]), sid
        domain = key.inputs["tags"]["data-domain"]
        if domain == "logs":
            services = {s["Principal"]["Service"] for s in statements.values()}
            assert services == {
                "logs.eu-west-1.amazonaws.com",
                "cloudtrail.amazonaws.com",
                "cloudwatch.amazonaws.com",
                "events.amazonaws.com",
                "budgets.amazonaws.com",
            }
            logs = statements["CloudWatchLogsUse"]["Condition"]["ArnLike"]
            assert logs == {"kms:EncryptionContext:aws:logs:arn": f"arn:aws:logs:eu-west-1:{account}:log-group:*"}
        elif domain == "models":
            # the approval events reach the encrypted topic and queue through EventBridge
            assert {s["Principal"]["Service"] for s in statements.values()} == {"events.amazonaws.com"}
            # consumer accounts (staging's: prod) decrypt artifacts and images through S3 and ECR only
            if consumers:
                assert consumers["Condition"]["StringEquals"]["kms:ViaService"] == [
                    "s3.eu-west-1.amazonaws.com",
                    "ecr.eu-west-1.amazonaws.com",
                ]
        else:
            # callers use data and cluster keys through their roles (kms:ViaService grants)
            assert statements == {}, domain
        if domain == "cluster":
            # Node and persistent volumes: this account's principals, and the service-linked roles EC2
            # launches with, through EC2 only (the aws/ebs key policy form; foundation/upstream/eks.py).
            assert volumes["Principal"] == {"AWS": "*"}
            assert volumes["Condition"] == {
                "StringEquals": {"kms:CallerAccount": account, "kms:ViaService": "ec2.eu-west-1.amazonaws.com"}
            }
            assert "kms:CreateGrant" in volumes["Action"] and "kms:ScheduleKeyDeletion" not in volumes["Action"]
        else:
            assert volumes is None, domain


def test_keys_of_different_stacks_live_in_their_own_accounts():
    arns = {s: stack_plan(s).outputs["kmsKeyArns"]["data"] for s in ("dev", "staging", "prod")}
    assert re.fullmatch(r"arn:aws:kms:eu-west-1:111111111111:key/[0-9a-f-]{36}", arns["dev"])
    assert ":333333333333:key/" in arns["prod"]
    assert len(set(arns.values())) == 3


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"deletion_window_days": 3}, "deletion_window_days must be between 7 and 30"),
        ({"rotation_period_days": 30}, "rotation_period_days must be between 90 and 2560"),
        ({"domains": ("data", "data")}, "duplicate key domains"),
    ],
)
def test_encryption_args_reject_unsafe_values(changes, message):
    base = {"environment": "dev", "account_id": "111111111111", "region": "eu-west-1"}
    with pytest.raises(ValueError, match=message):
        EncryptionArgs(**base, **changes)


def test_secure_defaults_need_no_arguments():
    args = EncryptionArgs(environment="prod", account_id="333333333333", region="eu-west-1")
    assert args.protect is True
    assert args.deletion_window_days == 30
    assert tuple(args.domains) == ("data", "models", "logs", "cluster")
