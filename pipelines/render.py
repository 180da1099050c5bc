"""Terminal rendering of a Plan: the component tree, counts per type and the stack outputs."""

from __future__ import annotations

import json

from pipelines.plan import Plan, Resource


def render_plan(plan: Plan) -> str:
    lines = [f"Stack {plan.project}/{plan.stack}", ""]
    urns = {r.urn for r in plan}
    roots = sorted((r for r in plan if r.parent not in urns), key=_order)
    for i, root in enumerate(roots):
        _tree(plan, root, "", i == len(roots) - 1, lines)

    counts = plan.counts()
    width = max((len(t) for t in counts), default=0)
    lines += ["", f"Resources by type ({sum(counts.values())}):"]
    lines += [f"  {t.ljust(width)}  {n:>4}" for t, n in sorted(counts.items())]
    protected = sum(1 for r in plan if r.protected)
    lines.append(f"  of which protected (protect + retainOnDelete): {protected}")

    lines += ["", "Outputs:"]
    for name, value in plan.outputs.items():
        if isinstance(value, dict):
            lines.append(f"  {name}:")
            lines += [f"    {k}: {json.dumps(v) if not isinstance(v, str) else v}" for k, v in sorted(value.items())]
        else:
            lines.append(f"  {name}: {value if isinstance(value, str) else json.dumps(value)}")
    return "\n".join(lines)


def _order(r: Resource) -> tuple:
    # Providers first, then components, then plain resources; by name within each.
    return (not r.type.startswith("pulumi:providers:"), r.custom, r.name, r.type)


def _tree(plan: Plan, res: Resource, indent: str, last: bool, lines: list[str]) -> None:
    branch = "└─ " if last else "├─ "
    flags = " [protected]" if res.protected else ""
    kids = plan.children(res.urn)
    count = f" ({len(kids)})" if kids else ""
    lines.append(f"{indent}{branch}{res.name}  {res.type}{count}{flags}")
    kids = sorted(kids, key=_order)
    for i, kid in enumerate(kids):
        _tree(plan, kid, indent + ("   " if last else "│  "), i == len(kids) - 1, lines)
