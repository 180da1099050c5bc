"""CI's roles do what a deployment calls, per the provider-actions table (AWS's resource provider
schemas), under their boundary, and cannot raise their own permissions or read data. Effective
permissions come from iam-ape (boundaries honoured), not from the statements' text."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from foundation.conventions import STATEFUL_TYPES
from foundation.iam.actions import actions_of, table
from foundation.iam.ci import NEVER_FOR_CI
from tests.plans import STACKS, policy, stack_plan
from tests.upstream.effective import effective


def _types(plan) -> list[str]:
    return sorted({r.type for r in plan if r.custom and r.type.startswith("aws:")})


@pytest.mark.parametrize("stack", STACKS)
def test_every_resource_type_of_the_plan_has_a_row_and_ci_can_do_all_of_it(stack):
    plan = stack_plan(stack)
    types = _types(plan)
    missing = sorted(set(types) - set(table()["types"]))
    assert missing == [], f"no provider-actions row (pipelines/provider_actions.py) for {missing}"
    roles = effective(plan)
    deploy, preview = roles[f"mlplatform-{stack}-ci-deploy"], roles[f"mlplatform-{stack}-ci-preview"]
    protected = plan.get("aws:kms/key:Key", "keys-data").options["protect"]
    needed = actions_of(types, ["create", "read", "update"])
    needed |= actions_of([t for t in types if not (protected and t in STATEFUL_TYPES)], ["delete"])
    gaps = sorted(a for a in needed - NEVER_FOR_CI if a not in deploy.allowed)
    assert gaps == [], "ci-deploy cannot make these calls of a deployment"
    gaps = sorted(a for a in actions_of(types, ["read"]) if a not in preview.allowed)
    assert gaps == [], "ci-preview cannot make these calls of a refresh"


TERRAFORM = json.loads((Path(__file__).resolve().parents[2] / "foundation/upstream/terraform_calls.json").read_text())


@pytest.mark.parametrize("stack", STACKS)
def test_ci_makes_every_call_the_terraform_provider_makes(stack):
    """The calls pulumi-aws really makes (terraform-provider-aws, foundation/upstream/terraform_calls.json),
    read independently of the merged table: a refresh (PR preview, nightly drift) calls every read, a
    deployment all four. Only what the table excludes with a reason (object data, unused features) and
    what CI may never do are left out."""
    from pipelines.provider_actions import EXCLUDED

    plan = stack_plan(stack)
    roles = effective(plan)
    deploy, preview = roles[f"mlplatform-{stack}-ci-deploy"], roles[f"mlplatform-{stack}-ci-preview"]
    protected = plan.get("aws:kms/key:Key", "keys-data").options["protect"]
    excluded = lambda action: any(action.startswith(k) for k in EXCLUDED)  # noqa: E731
    for type_ in _types(plan):
        calls = TERRAFORM["types"].get(type_)
        if calls is None:
            continue  # only the bootstrap has it (the CodeConnections connection): CI does not manage it
        missing = sorted(a for a in calls["read"] if a not in preview.allowed)
        assert missing == [], f"ci-preview cannot refresh {type_} ({calls['resource']}): {missing}"
        ops = ["create", "read", "update"] + ([] if protected and type_ in STATEFUL_TYPES else ["delete"])
        needed = {a for op in ops for a in calls[op]} - NEVER_FOR_CI
        missing = sorted(a for a in needed if a not in deploy.allowed and not excluded(a))
        assert missing == [], f"ci-deploy cannot deploy {type_} ({calls['resource']}): {missing}"


def test_the_refresh_calls_the_reviews_found_missing_are_granted():
    """terraform-provider-aws: aws_launch_template's read calls DescribeLaunchTemplateVersions for its
    latest version (ec2_launch_template.go, findLaunchTemplateVersionByTwoPartKey), aws_eip's read
    DescribeAddressesAttribute for its PTR record (ec2_eip.go, findEIPDomainNameAttributeByAllocationID,
    which tolerates only NotFound)."""
    assert "ec2:DescribeLaunchTemplateVersions" in TERRAFORM["types"]["aws:ec2/launchTemplate:LaunchTemplate"]["read"]
    assert "ec2:DescribeAddressesAttribute" in TERRAFORM["types"]["aws:ec2/eip:Eip"]["read"]
    plan = stack_plan("dev")
    roles = effective(plan)
    for role in ("ci-preview", "ci-deploy"):
        allowed = roles[f"mlplatform-dev-{role}"].allowed
        assert {"ec2:DescribeLaunchTemplateVersions", "ec2:DescribeAddressesAttribute"} <= set(allowed), role


@pytest.mark.parametrize("stack", STACKS)
def test_ci_deploy_cannot_raise_its_own_permissions(stack):
    plan = stack_plan(stack)
    account = plan.outputs["accountId"]
    deploy = effective(plan)[f"mlplatform-{stack}-ci-deploy"]
    role, policy_ = (
        f"arn:aws:iam::{account}:role/mlplatform-{stack}-",
        f"arn:aws:iam::{account}:policy/mlplatform-{stack}-",
    )
    for action in ("iam:PutRolePolicy", "iam:AttachRolePolicy", "iam:UpdateAssumeRolePolicy", "iam:DeleteRolePolicy"):
        for own in ("ci-deploy", "ci-preview"):
            assert not deploy.allows(action, role + own), (action, own)
        assert deploy.allows(action, role + "model-approver"), action  # it does manage the platform's roles
    for action in ("iam:CreatePolicyVersion", "iam:SetDefaultPolicyVersion", "iam:DeletePolicy"):
        for own in ("ci-deploy-1", "deploy-boundary", "workload-boundary", "cluster-boundary"):
            assert not deploy.allows(action, policy_ + own), (action, own)
    assert not deploy.allows("iam:DeleteRolePermissionsBoundary", role + "model-approver")
    assert not deploy.allows("iam:CreateUser", f"arn:aws:iam::{account}:user/intruder")
    # a role it creates must carry a platform boundary: the deny is conditioned on it
    (boundary,) = [p for p in plan.of_type("aws:iam/policy:Policy") if p.inputs["name"].endswith("deploy-boundary")]
    deny = {st["Sid"]: st for st in policy(boundary)["Statement"]}["RolesOnlyWithABoundary"]
    assert deny["Effect"] == "Deny" and "iam:CreateRole" in deny["Action"]
    assert deny["Condition"] == {
        "StringNotLike": {"iam:PermissionsBoundary": [f"arn:aws:iam::{account}:policy/mlplatform-{stack}-*-boundary"]}
    }


@pytest.mark.parametrize("stack", STACKS)
def test_ci_reads_no_data_but_the_pulumi_state(stack):
    plan = stack_plan(stack)
    account = plan.outputs["accountId"]
    roles = effective(plan)
    for name in ("ci-deploy", "ci-preview"):
        role = roles[f"mlplatform-{stack}-{name}"]
        for bucket in plan.outputs["buckets"].values():
            assert not role.allows("s3:GetObject", f"arn:aws:s3:::{bucket}/data/part-0.parquet"), (name, bucket)
            assert not role.allows("s3:PutObject", f"arn:aws:s3:::{bucket}/data/part-0.parquet"), (name, bucket)
        state = f"arn:aws:s3:::mlplatform-{stack}-pulumi-state-{account}-eu-west-1/.pulumi/stacks/{stack}.json"
        assert role.allows("s3:GetObject", state), name
    # kms:Decrypt of CI is the Pulumi secrets key's only (by alias), or a key SageMaker or Scheduler uses for it
    for r in plan.of_type("aws:iam/policy:Policy"):
        if "-ci-" not in r.inputs["name"]:
            continue
        for st in policy(r)["Statement"]:
            actions = [st["Action"]] if isinstance(st["Action"], str) else st["Action"]
            if st["Effect"] == "Allow" and "kms:Decrypt" in actions and st["Sid"] != "PulumiSecretsKey":
                # the feature group's create (online store key), decided by SageMaker's calls only
                assert st["Sid"].startswith("Manage"), st["Sid"]
    boundary = next(p for p in plan.of_type("aws:iam/policy:Policy") if p.inputs["name"].endswith("deploy-boundary"))
    deny = {st["Sid"]: st for st in policy(boundary)["Statement"]}["NeverUseDataKeys"]
    assert deny["Condition"] == {
        "StringNotLike": {"kms:ViaService": ["sagemaker.*.amazonaws.com", "scheduler.*.amazonaws.com"]},
        "ForAllValues:StringNotEquals": {"kms:ResourceAliases": [f"alias/mlplatform-{stack}-pulumi-secrets"]},
    }


def test_the_table_names_its_sources_and_what_it_left_out():
    t = table()
    assert (
        "CloudFormation" in t["sources"]["handlers"] and "Service Authorization Reference" in t["sources"]["unscoped"]
    )
    assert t["dropped"]["lakeformation:GetDataAccess"]  # a data read some handlers list, never granted
    row = t["types"]["aws:s3/bucket:Bucket"]
    assert "s3:ListBucket" in row["read"] and row["extra"]["read"] == ["s3:ListBucket"]  # HeadBucket
    assert {"sns:Subscribe", "sns:GetSubscriptionAttributes"} <= set(
        t["types"]["aws:sns/topicSubscription:TopicSubscription"]["create"]
    )
    assert {"cloudwatch:DescribeAlarms"} <= set(t["types"]["aws:cloudwatch/metricAlarm:MetricAlarm"]["read"])
    assert {"budgets:ViewBudget"} <= set(t["types"]["aws:budgets/budget:Budget"]["read"])
    assert json.dumps(t)  # plain data


def test_ci_preview_may_refresh_the_cluster(any_plan):
    viewers = {
        r.inputs["principalArn"]
        for r in any_plan.of_type("aws:eks/accessPolicyAssociation:AccessPolicyAssociation")
        if r.inputs["policyArn"].endswith("/AmazonEKSAdminViewPolicy")
    }
    assert viewers == {any_plan.outputs["roleArns"]["ci-preview"]}
