"""Only the intended workflow jobs can assume the CI roles: each role's trust policy, evaluated with
IAM's semantics (pipelines/semantics/iam.py), against the token GitHub gives each job
(pipelines/semantics/github_oidc.py, held to GitHub's documented examples below), under the subject
template the CI setup configures (docs/ci.md)."""

from __future__ import annotations

import json

import pytest

from foundation.iam.github import GITHUB_OIDC_HOST, SUBJECT_CLAIMS
from pipelines.semantics.github_oidc import Job, claims
from pipelines.semantics.iam import Principal, Request, evaluate
from tests.plans import STACKS, settings_of, stack_plan

WORKFLOWS = ".github/workflows"


# --- the model, on GitHub's own examples (github/docs content/actions/reference/security/oidc.md) ----


def test_github_subjects_as_the_docs_show_them():
    octo = "octo-org/octo-repo"
    assert claims(Job(octo, f"{WORKFLOWS}/x.yml", "push", "refs/heads/main", environment="prod"))["sub"] == (
        "repo:octo-org/octo-repo:environment:prod"
    )
    assert claims(Job(octo, f"{WORKFLOWS}/x.yml", "pull_request", "refs/pull/1/merge"))["sub"] == (
        "repo:octo-org/octo-repo:pull_request"
    )
    assert claims(Job(octo, f"{WORKFLOWS}/x.yml", "push", "refs/heads/demo-branch"))["sub"] == (
        "repo:octo-org/octo-repo:ref:refs/heads/demo-branch"
    )
    assert claims(Job(octo, f"{WORKFLOWS}/x.yml", "push", "refs/tags/demo-tag"))["sub"] == (
        "repo:octo-org/octo-repo:ref:refs/tags/demo-tag"
    )
    # "Example: Requiring a reusable workflow and other claims"
    reusable = Job(
        octo,
        f"{WORKFLOWS}/caller.yml",
        "push",
        "refs/heads/main",
        environment="prod",
        reusable="octo-org/octo-automation/.github/workflows/oidc.yml@refs/heads/main",
    )
    assert claims(reusable, ("repo", "context", "job_workflow_ref"))["sub"] == (
        "repo:octo-org/octo-repo:environment:prod:job_workflow_ref:"
        "octo-org/octo-automation/.github/workflows/oidc.yml@refs/heads/main"
    )
    # Immutable subjects: repo:octo-org@123456/octo-repo@456789:ref:refs/heads/main
    ids = Job(octo, f"{WORKFLOWS}/x.yml", "push", "refs/heads/main", owner_id="123456", repository_id="456789")
    assert claims(ids, immutable=True)["sub"] == "repo:octo-org@123456/octo-repo@456789:ref:refs/heads/main"
    assert claims(Job(octo, f"{WORKFLOWS}/x.yml", "pull_request", "refs/pull/1/merge", from_fork=True)) is None


# --- the platform's roles ------------------------------------------------------------------------------


def _trusts(plan) -> dict[str, dict]:
    return {
        r.inputs["name"].rsplit("-", 2)[-2] + "-" + r.inputs["name"].rsplit("-", 1)[-1]: json.loads(
            r.inputs["assumeRolePolicy"]
        )
        for r in plan.of_type("aws:iam/role:Role")
        if r.inputs["name"].endswith(("-ci-deploy", "-ci-preview"))
    }


def assumes(plan, role: str, job: Job, template=SUBJECT_CLAIMS) -> bool:
    token = claims(job, template)
    if token is None:
        return False
    provider = f"arn:aws:iam::{plan.outputs['accountId']}:oidc-provider/{GITHUB_OIDC_HOST}"
    context = {f"{GITHUB_OIDC_HOST}:{k}": v for k, v in token.items()}
    request = Request(Principal(provider), "sts:AssumeRoleWithWebIdentity", plan.outputs["roleArns"][role], context)
    return bool(evaluate(request, resource_policy=_trusts(plan)[role]))


