"""Cost rules: what a stack may cost, from the offline estimate (infra/cost.py) and the stack's own
settings (monitoring.monthlyBudgetUsd, gpuCeilingBudgetFactor, idleBudgetUsd)."""

from __future__ import annotations

from pulumi_policy import EnforcementLevel

from infra.policies.framework import is_prod, stack_of, stack_rule


def _estimate(args):
    """(settings, StackCost, a URN) of the stack being checked; None when its stack file cannot be read
    or its region has no prices (nothing to judge by: docs/cost.md)."""
    from infra.cost import Res, estimate
    from infra.definitions import stack_settings

    urns = [r.urn for r in args.resources if r.urn]
    if not urns:
        return None
    stack = stack_of(urns[0])
    try:
        settings = stack_settings(stack)
    except Exception:
        return None
    resources = [Res(r.resource_type, r.name, "", r.props) for r in args.resources]
    try:
        return settings, estimate(stack, settings.region, resources), urns[0]
    except KeyError:  # a region infra/prices.json has no prices for (`mlplatform prices refresh --region`)
        return None


def _gpu_ceiling(args, prod: bool):
    found = _estimate(args)
    if found is None:
        return
    settings, cost, urn = found
    if is_prod(urn) != prod:
        return
    m = settings.monitoring
    if cost.unjudged:  # fail closed: a pool without any price cannot be shown to fit the budget
        yield (
            f"GPU pools without any price in {cost.region} ({', '.join(cost.unjudged)}): their ceiling cannot be "
            "judged; add their prices (`mlplatform prices refresh`) or use priced instance families",
            None,
        )
    allowed = m.monthly_budget_usd * m.gpu_ceiling_budget_factor
    if cost.gpu_ceiling_on_demand > allowed:
        yield (
            f"the GPU pools at their limits cost {cost.gpu_ceiling_on_demand:,.0f} USD a month on demand, more than "
            f"{m.gpu_ceiling_budget_factor:g} x the monthly budget ({m.monthly_budget_usd:,.0f}): lower "
            "training.gpuPools[].gpuLimit, or raise monitoring.monthlyBudgetUsd or gpuCeilingBudgetFactor",
            None,
        )


@stack_rule(
    "cost-gpu-ceiling-within-budget",
    "In prod, the GPU pools at their limits cost at most monitoring.gpuCeilingBudgetFactor x the monthly budget",
)
def gpu_ceiling_prod(args):
    yield from _gpu_ceiling(args, prod=True)


@stack_rule(
    "cost-gpu-ceiling-within-budget-advisory",
    "Outside prod, the same GPU ceiling check, as advice",
    EnforcementLevel.ADVISORY,
)
def gpu_ceiling_elsewhere(args):
    yield from _gpu_ceiling(args, prod=False)


@stack_rule("cost-idle-within-budget", "The stack's idle cost stays under monitoring.idleBudgetUsd, where set")
def idle_within_budget(args):
    found = _estimate(args)
    if found is None:
        return
    settings, cost, _ = found
    cap = settings.monitoring.idle_budget_usd
    if cap is not None and cost.idle > cap:
        largest = ", ".join(f"{k} {usd:,.0f}" for k, usd, _, _ in cost.largest_idle())
        yield (
            f"the stack costs {cost.idle:,.0f} USD a month at idle, above monitoring.idleBudgetUsd ({cap:,.0f}); "
            f"largest: {largest} (`mlplatform cost` shows a saving for each)",
            None,
        )
