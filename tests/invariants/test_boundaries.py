"""The permission boundaries, from both sides: each refuses what no role of its kind may ever do (in
another environment, another region, through another service) and admits what the platform needs,
and every condition in every boundary statement is load-bearing: removed, it flips one of those
requests. Decisions come from the IAM evaluator (pipelines/semantics/iam.py), with the boundary as
the only limit on an identity that allows everything."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from dataclasses import dataclass

import pytest

from pipelines.plan import Plan
from pipelines.semantics.iam import Principal, Request, evaluate
from tests.invariants.variants import PLANS, plan_of, stack_of
from tests.plans import settings_of

ALLOW_ALL = {"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
OTHER_REGION = {"eu-west-1": "us-east-1"}


@dataclass(frozen=True)
class Case:
    boundary: str  # workload, scheduler, cluster, deploy
    what: str
    action: str
    resource: str
    context: dict
    allowed: bool


def cases(name: str) -> list[Case]:
    """What each boundary must refuse and admit, from the platform's promises (docs/security.md)."""
    s = settings_of(stack_of(name))
    env, account, region = s.environment, s.account_id, s.region
    other_env = "prod" if env != "prod" else "dev"
    other_region = OTHER_REGION.get(region, "eu-west-1")
    key = f"arn:aws:kms:{region}:{account}:key/0123abcd-0000-0000-0000-000000000000"
    role = f"arn:aws:iam::{account}:role/mlplatform-{env}"
    found = []
    for kind in ("workload", "cluster"):
        found += [
            Case(
                kind, "another environment's key", "kms:Decrypt", key, {"aws:ResourceTag/environment": other_env}, False
            ),
            Case(kind, "its environment's key", "kms:Decrypt", key, {"aws:ResourceTag/environment": env}, True),
        ]
    found += [
        Case("workload", "network interfaces elsewhere", "ec2:CreateNetworkInterface", "*",
             {"aws:RequestedRegion": other_region}, False),
        Case("workload", "network interfaces here", "ec2:CreateNetworkInterface", "*",
             {"aws:RequestedRegion": region}, True),
        Case("workload", "passing a role", "iam:PassRole", f"{role}-serving-x", {}, False),
        Case("scheduler", "passing a data-quality role to Glue", "iam:PassRole", f"{role}-data-quality-x",
             {"iam:PassedToService": "glue.amazonaws.com"}, True),
        Case("scheduler", "passing it to another service", "iam:PassRole", f"{role}-data-quality-x",
             {"iam:PassedToService": "ec2.amazonaws.com"}, False),
        Case("scheduler", "its environment's key for a dead letter, through SQS", "kms:GenerateDataKey", key,
             {"aws:ResourceTag/environment": env, "kms:ViaService": f"sqs.{region}.amazonaws.com"}, True),
        Case("scheduler", "another environment's key, through SQS", "kms:GenerateDataKey", key,
             {"aws:ResourceTag/environment": other_env, "kms:ViaService": f"sqs.{region}.amazonaws.com"}, False),
        Case("scheduler", "its environment's key directly", "kms:Decrypt", key,
             {"aws:ResourceTag/environment": env}, False),
        Case("deploy", "reading data with its key", "kms:Decrypt", key,
             {"kms:ViaService": f"s3.{region}.amazonaws.com",
              "kms:ResourceAliases": [f"alias/mlplatform-{env}-data"]}, False),
        Case("deploy", "an online store's key through SageMaker", "kms:Decrypt", key,
             {"kms:ViaService": f"sagemaker.{region}.amazonaws.com",
              "kms:ResourceAliases": [f"alias/mlplatform-{env}-data"]}, True),
        Case("deploy", "a schedule's payload key through Scheduler", "kms:GenerateDataKey", key,
             {"kms:ViaService": f"scheduler.{region}.amazonaws.com",
              "kms:ResourceAliases": [f"alias/mlplatform-{env}-data"]}, True),
        Case("deploy", "a data key through SQS", "kms:Decrypt", key,
             {"kms:ViaService": f"sqs.{region}.amazonaws.com",
              "kms:ResourceAliases": [f"alias/mlplatform-{env}-data"]}, False),
        Case("deploy", "the Pulumi secrets key", "kms:Decrypt", key,
             {"kms:ResourceAliases": [f"alias/mlplatform-{env}-pulumi-secrets"]}, True),
        Case("deploy", "a role without a platform boundary", "iam:CreateRole", f"{role}-x",
             {"iam:PermissionsBoundary": f"arn:aws:iam::{account}:policy/anything-goes"}, False),
        Case("deploy", "a role with the workload boundary", "iam:CreateRole", f"{role}-x",
             {"iam:PermissionsBoundary": f"arn:aws:iam::{account}:policy/mlplatform-{env}-workload-boundary"}, True),
        Case("deploy", "attaching AdministratorAccess", "iam:AttachRolePolicy", f"{role}-x",
             {"iam:PolicyARN": "arn:aws:iam::aws:policy/AdministratorAccess"}, False),
        Case("deploy", "attaching a policy EKS requires", "iam:AttachRolePolicy", f"{role}-x",
             {"iam:PolicyARN": "arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy"}, True),
    ]  # fmt: skip
    if s.serving.registry_stack and s.serving.registry_stack != stack_of(name):
        registry = settings_of(s.serving.registry_stack).account_id
        foreign = f"arn:aws:kms:{region}:{registry}:key/0123abcd-0000-0000-0000-000000000000"
        found += [
            Case("workload", "the registry's key through S3", "kms:Decrypt", foreign,
                 {"kms:ViaService": f"s3.{region}.amazonaws.com"}, True),
            Case("workload", "the registry's key through another service", "kms:Decrypt", foreign,
                 {"kms:ViaService": f"sqs.{region}.amazonaws.com"}, False),
        ]  # fmt: skip
    return found


