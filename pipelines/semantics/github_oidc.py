"""The OIDC token GitHub Actions gives a job, as GitHub documents it: the claims, and the subject
under the default format or a repository's customization template.

Sources (github/docs, content/actions/reference/security/oidc.md and concepts/security/openid-connect.md):
- default subjects: ``repo:ORG/REPO:environment:NAME`` "when the job references an environment";
  ``repo:ORG/REPO:pull_request`` for a pull_request event "only if the job doesn't reference an
  environment"; ``repo:ORG/REPO:ref:refs/heads/BRANCH`` (or ``refs/tags/TAG``) otherwise;
- customization (``include_claim_keys``): "a new format for the entire sub claim": each key's
  ``name:value`` joined with ``:``, except ``context``, "the part that follows the repository in the
  default sub format", and ``repo``, the short form; the documented example with
  ``["repo", "context", "job_workflow_ref"]``;
- immutable subjects (repositories created, renamed or transferred after 2026-07-15, or opted in):
  ``repo:OWNER@OWNER-ID/REPO@REPO-ID``, ids "always included in the repo segment";
- ``job_workflow_ref``: the reusable workflow a job runs; for a job of the run's own workflow, the
  workflow itself (``workflow_ref``) — GitHub's docs name it only for reusable workflows; PyPI's
  trusted publishing and sigstore's fulcio read it from every job (pypi/warehouse#10753,
  sigstore/fulcio issuer_test.go), the evidence we rely on;
- "Any ``:`` within the metadata values will be replaced with ``%3A``";
- fork pull requests: "you can't grant write access" to a forked repository's workflow, and
  ``id-token: write`` is a write permission: no token (an inference; GitHub states it for secrets).
"""

from __future__ import annotations

from dataclasses import dataclass

AUDIENCE = "sts.amazonaws.com"  # aws-actions/configure-aws-credentials' default audience


@dataclass(frozen=True)
class Job:
    repository: str  # owner/name
    workflow: str  # the run's workflow file, e.g. ".github/workflows/deploy.yml"
    event: str  # push, pull_request, workflow_dispatch, schedule
    ref: str  # the run's ref: refs/heads/main, refs/pull/7/merge, refs/tags/v1
    environment: str | None = None
    # The workflow the job runs when it is a reusable one: "owner/repo/.github/workflows/x.yml@ref".
    reusable: str | None = None
    from_fork: bool = False
    owner_id: str | None = None
    repository_id: str | None = None


def claims(job: Job, template: tuple[str, ...] | None = None, immutable: bool = False) -> dict[str, str] | None:
    """The token's claims (``sub`` under the template, or the default), or None when the job gets no token."""
    if job.from_fork and job.event == "pull_request":
        return None
    workflow_ref = f"{job.repository}/{job.workflow}@{job.ref}"
    values = {
        "aud": AUDIENCE,
        "repository": job.repository,
        "ref": job.ref,
        "event_name": job.event,
        "workflow_ref": workflow_ref,
        "job_workflow_ref": job.reusable or workflow_ref,
        **({"environment": job.environment} if job.environment else {}),
    }
    if job.environment:
        context = f"environment:{job.environment}"
    elif job.event == "pull_request":
        context = "pull_request"
    else:
        context = f"ref:{job.ref}"
    owner, name = job.repository.split("/")
    repo = f"{owner}@{job.owner_id}/{name}@{job.repository_id}" if immutable else job.repository
    if template is None:
        values["sub"] = f"repo:{repo}:{context}"
        return values
    parts = []
    for key in template:
        if key == "repo":
            parts.append(f"repo:{repo}")
        elif key == "context":
            parts.append(context)
        else:
            parts.append(f"{key}:{values[key].replace(':', '%3A')}")
    values["sub"] = ":".join(parts)
    return values