def scenarios(stack: str):
    ci = settings_of(stack).ci
    repo, main = ci.github_repository, f"refs/heads/{ci.deploy_branch}"
    env, preview = ci.deploy_environment, ci.preview_environment or f"preview-{stack}"
    deploy_stack = lambda ref: f"{repo}/{WORKFLOWS}/deploy-stack.yml@{ref}"  # noqa: E731
    w = lambda name: f"{WORKFLOWS}/{name}"  # noqa: E731
    intended = {
        "a push to main deploys": ("ci-deploy", Job(repo, w("deploy.yml"), "push", main, env, deploy_stack(main))),
        "a dispatch on main deploys": (
            "ci-deploy",
            Job(repo, w("deploy.yml"), "workflow_dispatch", main, env, deploy_stack(main)),
        ),
        "a pull request previews": (
            "ci-preview",
            Job(repo, w("pull-request.yml"), "pull_request", "refs/pull/7/merge", preview),
        ),
        "the nightly drift check": ("ci-preview", Job(repo, w("drift.yml"), "schedule", main)),
        "a promotion from main": ("ci-preview", Job(repo, w("promote.yml"), "workflow_dispatch", main)),
    }
    feature = "refs/heads/feature"
    attacks = {
        "a branch workflow naming the deploy environment": Job(repo, w("evil.yml"), "push", feature, env),
        "the deploy workflow dispatched from a branch": Job(
            repo, w("deploy.yml"), "workflow_dispatch", feature, env, deploy_stack(feature)
        ),
        "a branch workflow calling main's deploy workflow": Job(
            repo, w("evil.yml"), "push", feature, env, deploy_stack(main)
        ),
        "another workflow file on main naming the environment": Job(repo, w("other.yml"), "push", main, env),
        "a fork's pull request": Job(
            repo, w("pull-request.yml"), "pull_request", "refs/pull/9/merge", preview, from_fork=True
        ),
        "another workflow of a pull request, in the preview environment": Job(
            repo, w("evil.yml"), "pull_request", "refs/pull/9/merge", preview
        ),
        "a pull request job outside the preview environment": Job(
            repo, w("pull-request.yml"), "pull_request", "refs/pull/9/merge"
        ),
        "the pull-request workflow pushed on a branch, in the preview environment": Job(
            repo, w("pull-request.yml"), "push", feature, preview
        ),
        "the drift workflow dispatched from a branch": Job(repo, w("drift.yml"), "workflow_dispatch", feature),
        "the promote workflow dispatched from a branch": Job(repo, w("promote.yml"), "workflow_dispatch", feature),
        "another repository's deploy workflow": Job(
            "evil-org/mlplatform",
            w("deploy.yml"),
            "push",
            main,
            env,
            f"evil-org/mlplatform/{WORKFLOWS}/deploy-stack.yml@{main}",
        ),
    }
    return intended, attacks


@pytest.mark.parametrize("stack", STACKS)
def test_only_the_intended_workflow_jobs_assume_the_ci_roles(stack):
    plan = stack_plan(stack)
    intended, attacks = scenarios(stack)
    for what, (role, job) in intended.items():
        assert assumes(plan, role, job), f"{what}: cannot assume {role}"
        other = "ci-preview" if role == "ci-deploy" else "ci-deploy"
        assert not assumes(plan, other, job), f"{what}: can also assume {other}"
    for what, job in attacks.items():
        for role in ("ci-deploy", "ci-preview"):
            assert not assumes(plan, role, job), f"{what}: assumes {role}"


@pytest.mark.parametrize("stack", STACKS)
def test_without_the_subject_template_nothing_assumes(stack):
    """The roles trust the customized subject only: a repository that skipped the setup step gets a
    clear AccessDenied, never a looser match."""
    plan = stack_plan(stack)
    intended, _ = scenarios(stack)
    for what, (role, job) in intended.items():
        assert not assumes(plan, role, job, template=None), what


def test_immutable_subjects_are_trusted_when_the_stack_names_the_ids():
    from pipelines.offline import plan_stack, read_stack_config

    ci = json.loads(read_stack_config("dev").values["mlplatform:ci"]) | {
        "githubOwnerId": "123",
        "githubRepositoryId": "456",
    }
    plan = plan_stack("dev", overrides={"mlplatform:ci": ci})
    repo, main = ci["githubRepository"], "refs/heads/main"
    job = Job(repo, f"{WORKFLOWS}/drift.yml", "schedule", main, owner_id="123", repository_id="456")
    token = claims(job, SUBJECT_CLAIMS, immutable=True)
    assert token["sub"].startswith(f"repo:{repo.split('/')[0]}@123/{repo.split('/')[1]}@456:ref:")
    provider = f"arn:aws:iam::{plan.outputs['accountId']}:oidc-provider/{GITHUB_OIDC_HOST}"
    context = {f"{GITHUB_OIDC_HOST}:{k}": v for k, v in token.items()}
    request = Request(
        Principal(provider), "sts:AssumeRoleWithWebIdentity", plan.outputs["roleArns"]["ci-preview"], context
    )
    assert evaluate(request, resource_policy=_trusts(plan)["ci-preview"])
