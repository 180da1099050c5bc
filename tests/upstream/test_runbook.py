"""The documented procedures (pipelines/runbook.py, docs/deploying.md) work for every stack: each
step runs where it can reach what it manages, needs only what earlier steps made, and uses
credentials the Pulumi CLI can use. Models: pipelines/semantics/reach.py (EKS endpoint access),
credentials.py (AWS SDK for Go v2), teardown.py (the engine's delete order)."""

from __future__ import annotations

import copy
import dataclasses
from functools import cache
from pathlib import Path

import pytest

from infra.settings import SettingsError
from pipelines import runbook
from pipelines.offline import plan_stack
from pipelines.plan import Plan, Resource
from pipelines.semantics.teardown import Node, deleted_before
from tests.plans import STACKS, stack_plan, variant_plan

REPO = Path(__file__).resolve().parents[2]


@cache
def bootstrap_plan(stack: str) -> Plan:
    return plan_stack(stack, root=REPO / "bootstrap")


def first_run(stack: str, plan_for=None):
    return runbook.walk(runbook.FIRST_RUN, stack, plan_for or (lambda s: variant_plan(stack, s)), bootstrap_plan(stack))


@pytest.mark.parametrize("stack", STACKS)
def test_the_first_run_completes_and_leaves_every_project_of_the_stack_deployed(stack):
    state, problems = first_run(stack)
    assert problems == []
    assert set(state.deployed) == {"mlplatform-bootstrap", *stack_plan(stack).projects}


def test_later_laptop_runs_of_dev_reach_its_cluster_through_the_documented_path():
    state, problems = first_run("dev")
    after, more = runbook.walk(
        runbook.LAPTOP_RUNS, "dev", lambda s: variant_plan("dev", s), bootstrap_plan("dev"), state
    )
    assert problems == more == []
    assert "mlplatform-cluster" in after.deployed


@pytest.mark.parametrize("stack", [s for s in STACKS if not s.startswith("dev")])
def test_the_laptop_path_is_refused_outside_dev(stack):
    with pytest.raises(SettingsError, match="endpointPublicAccess: must be false"):
        variant_plan(stack, runbook.OPEN_DEV_ENDPOINT.settings)


def test_teardown_of_dev_completes_in_the_documented_order():
    state, _ = first_run("dev")
    after, problems = runbook.walk(
        runbook.TEARDOWN, "dev", lambda s: variant_plan("dev", s), bootstrap_plan("dev"), state
    )
    assert problems == []
    assert set(after.deployed) == {"mlplatform-bootstrap"}


# --- each check fails on its own -----------------------------------------------------------------


def _as_one_project(plan: Plan) -> Plan:
    """The plan as it was before the in-cluster project: every resource in the platform project."""
    moved = [dataclasses.replace(r, urn=r.urn.replace("::mlplatform-cluster::", "::mlplatform::")) for r in plan]
    return Plan(plan.project, plan.stack, moved, plan.outputs)


def test_a_laptop_cannot_apply_the_kubernetes_resources_of_a_private_cluster():
    """The first run of the single project the README used to document: `pulumi up` from a laptop
    against a private endpoint (EKS VpcConfigRequest: "can only receive requests from within the
    cluster VPC")."""
    _, problems = first_run("dev", lambda s: _as_one_project(variant_plan("dev", s)))
    assert any(
        p.startswith("platform: mlplatform manages Kubernetes resources, and laptop does not reach") for p in problems
    )


def test_a_step_that_needs_what_a_later_step_makes_is_caught():
    steps = list(runbook.FIRST_RUN)
    github = next(i for i, s in enumerate(steps) if s.id == "github")
    in_cluster = next(i for i, s in enumerate(steps) if s.id == "in-cluster")
    steps[github], steps[in_cluster] = steps[in_cluster], steps[github]
    _, problems = runbook.walk(steps, "dev", lambda s: variant_plan("dev", s), bootstrap_plan("dev"))
    assert any(p.startswith("in-cluster: needs github-configured") for p in problems)
    assert any("the CI runner cannot start yet" in p for p in problems)


