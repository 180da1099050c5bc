"""Capacity: each pool's instance families offered in the stack's zones and the EC2 vCPU quotas its
ceiling needs; each endpoint instance type against SageMaker's endpoint-usage quota."""

from __future__ import annotations

import math
from dataclasses import dataclass

from foundation.upstream import account_reads as facts
from pipelines.preflight.account import Account, Context, ReadError

# --- compute: instance offerings and vCPU quotas ---------------------------------------------------


@dataclass(frozen=True)
class Pool:
    """A capacity pool of the stack: what it may launch and how much of it."""

    name: str
    families: tuple[str, ...]
    capacity_types: tuple[str, ...]
    gpu_limit: int | None = None  # GPU pools: Karpenter's nvidia.com/gpu limit
    vcpu_limit: int | None = None  # CPU pools: Karpenter's cpu limit
    instance_types: tuple[str, ...] = ()  # a managed node group's types (no families)
    max_nodes: int = 0


def pools(settings) -> list[Pool]:
    tr = settings.training
    out = [
        Pool(
            "system nodes",
            (),
            ("on-demand",),
            instance_types=tuple(tr.system_nodes.instance_types),
            max_nodes=tr.system_nodes.max_size,
        ),
        Pool(
            "cpu pool",
            tuple(tr.cpu_pool.instance_families),
            tuple(tr.cpu_pool.capacity_types),
            vcpu_limit=tr.cpu_pool.cpu_limit,
        ),
    ]
    out += [
        Pool(f"gpu pool {p.name}", tuple(p.instance_families), tuple(p.capacity_types), gpu_limit=p.gpu_limit)
        for p in tr.gpu_pools
    ]
    return out


def _family(instance_type: str) -> str:
    return instance_type.split(".", 1)[0]


def _offerings(account: Account, zones: list[str]) -> dict[str, set[str]]:
    """Instance type -> the stack's zones that offer it."""
    offered: dict[str, set[str]] = {}
    for o in account.pages(
        "ec2.DescribeInstanceTypeOfferings",
        "InstanceTypeOfferings",
        LocationType="availability-zone",
        Filters=[{"Name": "location", "Values": zones}],
    ):
        offered.setdefault(o["InstanceType"], set()).add(o["Location"])
    return offered


def _specs(account: Account, types: list[str]) -> dict[str, tuple[int, int]]:
    """Instance type -> (vCPUs, NVIDIA GPUs), 100 types a call (the API's limit)."""
    out = {}
    for start in range(0, len(types), 100):
        answer = account.call("ec2.DescribeInstanceTypes", InstanceTypes=types[start : start + 100])
        for t in answer.get("InstanceTypes", []):
            gpus = sum(
                g.get("Count", 0)
                for g in t.get("GpuInfo", {}).get("Gpus", [])
                if g.get("Manufacturer", "").upper() == "NVIDIA"
            )
            out[t["InstanceType"]] = (t["VCpuInfo"]["DefaultVCpus"], gpus)
    return out


@dataclass
class Demand:
    """vCPUs a pool's ceiling takes: ``low`` on its types with the fewest vCPUs per GPU, ``high`` on the
    most; ``smallest`` is the smallest node it can launch."""

    pool: Pool
    low: int
    high: int
    smallest: int
    basis: str


def check_compute(ctx: Context, account: Account) -> None:
    """Each pool's families offered in the stack's zones, then the vCPU quotas its ceiling needs."""
    zones = list(ctx.settings.network.availability_zones)
    try:
        offered = _offerings(account, zones)
    except ReadError as err:
        ctx.could_not("instance-offerings", ", ".join(zones), err)
        return
    demands: list[Demand] = []
    for pool in pools(ctx.settings):
        usable = _usable_types(ctx, account, pool, offered, zones)
        if usable:
            demands.append(_demand(pool, usable))
    _check_quotas(ctx, account, demands)


