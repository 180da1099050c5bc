"""`mlplatform preflight`: can this account run this stack? Read-only checks of what no offline plan
can know, before the first `pulumi up` (docs/deploying.md).

Each check reads the account through the calls of ``foundation/upstream/account_reads.CALLS`` (and
no other: ``Account.call`` refuses a call or a request member that is not declared there) and
reports ok, warn or fail per subject, with what to do. A read the caller may not make is a warning
("could not check"), never a pass. Missing or expired credentials, and credentials of another account
than the stack's, stop everything (``PreflightError``, exit 2).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

from pipelines.preflight.account import STATUSES, Account, Context, Finding, PreflightError, ReadError
from pipelines.preflight.capacity import check_compute, check_endpoints, pools
from pipelines.preflight.checks import (
    check_account,
    check_alerts,
    check_caller,
    check_ci,
    check_eks,
    check_state,
    node_image_parameters,
)

__all__ = [
    "Account",
    "Context",
    "Finding",
    "PreflightError",
    "ReadError",
    "backend",
    "check_account",
    "check_alerts",
    "check_caller",
    "check_ci",
    "check_compute",
    "check_eks",
    "check_endpoints",
    "check_state",
    "exit_status",
    "node_image_parameters",
    "policy",
    "pools",
    "render",
    "run",
    "services_used",
]


# --- running and reporting ---------------------------------------------------------------------------


def run(ctx: Context, account: Account, progress: Callable[[str], None] = lambda _: None) -> list[Finding]:
    """Every check, in the order the first run meets them."""
    from foundation.upstream.eks import EKS_ADDONS

    steps = [
        ("credentials", lambda: check_caller(ctx, account)),
        ("the bootstrap's outputs", lambda: (check_state(ctx, account), check_ci(ctx, account))),
        ("the region's services", lambda: check_account(ctx, account, services_used(ctx.settings))),
        ("instance offerings and vCPU quotas", lambda: check_compute(ctx, account)),
        ("EKS versions, add-ons and node image", lambda: check_eks(ctx, account, EKS_ADDONS)),
        ("SageMaker endpoint quotas", lambda: check_endpoints(ctx, account)),
        ("alerts and budget", lambda: check_alerts(ctx, account)),
    ]
    for title, step in steps:
        progress(f"{ctx.stack}: {title}")
        step()
    progress("")
    return ctx.findings


def policy(ctx: Context) -> dict:
    """The IAM policy that allows exactly preflight's reads of the stack (the ci-deploy role has it)."""
    from foundation.iam.ci import preflight_statements
    from foundation.iam.scope import Scope

    s = ctx.settings
    return {
        "Version": "2012-10-17",
        "Statement": [x.render() for x in preflight_statements(Scope(s.environment, s.account_id, s.region))],
    }


def services_used(settings) -> tuple[str, ...]:
    """The services of the stack whose regional availability Systems Manager lists."""
    used = ["eks", "sagemaker", "kms", "s3", "cloudtrail", "ecr", "glue", "events", "scheduler", "lambda", "sns", "sqs"]
    if settings.ci.runner == "codebuild":
        used.append("codebuild")
    if settings.monitoring.slack_channels:
        used.append("chatbot")
    return tuple(used)


def exit_status(findings: list[Finding]) -> int:
    return 1 if any(f.status == "fail" for f in findings) else 0


def summary(findings: list[Finding]) -> str:
    counts = {s: sum(f.status == s for f in findings) for s in STATUSES}
    warnings = f"{counts['warn']} warning{'s' if counts['warn'] != 1 else ''}"
    return f"{counts['fail']} failed, {warnings}, {counts['ok']} ok"


def render(fmt: str, results: dict[str, list[Finding]]) -> str:
    if fmt == "json":
        return (
            json.dumps(
                {s: {"summary": summary(f), "findings": [asdict(x) for x in f]} for s, f in results.items()}, indent=2
            )
            + "\n"
        )
    lines: list[str] = []
    for stack, findings in results.items():
        if fmt == "markdown":
            lines += [
                f"### Preflight of {stack}: {summary(findings)}",
                "",
                "| | check | subject | found | to do |",
                "|---|---|---|---|---|",
            ]
            mark = {"ok": "✅", "warn": "⚠️", "fail": "❌"}
            lines += [
                f"| {mark[f.status]} | {f.check} | `{f.subject}` | {_cell(f.detail)} | {_cell(f.fix)} |"
                for f in findings
            ]
            lines.append("")
        else:
            lines.append(f"Preflight of {stack}: {summary(findings)}")
            for f in findings:
                lines.append(f"  {f.status.upper():4}  {f.check}: {f.subject}: {f.detail}")
                if f.fix:
                    lines.append(f"        to do: {f.fix}")
    return "\n".join(lines) + "\n"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


# --- where the backend URL comes from --------------------------------------------------------------


def backend(given: str | None, environ: dict[str, str], home: Path, project: dict) -> tuple[str | None, str]:
    """(URL, where it came from), in the order the Pulumi CLI picks it (pulumi/pulumi v3.259.0, not
    re-read at the pinned version: pkg/workspace/creds.go GetCurrentCloudURLWithSource): --backend-url,
    then PULUMI_BACKEND_URL, then Pulumi.yaml's backend.url, then what `pulumi login` stored (``current``
    in credentials.json under PULUMI_CREDENTIALS_PATH, else PULUMI_HOME, else ``~/.pulumi``;
    sdk/go/common/workspace/creds.go). An encrypted credentials file is not read: no URL then."""
    if given:
        return given, "--backend-url"
    if environ.get("PULUMI_BACKEND_URL"):
        return environ["PULUMI_BACKEND_URL"], "PULUMI_BACKEND_URL"
    url = (project.get("backend") or {}).get("url") if isinstance(project.get("backend"), dict) else None
    if url:
        return url, "Pulumi.yaml backend.url"
    folder = environ.get("PULUMI_CREDENTIALS_PATH") or environ.get("PULUMI_HOME") or str(home / ".pulumi")
    stored = Path(folder) / "credentials.json"
    try:
        current = json.loads(stored.read_text()).get("current")
    except (OSError, ValueError, AttributeError):
        return None, ""
    return (current, f"`pulumi login` ({stored})") if isinstance(current, str) and current else (None, "")
