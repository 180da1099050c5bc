"""GitHub Actions' OIDC trust: the subjects GitHub issues to a workflow job, and trust statements that
name one repository's workflow files, refs and environments (docs/ci.md)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi

from foundation.iam.documents import Statement, document

GITHUB_OIDC_HOST = "token.actions.githubusercontent.com"
# The workflow files the CI roles trust (.github/workflows/): the deploy job is the reusable
# deploy-stack.yml that deploy.yml calls.
CI_WORKFLOWS = {
    "deploy": "deploy-stack.yml",
    "preview": "pull-request.yml",
    "drift": "drift.yml",
    "promote": "promote.yml",
}
# Role sessions as long as the longest run each role does (a first deploy of a stack takes 25-40
# minutes, an update with endpoint replacements longer); configure-aws-credentials asks for this.
DEPLOY_SESSION_SECONDS = 3 * 3600
PREVIEW_SESSION_SECONDS = 3600

# The repository's OIDC subject template (GitHub REST API PUT /repos/{owner}/{repo}/actions/oidc/
# customization/sub, include_claim_keys; docs/ci.md sets it): the subject then names the job's
# environment or trigger ("context"), the ref the run is for, and the workflow file the job runs, so a
# role can trust one workflow file on one branch, not any job that names an environment.
SUBJECT_CLAIMS = ("repo", "context", "ref", "job_workflow_ref")


@dataclass(frozen=True)
class GitHubRepository:
    """owner/name, and its owner and repository ids when GitHub issues immutable subjects (repositories
    created, renamed or transferred after 2026-07-15, or opted in: ``repo:OWNER@ID/REPO@ID``)."""

    name: str
    owner_id: str | None = None
    repository_id: str | None = None

    @property
    def subject_repo(self) -> str:
        if self.owner_id and self.repository_id:
            owner, repo = self.name.split("/")
            return f"{owner}@{self.owner_id}/{repo}@{self.repository_id}"
        return self.name

    def subject(self, *, context: str, ref: str, workflow: str, workflow_ref: str | None = None) -> str:
        """The OIDC subject GitHub issues, under SUBJECT_CLAIMS, to a job of ``workflow`` (a file of
        .github/workflows) running for ``ref``: context is ``environment:<name>``, ``pull_request`` or
        ``ref:<ref>``; the workflow's own ref is the run's unless it is a reusable one called elsewhere."""
        job_workflow_ref = f"{self.name}/.github/workflows/{workflow}@{workflow_ref or ref}"
        return f"repo:{self.subject_repo}:{context}:ref:{ref}:job_workflow_ref:{job_workflow_ref}"


def github_trust(
    provider_arn: pulumi.Input[str], subjects: Sequence[str], patterns: Sequence[str] = ()
) -> pulumi.Output[str]:
    """GitHub Actions of one repository: exact OIDC subjects, and ``patterns`` (StringLike) where a
    part is the run's own (a pull request's number)."""
    aud = {f"{GITHUB_OIDC_HOST}:aud": "sts.amazonaws.com"}
    sub = f"{GITHUB_OIDC_HOST}:sub"
    blocks = [
        ("GitHubActions", subjects, {"StringEquals": {**aud, sub: list(subjects)}}),
        ("GitHubPullRequests", patterns, {"StringEquals": aud, "StringLike": {sub: list(patterns)}}),
    ]
    statements = [
        Statement(
            sid=sid,
            principals={"Federated": provider_arn},
            actions=["sts:AssumeRoleWithWebIdentity"],
            conditions=conditions,
        )
        for sid, listed, conditions in blocks
        if listed
    ]
    return document(statements)
