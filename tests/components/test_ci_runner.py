"""CI reaches the private cluster API from a runner inside the stack's VPC, and only from there."""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml

from tests.plans import policy

WORKFLOWS = Path(__file__).resolve().parents[2] / ".github" / "workflows"


def test_the_runner_is_a_codebuild_project_in_the_private_subnets(any_plan):
    env = any_plan.stack
    (project,) = any_plan.of_type("aws:codebuild/project:Project")
    p = project.inputs
    assert p["name"] == f"mlplatform-{env}-ci-runner"
    assert p["source"]["type"] == "GITHUB" and p["source"]["auth"]["type"] == "CODECONNECTIONS"
    private = {
        r.outputs["arn"].rsplit("/", 1)[-1]
        for r in any_plan.of_type("aws:ec2/subnet:Subnet")
        if "karpenter.sh/discovery" in r.inputs["tags"]
    }
    assert set(p["vpcConfig"]["subnets"]) == private
    (webhook,) = any_plan.of_type("aws:codebuild/webhook:Webhook")
    (group,) = webhook.inputs["filterGroups"]
    filters = {f["type"]: f["pattern"] for f in group["filters"]}
    # CodeBuild runs queued GitHub Actions jobs (event WORKFLOW_JOB_QUEUED), of these workflows only
    assert filters["EVENT"] == "WORKFLOW_JOB_QUEUED"
    names = {yaml.safe_load(w.read_text())["name"] for w in WORKFLOWS.glob("*.yml")}
    runner_users = {
        yaml.safe_load(w.read_text())["name"] for w in WORKFLOWS.glob("*.yml") if "codebuild-" in w.read_text()
    }
    allowed = set(re.fullmatch(r"\^\((.*)\)\$", filters["WORKFLOW_NAME"]).group(1).split("|"))
    callers = {
        yaml.safe_load(w.read_text())["name"] for w in WORKFLOWS.glob("*.yml") if "deploy-stack.yml" in w.read_text()
    }
    assert allowed == runner_users | callers and allowed <= names
    # the label the workflows ask for is this project's
    assert any_plan.outputs["ciRunnerLabel"].startswith(f"codebuild-{p['name']}-")


def test_only_the_runner_reaches_the_cluster_api(any_plan):
    (cluster,) = any_plan.of_type("aws:eks/cluster:Cluster")
    rules = any_plan.of_type("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule")
    (rule,) = [
        r for r in rules if r.inputs["securityGroupId"] == cluster.outputs["vpcConfig"]["clusterSecurityGroupId"]
    ]
    runner_sg = next(
        r
        for r in any_plan.of_type("aws:ec2/securityGroup:SecurityGroup")
        if r.inputs.get("name", "").endswith("ci-runner")
    )
    assert (rule.inputs["fromPort"], rule.inputs["toPort"], rule.inputs["ipProtocol"]) == (443, 443, "tcp")
    assert rule.inputs["referencedSecurityGroupId"] == runner_sg.outputs["arn"].rsplit("/", 1)[-1]
    assert "cidrIpv4" not in rule.inputs
    assert cluster.inputs["vpcConfig"]["endpointPublicAccess"] is False


def test_the_runners_role_is_trusted_by_its_project_only(any_plan):
    role = next(r for r in any_plan.of_type("aws:iam/role:Role") if r.inputs["name"].endswith("-ci-runner"))
    (st,) = json.loads(role.inputs["assumeRolePolicy"])["Statement"]
    assert st["Principal"] == {"Service": "codebuild.amazonaws.com"}
    project = (
        f"arn:aws:codebuild:eu-west-1:{any_plan.outputs['accountId']}:project/mlplatform-{any_plan.stack}-ci-runner"
    )
    assert st["Condition"]["ArnLike"] == {"aws:SourceArn": project}
    inline = next(r for r in any_plan.of_type("aws:iam/rolePolicy:RolePolicy") if r.inputs["role"] == role.id)
    sids = {s["Sid"]: s for s in policy(inline)["Statement"]}
    assert sids["RunnerInterfacePermission"]["Condition"]["StringEquals"] == {
        "ec2:AuthorizedService": "codebuild.amazonaws.com"
    }


def test_a_public_repository_starts_the_runner_only_for_its_named_people():
    """CodeBuild's webhooks guide, for public repositories: ACTOR_ACCOUNT_ID filters "to specify which
    users can trigger a build" (the id of the webhook payload's sender); the settings refuse a public
    repository without them."""
    from infra.settings import SettingsError
    from pipelines.offline import plan_stack, read_stack_config

    ci = json.loads(read_stack_config("dev").values["mlplatform:ci"]) | {"repositoryVisibility": "public"}
    try:
        plan_stack("dev", overrides={"mlplatform:ci": ci})
        raise AssertionError("a public repository without runnerActors was planned")
    except SettingsError as err:
        assert "ci.runnerActors: must list the GitHub user ids" in str(err)
    plan = plan_stack("dev", overrides={"mlplatform:ci": ci | {"runnerActors": ["1234", "5678"]}})
    (webhook,) = plan.of_type("aws:codebuild/webhook:Webhook")
    (group,) = webhook.inputs["filterGroups"]
    filters = {f["type"]: f["pattern"] for f in group["filters"]}
    assert filters["ACTOR_ACCOUNT_ID"] == "^(1234|5678)$"
    assert filters["EVENT"] == "WORKFLOW_JOB_QUEUED"  # the filters of a group must all match (AND)
