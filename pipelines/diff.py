"""`mlplatform diff <stack> --base <ref>`: the offline plan of a pull request against its base.

The base is planned from a git worktree of the base ref with that ref's own code (in a subprocess,
so its modules do not mix with the working tree's); the head is the working tree. Resources are
matched by URN: added, removed, and changed with the inputs that changed. Each added or changed
resource of a type in ``SUMMARIES`` also gets one line of the inputs a reviewer decides on (a node
pool's limits and capacity types, a quota, an endpoint's instances, a retention), before -> after
where they changed. The Markdown form is for a pull-request comment and is cut, with a note, to stay
under GitHub's 65,536 characters.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipelines.offline import REPO_ROOT
from pipelines.plan import Plan

COMMENT_LIMIT = 65_536
MARKER = "<!-- mlplatform-offline-diff -->"


class BaseRefError(Exception):
    pass


@dataclass
class Change:
    urn: str
    type: str
    name: str
    fields: dict[str, tuple[Any, Any]] = field(default_factory=dict)  # input -> (before, after)
    options: dict[str, tuple[Any, Any]] = field(default_factory=dict)
    # The decided inputs (``summarize``), each (before, after), changed or not; empty for other types.
    summary: dict[str, tuple[Any, Any]] = field(default_factory=dict)


@dataclass
class PlanDiff:
    stack: str
    added: list[tuple[str, str]]  # (type, name)
    removed: list[tuple[str, str, bool]]  # (type, name, protected)
    changed: list[Change]
    # Monthly USD (idle, ceiling on-demand, ceiling spot) before and after, when priced (infra/cost.py).
    cost: tuple[tuple[float, float, float], tuple[float, float, float]] | None = None
    # The decided inputs (``summarize``) of each added resource with any, by (type, name).
    summaries: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    # What the change adds that has no price ("Kind::name: why"): not in the cost figures, said beside them.
    unpriced: list[str] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.added or self.removed or self.changed)


def compare(base: Plan, head: Plan) -> PlanDiff:
    before = {r.urn: r for r in base if r.custom}
    after = {r.urn: r for r in head if r.custom}
    changed = []
    for urn in sorted(before.keys() & after.keys()):
        b, a = before[urn], after[urn]
        fields = {
            k: (b.inputs.get(k), a.inputs.get(k))
            for k in sorted(b.inputs.keys() | a.inputs.keys())
            if b.inputs.get(k) != a.inputs.get(k)
        }
        options = {
            k: (b.options.get(k), a.options.get(k))
            for k in sorted(b.options.keys() | a.options.keys())
            if b.options.get(k) != a.options.get(k)
        }
        if fields or options:
            was, now = summarize(b.type, b.inputs), summarize(a.type, a.inputs)
            summary = {k: (was.get(k), now.get(k)) for k in [*now, *(k for k in was if k not in now)]}
            changed.append(Change(urn, a.type, a.name, fields, options, summary))
    new = [after[u] for u in after.keys() - before.keys()]
    return PlanDiff(
        stack=head.stack,
        added=sorted((r.type, r.name) for r in new),
        removed=sorted((before[u].type, before[u].name, before[u].protected) for u in before.keys() - after.keys()),
        changed=changed,
        summaries={(r.type, r.name): s for r in new if (s := summarize(r.type, r.inputs))},
    )


# What a reviewer decides on, per resource type: a function of the resource's inputs giving the few
# that matter (limits, capacity, instances, retention, exposure), in the order they are shown. A type
# not here shows nothing extra. Values are JSON: text, numbers, booleans, lists, flat dicts; None is
# an input left unset (its provider's default), shown as "unset".


def _at(value: Any, *path: str) -> Any:
    """``value[path[0]][path[1]]...``, or None where a step is missing or not an object."""
    for key in path:
        value = value.get(key) if isinstance(value, dict) else None
    return value


def _items(value: Any) -> list[dict]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def _requirement(requirements: Any, key: str) -> list[str] | None:
    """What a Karpenter requirement on ``key`` allows: the values of In, ``not x`` for NotIn,
    ``any`` for Exists, else the operator and values; None when nothing constrains the key."""
    allowed: list[str] = []
    for req in _items(requirements):
        if req.get("key") != key:
            continue
        values = [str(v) for v in req.get("values") or []]
        op = req.get("operator")
        if op == "In":
            allowed += values
        elif op == "NotIn":
            allowed += [f"not {v}" for v in values]
        elif op == "Exists":
            allowed.append("any")
        else:
            allowed.append(" ".join([str(op), *values]))
    return allowed or None


def _node_pool(inputs: dict) -> dict[str, Any]:
    requirements = _at(inputs, "spec", "template", "spec", "requirements")
    out = {
        "limits": _at(inputs, "spec", "limits"),  # unset: the pool may grow without a ceiling
        "capacityTypes": _requirement(requirements, "karpenter.sh/capacity-type"),
        "instanceFamilies": _requirement(requirements, "karpenter.k8s.aws/instance-family"),
        "instanceTypes": _requirement(requirements, "node.kubernetes.io/instance-type"),
    }
    return {k: v for k, v in out.items() if v is not None or k in ("limits", "capacityTypes")}


def _resource_quota(inputs: dict) -> dict[str, Any]:
    return {"hard": _at(inputs, "spec", "hard")}


def _endpoint_configuration(inputs: dict) -> dict[str, Any]:
    variants = _items(inputs.get("productionVariants"))
    names = [str(v.get("variantName") or i) for i, v in enumerate(variants)]
    out = {
        "instanceType": {n: v.get("instanceType") for n, v in zip(names, variants, strict=True)},
        "initialInstanceCount": {n: v.get("initialInstanceCount") for n, v in zip(names, variants, strict=True)},
    }
    for key in ("maxConcurrency", "memorySizeInMb"):  # serverless variants have no instances
        sizes = {n: _at(v, "serverlessConfig", key) for n, v in zip(names, variants, strict=True)}
        if any(size is not None for size in sizes.values()):
            out[f"serverless.{key}"] = sizes
    return out


def _scaling_target(inputs: dict) -> dict[str, Any]:
    return {"minCapacity": inputs.get("minCapacity"), "maxCapacity": inputs.get("maxCapacity")}


def _node_group(inputs: dict) -> dict[str, Any]:
    return {
        "instanceTypes": inputs.get("instanceTypes"),
        "capacityType": inputs.get("capacityType"),
        "minSize": _at(inputs, "scalingConfig", "minSize"),
        "maxSize": _at(inputs, "scalingConfig", "maxSize"),
    }


def _bucket(inputs: dict) -> dict[str, Any]:
    return {"forceDestroy": inputs.get("forceDestroy"), "objectLockEnabled": inputs.get("objectLockEnabled")}


def _bucket_lifecycle(inputs: dict) -> dict[str, Any]:
    """Days to the expiry of current and of noncurrent versions (unset: kept), of the one enabled rule,
    or per enabled rule (by id) when there are several."""
    rules = [r for r in _items(inputs.get("rules")) if r.get("status") == "Enabled"]
    days = {
        str(r.get("id") or i): (_at(r, "expiration", "days"), _at(r, "noncurrentVersionExpiration", "noncurrentDays"))
        for i, r in enumerate(rules)
    }
    if len(days) == 1:
        ((current, noncurrent),) = days.values()
        return {"expirationDays": current, "noncurrentDays": noncurrent}
    return {
        "expirationDays": {rule: current for rule, (current, _) in days.items()},
        "noncurrentDays": {rule: noncurrent for rule, (_, noncurrent) in days.items()},
    }


def _object_lock(inputs: dict) -> dict[str, Any]:
    retention = _at(inputs, "rule", "defaultRetention")
    out = {k: _at(retention, k) for k in ("mode", "days", "years")}
    return {k: v for k, v in out.items() if v is not None or k != "years"}


def _log_group(inputs: dict) -> dict[str, Any]:
    return {"retentionInDays": inputs.get("retentionInDays")}  # unset: kept forever


def _cluster(inputs: dict) -> dict[str, Any]:
    vpc = inputs.get("vpcConfig") or {}
    out = {"version": inputs.get("version"), "endpointPublicAccess": _at(vpc, "endpointPublicAccess")}
    if out["endpointPublicAccess"] is not False or _at(vpc, "publicAccessCidrs") is not None:
        out["publicAccessCidrs"] = _at(vpc, "publicAccessCidrs")  # unset and public: 0.0.0.0/0
    return out


SUMMARIES: dict[str, Callable[[dict], dict[str, Any]]] = {
    "kubernetes:karpenter.sh/v1:NodePool": _node_pool,
    "kubernetes:core/v1:ResourceQuota": _resource_quota,
    "aws:sagemaker/endpointConfiguration:EndpointConfiguration": _endpoint_configuration,
    "aws:appautoscaling/target:Target": _scaling_target,
    "aws:eks/nodeGroup:NodeGroup": _node_group,
    "aws:eks/cluster:Cluster": _cluster,
    "aws:s3/bucket:Bucket": _bucket,
    "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration": _bucket_lifecycle,
    "aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration": _object_lock,
    "aws:cloudwatch/logGroup:LogGroup": _log_group,
}


def summarize(type_: str, inputs: dict) -> dict[str, Any]:
    """The inputs a reviewer decides on for a resource of ``type_``; {} for a type not in SUMMARIES."""
    summary = SUMMARIES.get(type_)
    return summary(inputs) if summary is not None else {}


SUMMARY_LIMIT = 200  # one line, long enough for a pool's or a quota's every figure
SUMMARY_MARK = "» "


def _value(value: Any) -> str:
    if value is None:
        return "unset"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ", ".join(_value(v) for v in value) if value else "none"
    if isinstance(value, dict):
        return ", ".join(f"{k}={_value(value[k])}" for k in sorted(value)) if value else "none"
    return str(value)


def _summary_field(before: Any, after: Any) -> str:
    if before == after:
        return _value(after)
    if isinstance(before, dict) and isinstance(after, dict):  # a quota's or a pool's limits: per key
        keys = sorted(before.keys() | after.keys())
        return ", ".join(
            f"{k}={_value(after.get(k))}"
            if before.get(k) == after.get(k)
            else f"{k}={_value(before.get(k))} -> {_value(after.get(k))}"
            for k in keys
        )
    return f"{_value(before)} -> {_value(after)}"


def summary_line(summary: dict[str, tuple[Any, Any]]) -> str:
    """One line: ``field: value`` joined by ``; ``, ``before -> after`` where a field changed; "" when
    there is nothing to show."""
    if not summary:
        return ""
    text = "; ".join(f"{k}: {_summary_field(b, a)}" for k, (b, a) in summary.items())
    return SUMMARY_MARK + _short(text, SUMMARY_LIMIT)


def _added_line(diff: PlanDiff, type_: str, name: str) -> str:
    return summary_line({k: (v, v) for k, v in diff.summaries.get((type_, name), {}).items()})


def _changed_line(change: Change) -> str:
    """A changed resource's summary, only when a decided input is among the changes (a change of tags
    alone adds no line)."""
    return summary_line(change.summary) if any(b != a for b, a in change.summary.values()) else ""


CACHE_DIR_ENV = "MLPLATFORM_CACHE_DIR"


def _cached_plan_path(stack: str, ref: str, repo: Path) -> Path | None:
    """Where the plan of ``stack`` at ``ref`` is kept: keyed by the ref's tree (its code and stack
    files), the stack, the Plan schema and the installed Pulumi packages, which are all a plan depends
    on. None when git cannot name the tree (the worktree then reports the error)."""
    import hashlib
    from importlib.metadata import PackageNotFoundError, version

    from pipelines.plan import SCHEMA_VERSION

    tree = subprocess.run(
        ["git", "-C", str(repo), "rev-parse", "--verify", "--quiet", f"{ref}^{{tree}}"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if tree.returncode != 0:
        return None
    versions = []
    for package in ("pulumi", "pulumi-aws", "pulumi-kubernetes", "pulumi-policy"):
        try:
            versions.append(f"{package}=={version(package)}")
        except PackageNotFoundError:
            versions.append(f"{package}==?")
    key = hashlib.sha256("|".join([tree.stdout.strip(), stack, str(SCHEMA_VERSION), *versions]).encode()).hexdigest()
    folder = Path(os.environ.get(CACHE_DIR_ENV) or repo / ".mlplatform-cache") / "plans"
    return folder / f"{stack}-{key[:24]}.json"


def plan_at_ref(stack: str, ref: str, repo: Path = REPO_ROOT) -> Plan:  # pragma: no mutate block
    """Plan ``stack`` with the code and stack files of a git ref, in a throwaway worktree, once per
    tree: the plan is kept (``.mlplatform-cache/``, or $MLPLATFORM_CACHE_DIR) and reused while the ref's
    tree and the installed packages are the same, so each new push of a pull request plans only its head."""
    cached = _cached_plan_path(stack, ref, repo)
    if cached is not None and cached.is_file():
        try:
            return Plan.from_dict(json.loads(cached.read_text()))
        except (ValueError, KeyError, TypeError):
            cached.unlink(missing_ok=True)  # unreadable or from another schema: plan again
    with tempfile.TemporaryDirectory(prefix="mlplatform-base-") as tmp:
        tree = Path(tmp) / "tree"
        added = subprocess.run(
            ["git", "-C", str(repo), "worktree", "add", "--detach", str(tree), ref],
            capture_output=True,
            text=True,
            check=False,
        )
        if added.returncode != 0:
            raise BaseRefError(
                f"cannot check out {ref!r}: {added.stderr.strip().splitlines()[-1] if added.stderr else 'git failed'}"
            )
        try:
            out = Path(tmp) / "base.json"
            env = {**os.environ, "PYTHONPATH": str(tree)}
            done = subprocess.run(
                [sys.executable, "-m", "pipelines.cli", "plan", stack, "--json", str(out), "--quiet"],
                cwd=tree, env=env, capture_output=True, text=True, check=False,
            )  # fmt: skip
            if done.returncode != 0 or not out.exists():
                raise BaseRefError(f"the plan of {stack} at {ref} failed:\n{done.stderr.strip()[-2000:]}")
            plan = Plan.from_dict(json.loads(out.read_text()))
            if cached is not None:
                cached.parent.mkdir(parents=True, exist_ok=True)
                cached.write_text(out.read_text())
            return plan
        finally:
            subprocess.run(
                ["git", "-C", str(repo), "worktree", "remove", "--force", str(tree)], capture_output=True, check=False
            )


def _describe(before: Any, after: Any, limit: int) -> str:
    """A changed input, readable: policy documents by statement id, anything else by value."""
    docs = [_policy(v) for v in (before, after)]
    if all(d is not None for d in docs):
        b, a = ({st.get("Sid", str(i)): st for i, st in enumerate(d)} for d in docs)
        parts = [f"+{k}" for k in a.keys() - b.keys()] + [f"-{k}" for k in b.keys() - a.keys()]
        parts += [f"~{k}" for k in a.keys() & b.keys() if a[k] != b[k]]
        return "statements " + ", ".join(sorted(parts, key=lambda p: p[1:]))
    parsed = [_json_document(v) for v in (before, after)]
    if all(p is not None for p in parsed):
        # event patterns, dashboard bodies, Helm values: the paths that changed, not two cut-off blobs
        changes = _changed_paths(parsed[0], parsed[1])
        return _short("changed " + ", ".join(changes), limit) if changes else "reformatted (same document)"
    return f"{_short(before, limit)} -> {_short(after, limit)}"


def _json_document(value: Any) -> Any:
    """A JSON object or array given as text (as the provider takes them), parsed; None otherwise."""
    if isinstance(value, str) and value.lstrip()[:1] in ("{", "["):
        try:
            return json.loads(value)
        except ValueError:
            return None
    return value if isinstance(value, dict | list) else None


def _changed_paths(before: Any, after: Any, at: str = "") -> list[str]:
    """Leaf paths that differ: ``+path`` added, ``-path`` removed, ``path`` changed (a.b[2].c)."""
    if isinstance(before, dict) and isinstance(after, dict):
        out = []
        for key in sorted(before.keys() | after.keys()):  # JSON keys are strings
            path = f"{at}.{key}" if at else str(key)
            if key not in before:
                out.append(f"+{path}")
            elif key not in after:
                out.append(f"-{path}")
            else:
                out += _changed_paths(before[key], after[key], path)
        return out
    if isinstance(before, list) and isinstance(after, list) and len(before) == len(after):
        return [p for i in range(len(before)) for p in _changed_paths(before[i], after[i], f"{at}[{i}]")]
    return [] if before == after else [at or "(whole document)"]


def _policy(value: Any) -> list | None:
    if isinstance(value, str) and value.startswith("{") and '"Statement"' in value:
        try:
            statements = json.loads(value)["Statement"]
        except (ValueError, KeyError):
            return None
        return statements if isinstance(statements, list) else [statements]
    return None


def _short(value: Any, limit: int = 120) -> str:
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def cost_change(base: Plan, head: Plan) -> tuple[tuple[float, float, float], tuple[float, float, float]]:
    """Monthly USD at idle and at the ceilings, before and after (unpriced items count in neither)."""
    return priced_change(base, head)[0]


def priced_change(
    base: Plan, head: Plan
) -> tuple[tuple[tuple[float, float, float], tuple[float, float, float]], list[str]]:
    """The cost figures before and after, and what the head adds without a price (``Kind::name: why``):
    a change that adds an unpriced endpoint or pool must not read as free."""
    from infra.cost import from_plan

    before, after = from_plan(base), from_plan(head)
    known = {(u.resource, u.why) for u in before.unpriced}
    added = [f"{u.resource}: {u.why}" for u in after.unpriced if (u.resource, u.why) not in known]
    figures = ((before.idle, before.ceiling_on_demand, before.ceiling_spot),
               (after.idle, after.ceiling_on_demand, after.ceiling_spot))  # fmt: skip
    return figures, added


def _money(before: float, after: float) -> str:
    delta = after - before
    return f"{before:,.2f} → {after:,.2f} ({'+' if delta >= 0 else '-'}{abs(delta):,.2f})"


def cost_lines(diff: PlanDiff) -> list[str]:
    if diff.cost is None:
        return []
    (bi, bo, bs), (ai, ao, as_) = diff.cost
    lines = [f"  cost (USD a month): idle {_money(bi, ai)}; ceiling on-demand {_money(bo, ao)}; spot {_money(bs, as_)}"]
    lines += [f"  not priced, not in the figures: {u}" for u in diff.unpriced]
    return lines


def to_json(diff: PlanDiff, verdicts: str = "") -> dict[str, Any]:
    """One stack's diff for machines: what is added (with its decided inputs, ``summary``), removed (and
    whether it was protected), changed (each input and option, and each decided input, before and
    after), the cost before and after, and the policy verdict."""
    out: dict[str, Any] = {
        "stack": diff.stack,
        "added": [{"type": t, "name": n, "summary": diff.summaries.get((t, n), {})} for t, n in diff.added],
        "removed": [{"type": t, "name": n, "protected": p} for t, n, p in diff.removed],
        "changed": [
            {
                "type": c.type,
                "name": c.name,
                "inputs": {k: {"before": b, "after": a} for k, (b, a) in c.fields.items()},
                "options": {k: {"before": b, "after": a} for k, (b, a) in c.options.items()},
                "summary": {k: {"before": b, "after": a} for k, (b, a) in c.summary.items()},
            }
            for c in diff.changed
        ],
        "policy": verdicts.splitlines()[0] if verdicts else None,
    }
    if diff.cost is not None:
        names = ("idle", "ceiling_on_demand", "ceiling_spot")
        out["cost"] = {
            "before": dict(zip(names, diff.cost[0], strict=True)),
            "after": dict(zip(names, diff.cost[1], strict=True)),
            "unpriced_added": list(diff.unpriced),
        }
    return out


def render_text(diff: PlanDiff, verdicts: str = "") -> str:
    lines = [
        f"Stack {diff.stack}: +{len(diff.added)} added, -{len(diff.removed)} removed, ~{len(diff.changed)} changed"
    ]
    lines += cost_lines(diff)
    for t, n in diff.added:
        lines.append(f"  + {t}  {n}")
        lines += [f"      {s}" for s in [_added_line(diff, t, n)] if s]
    lines += [f"  - {t}  {n}{'  [PROTECTED]' if p else ''}" for t, n, p in diff.removed]
    for c in diff.changed:
        lines.append(f"  ~ {c.type}  {c.name}")
        lines += [f"      {s}" for s in [_changed_line(c)] if s]
        lines += [f"      {k}: {_describe(b, a, 120)}" for k, (b, a) in {**c.fields, **c.options}.items()]
    if verdicts:
        lines += ["", verdicts]
    return "\n".join(lines)


def render_markdown(diffs: list[PlanDiff], verdicts: dict[str, str], limit: int = COMMENT_LIMIT) -> str:
    """A compact PR comment: a summary table, then details per stack, cut to fit ``limit``."""
    head = [
        MARKER,
        "### Offline plan of this pull request",
        "",
        "| stack | added | removed | changed | policy |",
        "|---|---|---|---|---|",
    ]
    for d in diffs:
        policy = verdicts[d.stack].splitlines()[0].removeprefix("Policies: ") if verdicts.get(d.stack) else ""
        removed = f"{len(d.removed)}" + (" ⚠ protected" if any(p for *_, p in d.removed) else "")
        head.append(f"| {d.stack} | {len(d.added)} | {removed} | {len(d.changed)} | {policy} |")
    priced = [d for d in diffs if d.cost is not None]
    if priced:
        head += [
            "",
            "Monthly cost (USD, `mlplatform cost`; before → after):",
            "",
            "| stack | idle | ceiling on-demand | ceiling spot |",
            "|---|---|---|---|",
        ]
        for d in priced:
            (bi, bo, bs), (ai, ao, as_) = d.cost
            head.append(f"| {d.stack} | {_money(bi, ai)} | {_money(bo, ao)} | {_money(bs, as_)} |")
        unpriced = [(d.stack, u) for d in priced for u in d.unpriced]
        if unpriced:
            head += ["", "Added without a price (not in the figures above):", ""]
            head += [f"- {stack}: {u}" for stack, u in unpriced]
    sections = []
    for d in diffs:
        body = [f"<details><summary><b>{d.stack}</b></summary>", "", "```diff"]
        for t, n in d.added:
            body.append(f"+ {t} {n}")
            body += [f"+     {s}" for s in [_added_line(d, t, n)] if s]
        body += [f"- {t} {n}{' (protected)' if p else ''}" for t, n, p in d.removed]
        for c in d.changed:
            body.append(f"! {c.type} {c.name}")
            body += [f"!     {s}" for s in [_changed_line(c)] if s]
            body += [f"!     {k}: {_describe(b, a, 80)}" for k, (b, a) in {**c.fields, **c.options}.items()]
        if d.empty:
            body.append("  no changes")
        body += ["```"]
        if verdicts.get(d.stack):
            body += ["", "```", verdicts[d.stack], "```"]
        body += ["</details>", ""]
        sections.append(body)
    text = "\n".join([*head, "", ""])
    whole = text + "".join("\n".join(body) + "\n" for body in sections)
    if len(whole) <= limit:
        return whole
    note = (
        "\n\n> ✂ The diff was cut to fit a GitHub comment; run `mlplatform diff <stack> --base <ref>` for all of it.\n"
    )
    closing = "\n```\n</details>" + note
    for body in sections:
        chunk = "\n".join(body) + "\n"
        if len(text) + len(chunk) + len(note) <= limit:
            text += chunk
            continue
        # As many whole lines of this section as fit with its block closed and the note after it.
        kept: list[str] = []
        for line in body:
            if len(text) + len("\n".join([*kept, line])) + len(closing) > limit:
                break
            kept.append(line)
        return text + "\n".join(kept) + closing if kept else text + note.lstrip("\n")
    raise AssertionError("unreachable: a comment whose every section fits was returned whole")  # pragma: no mutate
