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
import math
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

from foundation.upstream import account_reads as facts

STATUSES = ("ok", "warn", "fail")


class PreflightError(Exception):
    """Preflight cannot judge the account at all: no credentials, or the wrong account."""


@dataclass(frozen=True)
class Finding:
    check: str  # what was checked, e.g. "vcpu-quota"
    subject: str  # of what, e.g. "gpu pool gpu-a10g" or a quota's name and code
    status: str  # ok | warn | fail
    detail: str  # what the account says
    fix: str = ""  # what to do (warn and fail)


class ReadError(Exception):
    """A call answered with an error the check did not expect (access denied, throttling...)."""

    def __init__(self, action: str, code: str, message: str):
        super().__init__(f"{action}: {code}: {message}")
        self.action, self.code = action, code


# Errors that mean the credentials are unusable, whatever the call: the "Common Errors" of the AWS API
# references (ExpiredTokenException, InvalidClientTokenId, UnrecognizedClientException, ...), STS's
# ExpiredToken, and EC2's AuthFailure and RequestExpired (EC2 API reference, errors-overview).
CREDENTIAL_ERRORS = frozenset(
    {
        "ExpiredToken",
        "ExpiredTokenException",
        "InvalidClientTokenId",
        "UnrecognizedClientException",
        "SignatureDoesNotMatch",
        "InvalidSignatureException",
        "AuthFailure",
        "RequestExpired",
    }
)


class Account:
    """The account, read through botocore clients in the stack's region (or another, per call).

    ``client_factory(service, region)`` makes the clients; tests pass moto-backed or stubbed ones."""

    def __init__(self, region: str, client_factory: Callable[[str, str], Any] | None = None):
        self.region = region
        self._factory = client_factory or _boto3_client
        self._clients: dict[tuple[str, str], Any] = {}

    def client(self, service: str, region: str | None = None) -> Any:
        key = (service, region or self.region)
        if key not in self._clients:
            self._clients[key] = self._factory(*key)
        return self._clients[key]

    def call(self, key: str, region: str | None = None, expected: tuple[str, ...] = (), **params: Any) -> dict:
        """One declared call. An error code in ``expected`` is raised as ``ClientError`` for the check
        to judge; credential errors stop preflight; any other error is a ``ReadError``."""
        from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

        call = facts.CALLS[key]
        undeclared = sorted(set(params) - set(call.params))
        if undeclared:  # a programming error: the call list (and the CI policy) would be wrong
            raise ValueError(f"{key}: request members {undeclared} are not declared in account_reads.CALLS")
        client = self.client(call.service, region)
        method = getattr(client, _snake(call.operation))
        try:
            return method(**params)
        except NoCredentialsError as err:
            raise PreflightError(
                "no AWS credentials found: export a session as docs/deploying.md (Credentials) says, e.g. "
                '`eval "$(aws configure export-credentials --profile <profile> --format env)"`'
            ) from err
        except ClientError as err:
            code = err.response.get("Error", {}).get("Code", "")
            if code in CREDENTIAL_ERRORS:
                raise PreflightError(
                    f"the AWS credentials were refused ({code}): export a fresh session (docs/deploying.md, "
                    "Credentials)"
                ) from err
            if code in expected:
                raise
            raise ReadError(call.action, code, err.response.get("Error", {}).get("Message", "")) from err
        except BotoCoreError as err:  # endpoint unreachable, timeouts
            raise ReadError(call.action, type(err).__name__, str(err)) from err

    def pages(self, key: str, items: str, region: str | None = None, **params: Any) -> Iterator[dict]:
        """The items of every page of a call that pages with NextToken."""
        token = None
        while True:
            answer = self.call(key, region, **params, **({"NextToken": token} if token else {}))
            yield from answer.get(items, [])
            token = answer.get("NextToken")
            if not token:
                return


def _snake(operation: str) -> str:
    from botocore import xform_name

    return xform_name(operation)


