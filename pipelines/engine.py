"""The real engine, through Pulumi's Automation API: previews whose steps feed pipelines.guard.

Needs the Pulumi CLI and credentials; without the CLI every call raises EngineUnavailableError with
what to do instead, so offline machines get a clear message rather than a stack trace.
"""

from __future__ import annotations

import shutil
from typing import Any

from pipelines.offline import REPO_ROOT


class EngineUnavailableError(Exception):
    pass


PROJECTS = {"platform": REPO_ROOT, "in-cluster": REPO_ROOT / "cluster"}


def _require_cli(what: str) -> None:
    if shutil.which("pulumi") is None:
        raise EngineUnavailableError(f"the Pulumi CLI is not installed here, so {what}")


def deployed_outputs(stack: str) -> dict[str, Any]:
    """The platform stack's outputs, as deployed (needs the CLI, the backend and credentials)."""
    _require_cli(f"the outputs of {stack} could not be read")
    from pulumi import automation as auto

    try:
        outputs = auto.select_stack(stack_name=stack, work_dir=str(REPO_ROOT)).outputs()
    except auto.errors.CommandError as err:
        raise EngineUnavailableError(f"the outputs of {stack} could not be read: {str(err).strip()[-500:]}") from None
    return {name: out.value for name, out in outputs.items()}


def preview(stack: str, *, refresh: bool = False, projects: tuple[str, ...] = tuple(PROJECTS)) -> dict[str, Any]:
    """Preview a stack (both its projects) and return its steps in the PreviewDigest shape (op, urn,
    states, reasons)."""
    if shutil.which("pulumi") is None:
        raise EngineUnavailableError(
            "the Pulumi CLI is not installed here, so no preview could be run; "
            f"run `pulumi preview --stack {stack}{' --refresh' if refresh else ''}` where it is"
        )
    from pulumi import automation as auto

    steps: list[dict[str, Any]] = []
    summary: dict[str, int] = {}
    # The stack's projects: the platform, then what runs in its cluster (cluster/Pulumi.yaml, which only
    # a place that reaches the cluster API can preview).
    for work_dir in (PROJECTS[p] for p in projects):
        events: list[Any] = []
        workspace = auto.select_stack(stack_name=stack, work_dir=str(work_dir))
        result = workspace.preview(refresh=refresh, on_event=events.append, diff=True)
        steps += steps_from_events(events)
        for op, count in (result.change_summary or {}).items():
            summary[str(op)] = summary.get(str(op), 0) + count
    return {"steps": steps, "changeSummary": summary}


def steps_from_events(events: list[Any]) -> list[dict[str, Any]]:
    """The Automation API's resource pre-events as PreviewDigest steps (what pipelines.guard reads)."""
    steps = []
    for event in events:
        pre = getattr(event, "resource_pre_event", None)
        if pre is None:
            continue
        m = pre.metadata
        op = getattr(m.op, "value", str(m.op))
        steps.append(
            {
                "op": op,
                "urn": m.urn,
                "oldState": {"type": m.type} if m.old else None,
                "newState": {"type": m.type} if m.new else None,
                "diffReasons": list(m.diffs or []),
                "replaceReasons": list(m.keys or []) if "replace" in op else [],
            }
        )
    return steps