def _usable_types(ctx, account, pool: Pool, offered, zones) -> dict[str, tuple[int, int]]:
    check = "instance-offerings"
    if pool.instance_types:
        wanted = {t: _family(t) for t in pool.instance_types}
    else:
        wanted = {t: _family(t) for t in offered if _family(t) in pool.families}
    where = f"{ctx.settings.region} ({', '.join(zones)})"
    missing = [t for t in pool.instance_types if t not in offered] if pool.instance_types else []
    by_family = {f: sorted(t for t, fam in wanted.items() if fam == f and t in offered) for f in pool.families}
    absent = sorted(f for f, types in by_family.items() if not types) + missing
    types = sorted(t for t in wanted if t in offered)
    try:
        specs = _specs(account, types) if types else {}
    except ReadError as err:
        ctx.could_not(check, pool.name, err)
        return {}
    if pool.gpu_limit is not None:  # Karpenter's GPU pools take NVIDIA GPU types only
        no_gpu = sorted({_family(t) for t in types} - {_family(t) for t, s in specs.items() if s[1]})
        absent += [f"{f} (no NVIDIA GPU)" for f in no_gpu]
        specs = {t: s for t, s in specs.items() if s[1]}
    what = ", ".join(pool.instance_types or pool.families)
    if not specs:
        ctx.add(
            check,
            pool.name,
            "fail",
            f"none of {what} is offered in {where}" + (" with an NVIDIA GPU" if types else ""),
            f"choose instance {'types' if pool.instance_types else 'families'} offered there: `aws ec2 "
            f"describe-instance-type-offerings --location-type availability-zone --region {ctx.settings.region}`",
        )
        return {}
    thin = sorted(_family(t) for t in specs if offered[t] != set(zones))
    detail = f"{len(specs)} instance type{'s' if len(specs) != 1 else ''} of {what} offered in {where}"
    if absent:
        ctx.add(
            check,
            pool.name,
            "warn",
            f"{detail}; not offered: {', '.join(absent)}",
            "remove them from the pool, or expect Karpenter to launch only the offered ones",
        )
    else:
        ctx.add(
            check,
            pool.name,
            "ok",
            detail + (f" (some types of {', '.join(sorted(set(thin)))} not in every zone)" if thin else ""),
        )
    return specs


def _demand(pool: Pool, specs: dict[str, tuple[int, int]]) -> Demand:
    smallest = min(v for v, _ in specs.values())
    if pool.gpu_limit is not None:
        per_gpu = {t: v / g for t, (v, g) in specs.items()}
        lo, hi = min(per_gpu, key=per_gpu.get), max(per_gpu, key=per_gpu.get)
        low, high = math.ceil(pool.gpu_limit * per_gpu[lo]), math.ceil(pool.gpu_limit * per_gpu[hi])
        basis = f"{pool.gpu_limit} GPUs: {per_gpu[lo]:g} vCPUs per GPU on {lo} to {per_gpu[hi]:g} on {hi}"
        return Demand(pool, low, high, smallest, basis)
    if pool.vcpu_limit is not None:
        return Demand(pool, pool.vcpu_limit, pool.vcpu_limit, smallest, f"its cpu limit, {pool.vcpu_limit} vCPUs")
    largest = max(v for v, _ in specs.values())
    n = pool.max_nodes * largest
    return Demand(pool, n, n, smallest, f"{pool.max_nodes} nodes of up to {largest} vCPUs")


def _quota(account: Account, service: str, code: str) -> tuple[float, str]:
    """The applied quota, or AWS's default when the account has none applied."""
    from botocore.exceptions import ClientError

    try:
        q = account.call(
            "service-quotas.GetServiceQuota", expected=("NoSuchResourceException",), ServiceCode=service, QuotaCode=code
        )["Quota"]
        return q["Value"], "applied"
    except ClientError:
        q = account.call("service-quotas.GetAWSDefaultServiceQuota", ServiceCode=service, QuotaCode=code)["Quota"]
        return q["Value"], "AWS default"