def _boto3_client(service: str, region: str) -> Any:
    import boto3
    from botocore.config import Config

    config = Config(retries={"mode": "standard", "max_attempts": 4}, connect_timeout=5, read_timeout=30)
    return boto3.session.Session().client(service, region_name=region, config=config)


@dataclass
class Context:
    """What preflight checks a stack against, besides its settings."""

    stack: str
    settings: Any  # infra.settings.Settings
    backend_url: str | None = None
    backend_source: str = ""
    secrets_provider: str | None = None  # the stack file's secretsprovider
    findings: list[Finding] = field(default_factory=list)

    def add(self, check: str, subject: str, status: str, detail: str, fix: str = "") -> None:
        self.findings.append(Finding(check, subject, status, detail, fix))

    def could_not(self, check: str, subject: str, err: ReadError) -> None:
        self.add(
            check,
            subject,
            "warn",
            f"could not check: {err}",
            f"allow {err.action} for these credentials (docs/deploying.md, Preflight) and run preflight again",
        )


# --- credentials -----------------------------------------------------------------------------------


def check_caller(ctx: Context, account: Account) -> None:
    """The credentials work and are the stack's account's; anything else stops preflight."""
    try:
        me = account.call("sts.GetCallerIdentity")
    except ReadError as err:
        raise PreflightError(f"could not read the caller's identity: {err}") from err
    if me["Account"] != ctx.settings.account_id:
        raise PreflightError(
            f"the AWS credentials are for account {me['Account']} ({me['Arn']}); stack '{ctx.stack}' deploys to "
            f"{ctx.settings.account_id} (accountId in stacks/Pulumi.{ctx.stack}.yaml): export the stack's credentials"
        )
    ctx.add("credentials", me["Arn"], "ok", f"account {me['Account']}, the stack's accountId")


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


# --- EKS: versions, add-ons, node image --------------------------------------------------------------


def check_eks(ctx: Context, account: Account, addons: tuple[str, ...]) -> None:
    version = ctx.settings.training.kubernetes_version
    check = "kubernetes-version"
    try:
        answer = account.call("eks.DescribeClusterVersions", clusterVersions=[version], includeAll=True)
        found = [v for v in answer.get("clusterVersions", []) if v.get("clusterVersion") == version]
    except ReadError as err:
        ctx.could_not(check, version, err)
        found = None
    if found == []:
        ctx.add(
            check,
            version,
            "fail",
            f"EKS in {ctx.settings.region} does not offer Kubernetes {version}",
            "set training.kubernetesVersion to a version `aws eks describe-cluster-versions` lists",
        )
    elif found:
        status = found[0].get("versionStatus", "")
        if status == "STANDARD_SUPPORT":
            ctx.add(check, version, "ok", f"Kubernetes {version}: {status}")
        elif status == "EXTENDED_SUPPORT":
            ctx.add(
                check,
                version,
                "warn",
                f"Kubernetes {version}: {status} (billed at the extended-support rate)",
                "upgrade training.kubernetesVersion (docs/training.md)",
            )
        else:
            ctx.add(
                check,
                version,
                "fail",
                f"Kubernetes {version}: {status or 'no status'}",
                "set training.kubernetesVersion to a version in standard support",
            )
    for addon in addons:
        try:
            answer = account.call("eks.DescribeAddonVersions", kubernetesVersion=version, addonName=addon)
        except ReadError as err:
            ctx.could_not("eks-addon", addon, err)
            continue
        versions = [
            v for a in answer.get("addons", []) if a.get("addonName") == addon for v in a.get("addonVersions", [])
        ]
        default = [
            v["addonVersion"]
            for v in versions
            if any(c.get("clusterVersion") == version and c.get("defaultVersion") for c in v.get("compatibilities", []))
        ]
        if default:
            ctx.add("eks-addon", addon, "ok", f"default version for Kubernetes {version}: {default[0]}")
        elif versions:
            ctx.add(
                "eks-addon",
                addon,
                "warn",
                f"{len(versions)} versions for Kubernetes {version}, none the default (the stack takes EKS's default)",
                "pin a version it lists in the cluster component",
            )
        else:
            ctx.add(
                "eks-addon",
                addon,
                "fail",
                f"no version for Kubernetes {version} in {ctx.settings.region}",
                "choose a Kubernetes version the add-on supports",
            )
    _node_image(ctx, account, version)