def boundaries(plan: Plan) -> dict[str, dict]:
    env = plan.outputs["environment"]
    out = {}
    for p in plan.of_type("aws:iam/policy:Policy"):
        name = p.inputs["name"]
        if name.startswith(f"mlplatform-{env}-") and name.endswith("-boundary"):
            out[name.removeprefix(f"mlplatform-{env}-").removesuffix("-boundary")] = json.loads(p.inputs["policy"])
    return out


def decide(boundary: dict, case: Case, account: str) -> bool:
    principal = Principal(f"arn:aws:iam::{account}:role/mlplatform-role")
    request = Request(principal, case.action, case.resource, case.context)
    return bool(evaluate(request, identity=[ALLOW_ALL], boundary=boundary))


@pytest.fixture(params=PLANS)
def plan_name(request) -> str:
    return request.param


def test_each_boundary_refuses_what_it_must_and_admits_what_the_platform_needs(plan_name):
    plan = plan_of(plan_name)
    docs, account = boundaries(plan), plan.outputs["accountId"]
    assert set(docs) == {"workload", "scheduler", "cluster", "deploy"}
    wrong = [
        f"{c.boundary}: {c.what} is {'refused' if c.allowed else 'allowed'}"
        for c in cases(plan_name)
        if decide(docs[c.boundary], c, account) != c.allowed
    ]
    assert wrong == []


def without(boundary: dict, sid: str, operator: str, key: str) -> dict:
    doc = copy.deepcopy(boundary)
    for st in doc["Statement"]:
        if st.get("Sid") == sid:
            del st["Condition"][operator][key]
            if not st["Condition"][operator]:
                del st["Condition"][operator]
    return doc


def conditions(boundary: dict) -> list[tuple[str, str, str]]:
    return [
        (st.get("Sid", "?"), op, key)
        for st in boundary["Statement"]
        for op, keys in (st.get("Condition") or {}).items()
        for key in keys
    ]


def test_every_condition_of_every_boundary_is_load_bearing(plan_name):
    """A condition no case depends on is either decoration or a promise without a test: each must
    flip at least one case when removed."""
    plan = plan_of(plan_name)
    docs, account = boundaries(plan), plan.outputs["accountId"]
    decorative = []
    for kind, doc in docs.items():
        mine = [c for c in cases(plan_name) if c.boundary == kind]
        for sid, op, key in conditions(doc):
            loose = without(doc, sid, op, key)
            if not any(decide(loose, c, account) != decide(doc, c, account) for c in mine):
                decorative.append(f"{kind} {sid} {op} {key}")
    assert decorative == []


def test_a_decorative_condition_is_noticed():
    """The check above on a boundary with a condition no case needs."""
    doc = {"Statement": [{"Sid": "X", "Effect": "Allow", "Action": "s3:GetObject", "Resource": "*",
                          "Condition": {"StringEquals": {"aws:RequestedRegion": "eu-west-1"}}}]}  # fmt: skip
    case = Case("x", "read", "kms:Decrypt", "*", {}, False)
    loose = without(doc, "X", "StringEquals", "aws:RequestedRegion")
    flips: Callable[[Case], bool] = lambda c: decide(loose, c, "1") != decide(doc, c, "1")  # noqa: E731
    assert not flips(case)
    assert flips(Case("x", "read elsewhere", "s3:GetObject", "*", {"aws:RequestedRegion": "us-east-1"}, False))