def _check_quotas(ctx: Context, account: Account, demands: list[Demand]) -> None:
    """Every pool that may use a quota is judged as if its whole ceiling ran there (Karpenter prefers
    spot and falls back to on-demand, so either may carry all of it)."""
    by_quota: dict[tuple[str, str], list[Demand]] = {}
    for d in demands:
        families = d.pool.families or tuple(sorted({_family(t) for t in d.pool.instance_types}))
        for capacity in d.pool.capacity_types:
            unknown = [f for f in families if facts.vcpu_quota(f, capacity) is None]
            if unknown:
                ctx.add(
                    "vcpu-quota",
                    d.pool.name,
                    "warn",
                    f"{', '.join(unknown)} ({capacity}): a vCPU quota preflight does not know",
                    "check its quota in the Service Quotas console (Amazon EC2)",
                )
            for quota in {facts.vcpu_quota(f, capacity) for f in families} - {None}:
                by_quota.setdefault(quota, []).append(d)
    for (code, name), ds in sorted(by_quota.items()):
        subject = f"{name} ({code})"
        try:
            value, kind = _quota(account, "ec2", code)
        except ReadError as err:
            ctx.could_not("vcpu-quota", subject, err)
            continue
        low, high = sum(d.low for d in ds), sum(d.high for d in ds)
        pools_said = "; ".join(f"{d.pool.name}: {d.basis}" for d in ds)
        need = f"{low}" if low == high else f"{low} to {high}"
        share = f" ({100 * high / value:.0f}% of the quota)" if value else ""
        detail = f"{value:g} vCPUs ({kind}); the ceilings take {need} vCPUs{share}: {pools_said}"
        raise_to = (
            f"request {high} or more, plus what else runs in the account: `aws service-quotas "
            f"request-service-quota-increase --service-code ec2 --quota-code {code} --desired-value {high} "
            f"--region {ctx.settings.region}`, or lower the pools' limits"
        )
        smallest = min(d.smallest for d in ds)
        if value < smallest:
            detail += f"; not even one node fits (the smallest takes {smallest})"
        partly = "enough only on the types with fewest vCPUs"
        _judge(ctx, "vcpu-quota", subject, value, needs=(high, low), detail=detail, fix=raise_to, partly=partly)


def _judge(
    ctx: Context, check: str, subject: str, value: float, *, needs: tuple[int, int], detail: str, fix: str, partly: str
) -> None:
    """A quota against (what always fits, what fits at least sometimes): ok, warn (saying ``partly``)
    or fail."""
    full, some = needs
    if value >= full:
        ctx.add(check, subject, "ok", detail)
    elif value >= some:
        ctx.add(check, subject, "warn", f"{detail}; {partly}", fix)
    else:
        ctx.add(check, subject, "fail", detail, fix)


# --- serving ---------------------------------------------------------------------------------------


def check_endpoints(ctx: Context, account: Account) -> None:
    """Each endpoint instance type's count against SageMaker's endpoint-usage quota for it: during a
    rollout the new fleet (at the maximum) runs beside the old one (up to the maximum)."""
    need: dict[str, list[tuple[str, int]]] = {}
    for e in ctx.settings.serving.endpoints:
        need.setdefault(e.instance_type, []).append((e.name, e.max_instances))
    if not need:
        return
    wanted = {facts.SAGEMAKER_ENDPOINT_QUOTA.format(instance_type=t): t for t in need}
    found: dict[str, tuple[float, str, str]] = {}
    try:
        for key, kind in (
            ("service-quotas.ListServiceQuotas", "applied"),
            ("service-quotas.ListAWSDefaultServiceQuotas", "AWS default"),
        ):
            for q in account.pages(key, "Quotas", ServiceCode="sagemaker"):
                if q.get("QuotaName") in wanted and wanted[q["QuotaName"]] not in found:
                    found[wanted[q["QuotaName"]]] = (q["Value"], kind, q.get("QuotaCode", ""))
            if len(found) == len(need):
                break
    except ReadError as err:
        ctx.could_not("endpoint-quota", ", ".join(need), err)
        return
    for instance_type, endpoints in sorted(need.items()):
        peak = sum(n for _, n in endpoints)
        during_rollout = peak * (2 if facts.ROLLOUT_RUNS_BOTH_FLEETS else 1)
        said = ", ".join(f"{name} up to {n}" for name, n in endpoints)
        if instance_type not in found:
            ctx.add(
                "endpoint-quota",
                instance_type,
                "fail",
                f"SageMaker has no endpoint quota for {instance_type} in {ctx.settings.region} ({said})",
                "choose an instance type SageMaker hosts in this region",
            )
            continue
        value, kind, code = found[instance_type]
        detail = (
            f"{value:g} instances ({kind}, {code}); endpoints {said}: {peak} at peak, {during_rollout} during a rollout"
        )
        fix = (
            f"request {during_rollout} or more: `aws service-quotas request-service-quota-increase --service-code "
            f"sagemaker --quota-code {code} --desired-value {during_rollout} --region {ctx.settings.region}`"
        )
        partly = "a rollout at peak would not fit"
        _judge(
            ctx,
            "endpoint-quota",
            instance_type,
            value,
            needs=(during_rollout, peak),
            detail=detail,
            fix=fix,
            partly=partly,
        )