def node_image_parameters(settings) -> list[str]:
    """The SSM parameters Karpenter resolves for the stack's pinned node image: the standard AL2023
    image for CPU nodes, the NVIDIA one for GPU nodes (x86_64: the pools launch amd64)."""
    release = settings.training.node_image.removeprefix("al2023@")
    variants = ["standard"] + (["nvidia"] if settings.training.gpu_pools else [])
    return [
        facts.AL2023_PARAMETER.format(
            k8s=settings.training.kubernetes_version, arch="x86_64", variant=v, release=release
        )
        for v in variants
    ]


def _node_image(ctx: Context, account: Account, version: str) -> None:
    names = node_image_parameters(ctx.settings)
    alias = ctx.settings.training.node_image
    try:
        answer = account.call("ssm.GetParameters", Names=names)
    except ReadError as err:
        ctx.could_not("node-image", alias, err)
        return
    missing = sorted(
        set(answer.get("InvalidParameters", [])) | (set(names) - {p["Name"] for p in answer.get("Parameters", [])})
    )
    if missing:
        ctx.add(
            "node-image",
            alias,
            "fail",
            f"no AMI for Kubernetes {version} at {alias}: {', '.join(missing)} does not exist",
            "set training.nodeImage to a release published for this version (awslabs/amazon-eks-ami releases)",
        )
    else:
        ctx.add("node-image", alias, "ok", f"{len(names)} AMI parameters resolve for Kubernetes {version}")


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
        during_rollout = 2 * peak
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


# --- the bootstrap's outputs ------------------------------------------------------------------------


def check_state(ctx: Context, account: Account) -> None:
    """The backend's bucket answers these credentials, and the secrets key is enabled."""
    from botocore.exceptions import ClientError

    from foundation.conventions import secrets_alias, state_bucket_name

    s = ctx.settings
    url = ctx.backend_url
    if not url:
        ctx.add(
            "state-backend",
            "backend URL",
            "warn",
            "no backend URL: not logged in and none given",
            "run `pulumi login <backendUrl>` (the bootstrap's output) or pass --backend-url",
        )
    elif not url.startswith("s3://"):
        ctx.add(
            "state-backend",
            url,
            "warn",
            f"the backend ({ctx.backend_source}) is not an S3 bucket",
            "log in to the bootstrap's backendUrl: `pulumi login $(cd bootstrap && pulumi stack output backendUrl)`",
        )
    else:
        parsed = urlparse(url)
        bucket, region = parsed.netloc, parse_qs(parsed.query).get("region", [s.region])[0]
        try:
            account.call("s3.HeadBucket", region, expected=("404", "403", "301", "NoSuchBucket"), Bucket=bucket)
            expected = state_bucket_name(s.environment, s.account_id, s.region)
            if bucket != expected:
                ctx.add(
                    "state-backend",
                    bucket,
                    "warn",
                    f"reachable, but not the bootstrap's bucket of {s.environment} ({expected})",
                    f"log in to the bootstrap's backendUrl of {s.environment}",
                )
            else:
                ctx.add("state-backend", bucket, "ok", f"reachable in {region} ({ctx.backend_source})")
        except ClientError as err:
            code = err.response.get("Error", {}).get("Code", "")
            meaning = {
                "404": "does not exist",
                "NoSuchBucket": "does not exist",
                "301": f"is not in {region}",
                "403": "refuses these credentials s3:ListBucket",
            }[code]
            ctx.add(
                "state-backend",
                bucket,
                "fail",
                f"the state bucket {meaning} ({ctx.backend_source})",
                "run the bootstrap (docs/deploying.md step 2) and log in to its backendUrl",
            )
        except ReadError as err:
            ctx.could_not("state-backend", bucket, err)
    key, region = _secrets_key(ctx.secrets_provider, secrets_alias(s.environment), s.region)
    if key is None:
        ctx.add(
            "secrets-key",
            ctx.secrets_provider or "",
            "warn",
            "the stack's secrets provider is not AWS KMS",
            "use the bootstrap's secretsProvider (docs/deploying.md step 5)",
        )
        return
    try:
        meta = account.call("kms.DescribeKey", region, expected=("NotFoundException",), KeyId=key)["KeyMetadata"]
    except ClientError:
        ctx.add("secrets-key", key, "fail", f"no such key in {region}", "run the bootstrap (docs/deploying.md step 2)")
        return
    except ReadError as err:
        ctx.could_not("secrets-key", key, err)
        return
    if meta.get("KeyState") == "Enabled" and meta.get("KeyUsage") == "ENCRYPT_DECRYPT":
        ctx.add("secrets-key", key, "ok", f"{meta['Arn']}: Enabled, ENCRYPT_DECRYPT")
    else:
        ctx.add(
            "secrets-key",
            key,
            "fail",
            f"{meta.get('Arn', key)}: {meta.get('KeyState')}, {meta.get('KeyUsage')}",
            "enable the key (a key pending deletion can be restored: `aws kms cancel-key-deletion`)",
        )