def test_destroying_the_platform_before_the_in_cluster_project_is_caught():
    state, _ = first_run("dev")
    platform_first = [runbook.OPEN_DEV_ENDPOINT, runbook.TEARDOWN[2], runbook.TEARDOWN[1]]
    _, problems = runbook.walk(platform_first, "dev", lambda s: variant_plan("dev", s), bootstrap_plan("dev"), state)
    assert any("destroys mlplatform while mlplatform-cluster still reads it" in p for p in problems)
    assert any(p.startswith("destroy-in-cluster: mlplatform-cluster manages Kubernetes resources") for p in problems)


def test_an_mfa_profile_given_to_pulumi_is_caught():
    state, _ = first_run("dev")
    step = dataclasses.replace(runbook.LAPTOP_RUNS[1], commands=("AWS_PROFILE=ml-dev-admin pulumi up --stack dev",))
    _, problems = runbook.walk(
        [step], "dev", lambda s: variant_plan("dev", s), bootstrap_plan("dev"), copy.deepcopy(state)
    )
    assert any("AssumeRoleTokenProviderNotSetError" in p for p in problems)


# --- what the docs say ---------------------------------------------------------------------------


def test_the_deploying_page_shows_every_step_and_its_commands_in_order():
    text = (REPO / runbook.DOC).read_text()
    documented = runbook.documented_commands(text)
    for name, steps in runbook.PROCEDURES.items():
        expected = [c for s in steps for c in s.render("dev").commands]
        position = -1
        for command in expected:
            later = [i for i, c in enumerate(documented) if c == command and i > position]
            assert later, f"{name}: `{command}` is not in {runbook.DOC} after the step before it"
            position = later[0]
        for step in (s.render("dev") for s in steps):
            assert step.title in text, f"{name}: the step '{step.title}' is not in {runbook.DOC}"


def test_every_documented_pulumi_command_finds_credentials_without_a_prompt():
    """README and docs/: in every console block, each pulumi command that needs AWS runs with
    credentials the Go SDK resolves (environment keys exported by the AWS CLI, or an SSO profile),
    never a profile that would need an MFA code."""
    from pipelines.semantics import credentials

    for page in [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]:
        env: dict[str, str] = {}
        commands, _ = credentials.follow(runbook.documented_commands(page.read_text()), env)
        for line, at in commands:
            if not credentials.needs_aws(line):
                continue
            for provider in (False, True):
                found = credentials.resolve(at, runbook.doc_profiles(), provider=provider)
                assert found.ok, f"{page.name}: `{line}`: {found.error}"


# --- teardown inside a project: the engine's order and the controllers' finalizers ------------------


def nodes(plan: Plan, project: str) -> list[Node]:
    return [
        Node(r.urn, r.parent, r.provider, tuple(r.dependencies), r.property_dependencies, r.options.get("deletedWith"))
        for r in plan.of_project(project)
    ]


def release(plan: Plan, name: str) -> Resource | None:
    return next((r for r in plan.of_type("kubernetes:helm.sh/v3:Release") if r.inputs["name"] == name), None)


@pytest.mark.parametrize("stack", STACKS)
def test_what_carries_a_controllers_finalizer_goes_before_the_controller(stack):
    """KubeRay's RayJobs (in team namespaces) and Karpenter's NodeClaims (of NodePools) and
    EC2NodeClass are finalized only by their controller (foundation/upstream/finalizers.py): the
    engine must delete what holds them while the controller runs."""
    from foundation.upstream.finalizers import CONTROLLERS

    plan = stack_plan(stack)
    graph = nodes(plan, "mlplatform-cluster")
    for type_, (controller, holds, _) in CONTROLLERS.items():
        owner = release(plan, controller)
        for r in plan.of_type(type_):
            if type_ == "kubernetes:core/v1:Namespace" and "mlplatform/team" not in r.inputs["metadata"].get(
                "labels", {}
            ):
                continue
            if owner is None:
                continue  # no such controller in this stack (e.g. distributedTrainingOperator: none)
            assert deleted_before(graph, r.urn, owner.urn), f"{r.name} ({holds}) may go after {controller}"
