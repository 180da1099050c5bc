"""Each check inside a multi-check rule, with a case that fails only because of that one check and a
case that passes once it is fixed."""

from __future__ import annotations

import pytest

from infra.policies.rules import RULES
from pipelines.policy_check import evaluate
from tests.policies.test_rules import doc, plan_of, res

RULES_BY_ID = {r.name: r for r in RULES}
CLUSTER = "arn:aws:eks:eu-west-1:111111111111:cluster/mlplatform-dev-training"
POD_TRUST = {
    "Sid": "Pods",
    "Effect": "Allow",
    "Principal": {"Service": "pods.eks.amazonaws.com"},
    "Action": ["sts:AssumeRole", "sts:TagSession"],
    "Condition": {"StringEquals": {"aws:RequestTag/eks-cluster-arn": CLUSTER}},
}
EBS = {
    "Sid": "NodeVolumes",
    "Effect": "Allow",
    "Principal": {"AWS": "*"},
    "Action": ["kms:Decrypt", "kms:CreateGrant"],
    "Resource": "*",
    "Condition": {
        "StringEquals": {"kms:CallerAccount": "111111111111", "kms:ViaService": "ec2.eu-west-1.amazonaws.com"}
    },
}


def messages(rule: str, resource) -> list[str]:
    return [v.message for v in evaluate(plan_of(resource), [RULES_BY_ID[rule]])]


def role(statement: dict):
    return res("aws:iam/role:Role", {"assumeRolePolicy": doc(statement)})


def key(statement: dict):
    return res("aws:kms/key:Key", {"enableKeyRotation": True, "policy": doc(statement)})


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"Principal": {"Service": ["pods.eks.amazonaws.com", "ec2.amazonaws.com"]}}, "mixes pods.eks.amazonaws.com"),
        ({"Action": "sts:AssumeRole"}, "needs sts:AssumeRole and sts:TagSession"),
        ({"Condition": {}}, "aws:RequestTag/eks-cluster-arn"),
        (
            {"Condition": {"StringEquals": {"aws:RequestTag/eks-cluster-arn": "arn:aws:eks:*:*:cluster/*"}}},
            "eks-cluster-arn",
        ),
    ],
)
def test_pod_identity_trust_checks_one_at_a_time(change, message):
    assert messages("iam-pod-identity-trust", role(POD_TRUST)) == []
    found = messages("iam-pod-identity-trust", role({**POD_TRUST, **change}))
    assert len(found) == 1 and message in found[0], found


@pytest.mark.parametrize(
    "condition",
    [
        {"StringEquals": {"kms:ViaService": "ec2.eu-west-1.amazonaws.com"}},  # any account's principals
        {"StringEquals": {"kms:CallerAccount": "111111111111"}},  # through any service
        {"StringLike": {"kms:CallerAccount": "111111111111", "kms:ViaService": "ec2.eu-west-1.amazonaws.com"}},
    ],
)
def test_a_wildcard_key_principal_needs_both_the_account_and_the_service(condition):
    assert messages("kms-no-wildcard-principal", key(EBS)) == []
    found = messages("kms-no-wildcard-principal", key({**EBS, "Condition": condition}))
    assert len(found) == 1 and "allows Principal '*'" in found[0], found