def _secrets_key(provider: str | None, default_alias: str, region: str) -> tuple[str | None, str]:
    """(key id or alias, region) of an ``awskms://`` secrets provider; the bootstrap's alias when the
    stack has none yet (before `pulumi stack init`)."""
    if not provider:
        return default_alias, region
    parsed = urlparse(provider)
    if parsed.scheme != "awskms":
        return None, region
    key = (parsed.netloc + parsed.path).lstrip("/")
    return key, parse_qs(parsed.query).get("region", [region])[0]


def check_ci(ctx: Context, account: Account) -> None:
    """The GitHub OIDC provider and the runner's CodeConnections connection the stack names."""
    from botocore.exceptions import ClientError

    from foundation.iam.github import GITHUB_OIDC_HOST

    ci = ctx.settings.ci
    if ci.github_repository and ci.oidc_provider_arn:
        try:
            p = account.call(
                "iam.GetOpenIDConnectProvider",
                expected=("NoSuchEntity",),
                OpenIDConnectProviderArn=ci.oidc_provider_arn,
            )
            if p.get("Url", "").removeprefix("https://") != GITHUB_OIDC_HOST or facts.OIDC_AUDIENCE not in p.get(
                "ClientIDList", []
            ):
                ctx.add(
                    "oidc-provider",
                    ci.oidc_provider_arn,
                    "fail",
                    f"URL {p.get('Url')}, audiences {p.get('ClientIDList')}",
                    f"name the provider of {GITHUB_OIDC_HOST} with audience "
                    f"{facts.OIDC_AUDIENCE} (the bootstrap's oidcProviderArn)",
                )
            else:
                ctx.add(
                    "oidc-provider", ci.oidc_provider_arn, "ok", f"{GITHUB_OIDC_HOST}, audience {facts.OIDC_AUDIENCE}"
                )
        except ClientError:
            ctx.add(
                "oidc-provider",
                ci.oidc_provider_arn,
                "fail",
                "no such OIDC provider",
                "run the bootstrap (docs/deploying.md step 2) and name its oidcProviderArn in ci.oidcProviderArn",
            )
        except ReadError as err:
            ctx.could_not("oidc-provider", ci.oidc_provider_arn, err)
    elif ci.github_repository:
        try:
            arns = [
                p["Arn"] for p in account.call("iam.ListOpenIDConnectProviders").get("OpenIDConnectProviderList", [])
            ]
            taken = [a for a in arns if a.endswith(f"/{GITHUB_OIDC_HOST}")]
            ours = taken and _made_by(
                ctx, account.call("iam.GetOpenIDConnectProvider", OpenIDConnectProviderArn=taken[0]).get("Tags", [])
            )
            if taken and not ours:
                ctx.add(
                    "oidc-provider",
                    "ci.oidcProviderArn",
                    "fail",
                    f"the account has {taken[0]} and the stack would create another (an account has one per URL)",
                    f"set ci.oidcProviderArn: {taken[0]}",
                )
            else:
                ctx.add(
                    "oidc-provider",
                    "ci.oidcProviderArn",
                    "ok",
                    f"{taken[0]}, created by this stack"
                    if ours
                    else f"no provider of {GITHUB_OIDC_HOST} yet: the stack creates it",
                )
        except ReadError as err:
            ctx.could_not("oidc-provider", "ci.oidcProviderArn", err)
    if ci.runner == "codebuild" and ci.code_connection_arn:
        arn = ci.code_connection_arn
        service, region = arn.split(":")[2], arn.split(":")[3]
        try:
            c = account.call(
                f"{service}.GetConnection", region, expected=("ResourceNotFoundException",), ConnectionArn=arn
            )["Connection"]
        except ClientError:
            ctx.add(
                "code-connection",
                arn,
                "fail",
                "no such connection",
                "run the bootstrap and name its codeConnectionArn in ci.codeConnectionArn",
            )
            return
        except ReadError as err:
            ctx.could_not("code-connection", arn, err)
            return
        status = c.get("ConnectionStatus")
        if status == "AVAILABLE":
            ctx.add("code-connection", arn, "ok", f"{c.get('ProviderType')}: AVAILABLE")
        elif status == "PENDING":
            ctx.add(
                "code-connection",
                arn,
                "fail",
                "PENDING: the GitHub connection was never authorized",
                "authorize it in the console: Developer Tools > Connections > Update pending connection "
                "(docs/deploying.md step 3)",
            )
        else:
            ctx.add(
                "code-connection",
                arn,
                "fail",
                f"{status}",
                "update the connection in the console, or create a new one with the bootstrap",
            )


