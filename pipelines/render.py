"""Terminal rendering of a Plan: the component tree, counts per type and the stack outputs."""

from __future__ import annotations

import json

from pipelines.plan import Plan, Resource


def render_plan(plan: Plan) -> str:
    lines = []
    urns = {r.urn for r in plan}
    for project in plan.projects:  # the platform, then what runs in its cluster (cluster/)
        lines += [f"Stack {project}/{plan.stack}", ""] if not lines else ["", f"Stack {project}/{plan.stack}", ""]
        roots = sorted((r for r in plan.of_project(project) if r.parent not in urns), key=_order)
        for i, root in enumerate(roots):
            _tree(plan, root, "", i == len(roots) - 1, lines)

    counts = plan.counts()
    width = max((len(t) for t in counts), default=0)
    lines += ["", f"Resources by type ({sum(counts.values())}):"]
    lines += [f"  {t.ljust(width)}  {n:>4}" for t, n in sorted(counts.items())]
    protected = sum(1 for r in plan if r.protected)
    lines.append(f"  of which protected (protect + retainOnDelete): {protected}")

    for project, outputs in ((plan.project, plan.outputs), *plan.project_outputs.items()):
        lines += ["", "Outputs:" if project == plan.project else f"Outputs of {project}:"]
        for name, value in outputs.items():
            if isinstance(value, dict):
                lines.append(f"  {name}:")
                lines += [f"    {k}: {v if isinstance(v, str) else json.dumps(v)}" for k, v in sorted(value.items())]
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


def _usd(value: float) -> str:
    return f"{value:,.2f}"


def render_cost(cost) -> str:
    """The monthly cost of one stack (infra.cost.StackCost) as the `mlplatform cost` text."""
    from infra.cost import prices

    table = prices()
    unverified = table.unverified(cost.region)
    lines = [
        f"Stack {cost.stack} ({cost.region}): monthly USD, {cost.hours_per_month:g} hours a month, "
        f"prices as of {cost.as_of} ({unverified} figures not from AWS itself: infra/prices.json says which)",
        "",
    ]
    rows = [(c, *v) for c, v in cost.components().items()]
    rows.append(("total", cost.idle, cost.ceiling_on_demand, cost.ceiling_spot))
    width = max(len(r[0]) for r in rows)
    lines.append(f"  {'component'.ljust(width)}  {'idle':>12}  {'ceiling on-demand':>18}  {'ceiling spot':>14}")
    for name, idle, on_demand, spot in rows:
        lines.append(f"  {name.ljust(width)}  {_usd(idle):>12}  {_usd(on_demand):>18}  {_usd(spot):>14}")
    lines.append(f"  of which GPU pools at their limits (on-demand): {_usd(cost.gpu_ceiling_on_demand)}")
    if cost.teams:
        lines += ["", "Team GPU quotas used in full (cheapest to dearest GPU the pools allow):"]
        for team, q in sorted(cost.teams.items()):
            lines.append(
                f"  {team}: {q['gpus']:g} GPUs = {_usd(q['usd_per_month_from'])} to {_usd(q['usd_per_month_to'])}"
            )
    if cost.usage:
        lines += ["", "Priced by use (unit prices; no quantity assumed):"]
        grouped: dict[tuple[str, float, str], int] = {}
        for u in cost.usage:
            grouped[(u.what, u.unit_price, u.unit)] = grouped.get((u.what, u.unit_price, u.unit), 0) + 1
        for (what, price, unit), n in sorted(grouped.items()):
            lines.append(f"  {what}: {price:g} per {unit} ({n} resource{'s' if n != 1 else ''})")
    if cost.unpriced:
        lines += ["", f"Unpriced ({len(cost.unpriced)}; not counted above, never as zero):"]
        lines += [f"  {u.resource}: {u.why}" for u in cost.unpriced]
    lines += ["", "Where the idle money goes:"]
    for i, (kind, usd, n, saving) in enumerate(cost.largest_idle(), 1):
        lines.append(f"  {i}. {kind} ({n}): {_usd(usd)}; {saving or 'no setting changes it'}")
    return "\n".join(lines)