# --- alerts and budgets ------------------------------------------------------------------------------


def check_alerts(ctx: Context, account: Account) -> None:
    """Chatbot's Slack workspaces, and the budget's cost allocation tag."""
    m = ctx.settings.monitoring
    workspaces = sorted({c.workspace_id for c in m.slack_channels})
    if workspaces:
        try:
            authorized = {
                w["SlackTeamId"]: w.get("SlackTeamName", "")
                for w in account.pages("chatbot.DescribeSlackWorkspaces", "SlackWorkspaces")
            }
            for w in workspaces:
                if w in authorized:
                    ctx.add("chatbot-workspace", w, "ok", f"authorized ({authorized[w]})")
                else:
                    ctx.add(
                        "chatbot-workspace",
                        w,
                        "fail",
                        "the Slack workspace is not authorized for AWS Chatbot in this account",
                        "authorize it once: AWS Chatbot console > Configure new client > Slack, "
                        "signed in to that workspace",
                    )
        except ReadError as err:
            ctx.could_not("chatbot-workspace", ", ".join(workspaces), err)
    if m.budget_scope == "tag":
        _budget_tag(ctx, account)


BUDGET_TAG = "environment"  # components/monitoring.py: the budget filters user:environment$<env>


def _budget_tag(ctx: Context, account: Account) -> None:
    try:
        tags = account.call("ce.ListCostAllocationTags", "us-east-1", TagKeys=[BUDGET_TAG]).get(
            "CostAllocationTags", []
        )
    except ReadError as err:
        ctx.could_not("cost-allocation-tag", BUDGET_TAG, err)
        return
    status = next((t.get("Status") for t in tags if t.get("TagKey") == BUDGET_TAG), None)
    activates = ctx.settings.monitoring.activate_environment_tag
    if status == "Active":
        ctx.add("cost-allocation-tag", BUDGET_TAG, "ok", "Active: the tag-scoped budget counts this stack's costs")
    elif status == "Inactive" and activates:
        ctx.add(
            "cost-allocation-tag",
            BUDGET_TAG,
            "ok",
            "Inactive; the stack activates it (monitoring.activateEnvironmentTag)",
        )
    elif status is None:
        ctx.add(
            "cost-allocation-tag",
            BUDGET_TAG,
            "fail" if activates else "warn",
            "the tag key has not appeared in billing data yet: the budget counts nothing until it is active",
            "deploy something tagged environment (billing sees it within a day), then activate it",
        )
    else:
        ctx.add(
            "cost-allocation-tag",
            BUDGET_TAG,
            "fail",
            f"{status}: the tag-scoped budget counts nothing",
            "activate it in the Billing console (Cost allocation tags), from the management account, or set "
            "monitoring.activateEnvironmentTag in a standalone account",
        )


# --- account-wide leftovers and the region's services ---------------------------------------------


def _made_by(ctx: Context, tags: list[dict]) -> bool:
    """Tagged by this stack's provider (foundation/conventions.platform_tags: project and environment):
    a resource the stack created on an earlier run, not one that would collide with it."""
    from foundation.conventions import PROJECT

    found = {t.get("Key"): t.get("Value") for t in tags}
    return found.get("project") == PROJECT and found.get("environment") == ctx.settings.environment


def _spot_role(ctx: Context, account: Account) -> None:
    """The account-wide Spot service-linked role: created once, by this stack or before it."""
    from botocore.exceptions import ClientError

    role, creates = facts.SPOT_SERVICE_LINKED_ROLE, ctx.settings.training.create_spot_service_linked_role
    try:
        tags = account.call("iam.GetRole", expected=("NoSuchEntity",), RoleName=role)["Role"].get("Tags", [])
        exists = True
    except ClientError:
        exists, tags = False, []
    except ReadError as err:
        ctx.could_not("spot-role", role, err)
        return
    if exists and creates and not _made_by(ctx, tags):
        ctx.add(
            "spot-role",
            role,
            "fail",
            "the account has it (not made by this stack) and the stack would create it again",
            "set training.createSpotServiceLinkedRole: false",
        )
    elif not exists and not creates:
        ctx.add(
            "spot-role",
            role,
            "fail",
            "spot capacity needs it; the account has none and the stack creates none",
            "set training.createSpotServiceLinkedRole: true",
        )
    else:
        ctx.add(
            "spot-role",
            role,
            "ok",
            ("created by this stack" if creates else "exists") if exists else "the stack creates it",
        )


def check_account(ctx: Context, account: Account, services: tuple[str, ...]) -> None:
    """The Spot service-linked role the stack would create or needs, and the services it uses in the
    region (Systems Manager's global-infrastructure parameters)."""
    tr = ctx.settings.training
    uses_spot = "spot" in tr.cpu_pool.capacity_types or any("spot" in p.capacity_types for p in tr.gpu_pools)
    if uses_spot:
        _spot_role(ctx, account)
    path = facts.REGION_SERVICES_PATH.format(region=ctx.settings.region)
    try:
        offered = {
            p["Value"]
            for p in account.pages("ssm.GetParametersByPath", "Parameters", facts.REGION_SERVICES_QUERIED_IN, Path=path)
        }
    except ReadError as err:
        ctx.could_not("region-services", ctx.settings.region, err)
        return
    missing = [s for s in services if s not in offered]
    if missing:
        ctx.add(
            "region-services",
            ctx.settings.region,
            "fail",
            f"not offered in the region: {', '.join(missing)}",
            "deploy the stack to a region that offers them",
        )
    else:
        ctx.add("region-services", ctx.settings.region, "ok", f"offers {', '.join(services)}")


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
