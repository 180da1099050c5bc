"""`mlplatform preflight`: each check against an account that passes it and one that fails it (moto
where it implements the call, botocore's Stubber elsewhere: tests/pipelines/preflight_account.py), the
calls against botocore's service models, the actions against the Service Authorization Reference."""

from __future__ import annotations

import gzip
import json
import math
from pathlib import Path

import boto3
import botocore.session
import pytest

from foundation.upstream import account_reads as facts
from foundation.upstream.eks import EKS_ADDONS
from pipelines import preflight as pf
from pipelines.offline import stack_settings
from pipelines.preflight import account as preflight_account_module
from tests.pipelines import preflight_account as fake

ROOT = Path(__file__).resolve().parents[2]
ACCOUNT = "111111111111"


def settings_for(stack: str = "dev", **changes):
    """A stack's settings with dotted-path changes (``training.gpu_pools=[...]``), the stack's account
    made the fake one."""
    s = stack_settings(stack, ROOT)
    changes.setdefault("account_id", ACCOUNT)
    for path, value in changes.items():
        *parents, leaf = path.split(".")
        chain = [s]
        for p in parents:
            chain.append(getattr(chain[-1], p))
        updated = chain[-1].model_copy(update={leaf: value})
        for parent, name in zip(reversed(chain[:-1]), reversed(parents), strict=True):
            updated = parent.model_copy(update={name: updated})
        s = updated
    return s


def gpu_pool(name="gpu", families=("g5",), capacity=("spot",), limit=8):
    from infra.settings import GpuPoolSettings

    return GpuPoolSettings.model_validate(
        {"name": name, "instanceFamilies": list(families), "capacityTypes": list(capacity), "gpuLimit": limit}
    )


def run_check(check, settings, answers=None, **ctx_fields):
    """One check against the fake account; every queued stub answer must be used."""
    account_fake = fake.FakeAccount(answers or fake.Answers())
    ctx = pf.Context("dev", settings, **ctx_fields)
    check(ctx, pf.Account(settings.region, account_fake))
    account_fake.all_answered()
    return ctx.findings


def statuses(findings, check=None):
    return {(f.check, f.subject): f.status for f in findings if check in (None, f.check)}


@pytest.fixture
def account():
    with fake.moto_account(ACCOUNT):
        yield


# --- the whole run: a fresh account fails, one set up right passes ---------------------------------------


def full_answers(settings, *, vcpus: float | None, endpoint_instances: float, connection_status: str) -> fake.Answers:
    """The stubbed calls of a whole run, in the order preflight makes them. ``vcpus`` None: no quota
    applied (AWS's documented defaults: Standard 5, G and VT 0, P 0)."""
    r = settings.region
    a = fake.Answers()
    tr = settings.training
    codes = set()
    for families, capacities in [
        (tr.cpu_pool.instance_families, tr.cpu_pool.capacity_types),
        (["t3"], ["on-demand"]),
    ] + [(p.instance_families, p.capacity_types) for p in tr.gpu_pools]:
        codes |= {facts.vcpu_quota(f, c) for f in families for c in capacities} - {None}
    for code, name in sorted(codes):
        if vcpus is None:
            a.add("service-quotas", r, "get_service_quota", error=("NoSuchResourceException", 400))
            default = 5 if code in ("L-1216C47A", "L-34B43A08") else 0
            a.add("service-quotas", r, "get_aws_default_service_quota", fake.quota(code, default, name))
        else:
            a.add("service-quotas", r, "get_service_quota", fake.quota(code, vcpus, name))
    a.add("eks", r, "describe_cluster_versions", fake.cluster_version(tr.kubernetes_version))
    for name in EKS_ADDONS:
        a.add("eks", r, "describe_addon_versions", fake.addon(name, tr.kubernetes_version))
    a.add("ssm", r, "get_parameters", fake.parameters(pf.node_image_parameters(settings)))
    types = {e.instance_type for e in settings.serving.endpoints}
    if types:
        a.add(
            "service-quotas", r, "list_service_quotas", fake.endpoint_quotas(dict.fromkeys(types, endpoint_instances))
        )
    arn = settings.ci.code_connection_arn
    if arn:
        a.add(arn.split(":")[2], arn.split(":")[3], "get_connection", fake.connection(arn, connection_status))
    if settings.monitoring.slack_channels:
        a.add(
            "chatbot",
            r,
            "describe_slack_workspaces",
            fake.workspaces(*(c.workspace_id for c in settings.monitoring.slack_channels)),
        )
    if settings.monitoring.budget_scope == "tag":
        a.add("ce", "us-east-1", "list_cost_allocation_tags", fake.cost_tags("Active"))
    return a


def moto_families(settings) -> tuple[set[str], set[str], set[str]]:
    """(families, families with NVIDIA GPUs, instance types) moto offers in the stack's zones."""
    types = moto_types(settings.region, settings.network.availability_zones)
    return {t.split(".")[0] for t in types}, {t.split(".")[0] for t, (_, g) in types.items() if g}, set(types)


def dev_with_gpus():
    """dev, with what the done-when names whatever a fork's dev holds (a spot G pool, a connection),
    its pools kept to the families moto's copy of the offerings has (a fork may name newer ones)."""
    dev = stack_settings("dev", ROOT)
    families, gpu_families, types = moto_families(dev)
    tr = dev.training
    gpus = [
        p.model_copy(update={"instance_families": [f for f in p.instance_families if f in gpu_families]})
        for p in tr.gpu_pools
    ]
    return settings_for(
        "dev",
        **{
            "training.gpu_pools": [p for p in gpus if p.instance_families] or [gpu_pool()],
            "training.cpu_pool.instance_families": [f for f in tr.cpu_pool.instance_families if f in families]
            or ["m6i"],
            "training.system_nodes.instance_types": [t for t in tr.system_nodes.instance_types if t in types]
            or ["t3.large"],
            "ci.code_connection_arn": dev.ci.code_connection_arn
            or f"arn:aws:codeconnections:eu-west-1:{ACCOUNT}:connection/6f1c2b0a-4d3e-4a5b-9c8d-1e2f3a4b5c6d",
        },
    )


def full_run(settings, answers):
    backend = fake.bootstrap(settings)
    account_fake = fake.FakeAccount(answers)
    ctx = pf.Context("dev", settings, backend_url=backend, backend_source="test")
    findings = pf.run(ctx, pf.Account(settings.region, account_fake))
    account_fake.all_answered()
    return findings


def test_a_fresh_account_fails_on_the_gpu_quota_and_the_pending_connection(account):
    settings = dev_with_gpus()
    findings = full_run(settings, full_answers(settings, vcpus=None, endpoint_instances=0, connection_status="PENDING"))
    failed = {(f.check, f.subject.split(" (")[-1].rstrip(")")) for f in findings if f.status == "fail"}
    gpu_codes = {
        facts.vcpu_quota(f, c)[0]
        for p in settings.training.gpu_pools
        for f in p.instance_families
        for c in p.capacity_types
        if facts.vcpu_quota(f, c)
    }
    assert {("vcpu-quota", code) for code in gpu_codes} <= failed
    assert ("code-connection", settings.ci.code_connection_arn) in {
        (f.check, f.subject) for f in findings if f.status == "fail"
    }
    connection = next(f for f in findings if f.check == "code-connection")
    assert "Update pending connection" in connection.fix
    gpu = next(f for f in findings if f.check == "vcpu-quota" and f.status == "fail" and "G and VT" in f.subject)
    assert "request-service-quota-increase" in gpu.fix and "0 vCPUs (AWS default)" in gpu.detail
    assert "not even one node fits" in gpu.detail
    assert pf.exit_status(findings) == 1


def test_an_account_set_up_right_passes(account):
    settings = dev_with_gpus()
    findings = full_run(
        settings, full_answers(settings, vcpus=100_000, endpoint_instances=100, connection_status="AVAILABLE")
    )
    assert [f for f in findings if f.status == "fail"] == []
    assert pf.exit_status(findings) == 0
    # every subject the stack has was judged
    checks = {f.check for f in findings}
    assert {
        "credentials",
        "state-backend",
        "secrets-key",
        "oidc-provider",
        "code-connection",
        "spot-role",
        "region-services",
        "instance-offerings",
        "vcpu-quota",
        "kubernetes-version",
        "eks-addon",
        "node-image",
    } <= checks
    assert {f.subject for f in findings if f.check == "eks-addon"} == set(EKS_ADDONS)


# --- credentials ---------------------------------------------------------------------------------------


def test_without_credentials_preflight_stops_with_what_to_do(no_aws_credentials):
    with pytest.raises(pf.PreflightError, match=r"no AWS credentials.*export-credentials"):
        run_check(pf.check_caller, settings_for())


def test_credentials_of_another_account_stop_preflight(account):
    with pytest.raises(pf.PreflightError, match="deploys to 222222222222"):
        run_check(pf.check_caller, settings_for(account_id="222222222222"))
    assert statuses(run_check(pf.check_caller, settings_for())) == {
        ("credentials", f"arn:aws:sts::{ACCOUNT}:user/moto"): "ok"
    }


def test_a_read_the_caller_may_not_make_is_a_warning_not_a_pass(account):
    s = settings_for()
    answers = fake.Answers().add("eks", s.region, "describe_cluster_versions", error=("AccessDeniedException", 403))
    for _ in EKS_ADDONS:
        answers.add("eks", s.region, "describe_addon_versions", fake.addon("x", "0"))
    answers.add("ssm", s.region, "get_parameters", fake.parameters(pf.node_image_parameters(s)))
    found = [
        f for f in run_check(lambda c, a: pf.check_eks(c, a, EKS_ADDONS), s, answers) if f.check == "kubernetes-version"
    ]
    assert [(f.status, "eks:DescribeClusterVersions" in f.fix) for f in found] == [("warn", True)]


# --- compute -------------------------------------------------------------------------------------------


def moto_types(region: str, zones: list[str]) -> dict[str, tuple[int, int]]:
    """What moto's own data says: instance type -> (vCPUs, NVIDIA GPUs), for types offered in a zone."""
    import moto

    base = Path(moto.__file__).parent / "ec2" / "resources"
    read = lambda path: json.loads(gzip.decompress(path.read_bytes()))  # noqa: E731
    offerings = read(base / "instance_type_offerings" / "availability-zone" / f"{region}.json.gz")
    offered = {o["InstanceType"] for o in offerings if o["Location"] in zones}
    specs = read(base / "instance_types.json.gz")
    return {
        t: (
            specs[t]["VCpuInfo"]["DefaultVCpus"],
            sum(g["Count"] for g in specs[t].get("GpuInfo", {}).get("Gpus", []) if g["Manufacturer"] == "NVIDIA"),
        )
        for t in offered
        if t in specs
    }


def quota_answers(region: str, values: dict[str, float]) -> fake.Answers:
    a = fake.Answers()
    for code in sorted(values):
        a.add("service-quotas", region, "get_service_quota", fake.quota(code, values[code]))
    return a


def test_a_gpu_pool_is_judged_against_its_quota_by_the_vcpus_its_gpu_limit_takes(account):
    s = settings_for(
        **{
            "training.gpu_pools": [gpu_pool(families=("g5",), capacity=("spot",), limit=8)],
            "training.cpu_pool.capacity_types": ["on-demand"],
        }
    )
    types = moto_types(s.region, s.network.availability_zones)
    per_gpu = [v / g for t, (v, g) in types.items() if t.startswith("g5.") and g]
    low, high = math.ceil(8 * min(per_gpu)), math.ceil(8 * max(per_gpu))
    assert low < high
    spot_g, std = facts.EC2_VCPU_QUOTAS[("g", "spot")][0], facts.EC2_VCPU_QUOTAS[("standard", "on-demand")][0]
    for value, expected in ((high, "ok"), (low, "warn"), (low - 1, "fail"), (0, "fail")):
        findings = run_check(pf.check_compute, s, quota_answers(s.region, {spot_g: value, std: 100_000}))
        got = {f.subject: f for f in findings if f.check == "vcpu-quota"}
        mine = next(f for subject, f in got.items() if spot_g in subject)
        assert mine.status == expected, (value, mine)
        assert f"{low} to {high} vCPUs" in mine.detail
        assert next(f for subject, f in got.items() if std in subject).status == "ok"


def test_pools_sharing_a_quota_are_summed(account):
    s = settings_for(
        **{
            "training.gpu_pools": [gpu_pool("ga", limit=4), gpu_pool("gb", limit=4)],
            "training.cpu_pool.capacity_types": ["on-demand"],
        }
    )
    types = moto_types(s.region, s.network.availability_zones)
    high_one = math.ceil(4 * max(v / g for t, (v, g) in types.items() if t.startswith("g5.") and g))
    spot_g, std = facts.EC2_VCPU_QUOTAS[("g", "spot")][0], facts.EC2_VCPU_QUOTAS[("standard", "on-demand")][0]
    enough_for_one = run_check(pf.check_compute, s, quota_answers(s.region, {spot_g: high_one, std: 100_000}))
    assert next(f for f in enough_for_one if spot_g in f.subject).status != "ok"
    both = run_check(pf.check_compute, s, quota_answers(s.region, {spot_g: 2 * high_one, std: 100_000}))
    assert next(f for f in both if spot_g in f.subject).status == "ok"


def test_families_not_offered_in_the_zones_warn_and_a_pool_with_none_fails(account):
    from infra.settings import GPU_FAMILIES

    base = settings_for()
    offered = {t.split(".")[0] for t in moto_types(base.region, base.network.availability_zones)}
    absent = [f for f in GPU_FAMILIES if f not in offered]  # in moto's copy of the offerings
    if not absent or "g5" not in offered:
        pytest.skip("moto's offerings of eu-west-1 changed: every allowed GPU family or no g5 is offered")
    s = settings_for(
        **{
            "training.gpu_pools": [gpu_pool("some", families=("g5", absent[0])), gpu_pool("none", families=absent[:1])],
            "training.cpu_pool.capacity_types": ["on-demand"],
        }
    )
    spot_g, std = facts.EC2_VCPU_QUOTAS[("g", "spot")][0], facts.EC2_VCPU_QUOTAS[("standard", "on-demand")][0]
    findings = run_check(pf.check_compute, s, quota_answers(s.region, {spot_g: 100_000, std: 100_000}))
    offers = {f.subject: f for f in findings if f.check == "instance-offerings"}
    assert offers["gpu pool some"].status == "warn" and absent[0] in offers["gpu pool some"].detail
    assert offers["gpu pool none"].status == "fail"
    assert "describe-instance-type-offerings" in offers["gpu pool none"].fix
    assert offers["cpu pool"].status == "ok" and offers["system nodes"].status == "ok"


def test_a_gpu_pool_of_families_without_nvidia_gpus_fails(account):
    """Karpenter's GPU pools require NVIDIA (instance-gpu-manufacturer); settings allow only GPU
    families, so the pool is built past them."""
    from infra.settings import GpuPoolSettings

    pool = GpuPoolSettings.model_construct(name="gpu", instance_families=["m6i"], capacity_types=["spot"], gpu_limit=8)
    s = settings_for(**{"training.gpu_pools": [pool], "training.cpu_pool.capacity_types": ["on-demand"]})
    std_spot, std = facts.EC2_VCPU_QUOTAS[("standard", "spot")][0], facts.EC2_VCPU_QUOTAS[("standard", "on-demand")][0]
    findings = run_check(pf.check_compute, s, quota_answers(s.region, {std: 100_000}))
    assert statuses(findings, "instance-offerings")[("instance-offerings", "gpu pool gpu")] == "fail"
    assert std_spot not in " ".join(f.subject for f in findings)


@pytest.mark.parametrize(
    ("family", "capacity", "code"),
    [
        ("g5", "spot", "L-3819A6DF"),
        ("g6e", "on-demand", "L-DB2E81BA"),
        ("vt1", "spot", "L-3819A6DF"),
        ("p5", "spot", "L-C4BD4855"),
        ("p4d", "spot", "L-7212CCBC"),
        ("p5", "on-demand", "L-417A185B"),
        ("m7i", "spot", "L-34B43A08"),
        ("c6i", "on-demand", "L-1216C47A"),
        ("inf2", "on-demand", None),
        ("p6-b200", "spot", None),
        ("x2idn", "on-demand", None),
        ("dl1", "on-demand", None),
    ],
)
def test_each_family_counts_against_the_documented_quota(family, capacity, code):
    found = facts.vcpu_quota(family, capacity)
    assert (found[0] if found else None) == code


# --- EKS -----------------------------------------------------------------------------------------------


def eks_answers(s, version_answer, addon_default=True, missing_images=()):
    a = fake.Answers().add("eks", s.region, "describe_cluster_versions", version_answer)
    for name in EKS_ADDONS:  # addon_default None: coredns has no version at all
        if addon_default is None and name == "coredns":
            a.add("eks", s.region, "describe_addon_versions", {"addons": []})
        else:
            a.add(
                "eks",
                s.region,
                "describe_addon_versions",
                fake.addon(name, s.training.kubernetes_version, addon_default is not False),
            )
    names = pf.node_image_parameters(s)
    return a.add(
        "ssm", s.region, "get_parameters", fake.parameters(names, tuple(n for n in names if n in missing_images))
    )


def run_eks(s, answers):
    return run_check(lambda c, a: pf.check_eks(c, a, EKS_ADDONS), s, answers)


def test_the_kubernetes_version_is_offered_in_standard_support(account):
    s = settings_for()
    v = s.training.kubernetes_version
    for answer, expected in (
        (fake.cluster_version(v), "ok"),
        (fake.cluster_version(v, "EXTENDED_SUPPORT"), "warn"),
        (fake.cluster_version(v, "UNSUPPORTED"), "fail"),
        ({"clusterVersions": [{"clusterVersion": v, "status": "standard-support"}]}, "ok"),
        ({"clusterVersions": []}, "fail"),
    ):
        assert statuses(run_eks(s, eks_answers(s, answer)), "kubernetes-version") == {
            ("kubernetes-version", v): expected
        }


def test_each_add_on_has_a_default_version_for_the_kubernetes_version(account):
    s = settings_for()
    v = fake.cluster_version(s.training.kubernetes_version)
    assert set(statuses(run_eks(s, eks_answers(s, v)), "eks-addon").values()) == {"ok"}
    no_default = statuses(run_eks(s, eks_answers(s, v, addon_default=False)), "eks-addon")
    assert set(no_default.values()) == {"warn"}
    none = statuses(run_eks(s, eks_answers(s, v, addon_default=None)), "eks-addon")
    assert none[("eks-addon", "coredns")] == "fail"


def test_the_node_image_resolves_for_cpu_and_gpu_nodes(account):
    s = settings_for(**{"training.gpu_pools": [gpu_pool()]})
    names = pf.node_image_parameters(s)
    release, version = s.training.node_image.removeprefix("al2023@"), s.training.kubernetes_version
    # Karpenter v1.11.1 al2023.go resolvePath, written out
    assert names == [
        f"/aws/service/eks/optimized-ami/{version}/amazon-linux-2023/x86_64/{v}/amazon-eks-node-al2023-x86_64-{v}-{version}-{release}/image_id"
        for v in ("standard", "nvidia")
    ]
    v = fake.cluster_version(version)
    assert statuses(run_eks(s, eks_answers(s, v)), "node-image") == {("node-image", s.training.node_image): "ok"}
    missing = statuses(run_eks(s, eks_answers(s, v, missing_images=(names[1],))), "node-image")
    assert missing == {("node-image", s.training.node_image): "fail"}
    assert len(pf.node_image_parameters(settings_for(**{"training.gpu_pools": []}))) == 1


# --- serving -------------------------------------------------------------------------------------------


def test_endpoint_quotas_hold_both_fleets_of_a_rollout(account):
    from infra.settings import EndpointSettings

    e = EndpointSettings.model_validate(
        {"name": "churn", "modelFamily": "churn", "instanceType": "ml.m5.large", "minInstances": 1, "maxInstances": 3}
    )
    s = settings_for(**{"serving.endpoints": [e, e.model_copy(update={"name": "other", "max_instances": 2})]})
    for value, expected in ((10, "ok"), (5, "warn"), (4, "fail"), (0, "fail")):
        answers = fake.Answers().add(
            "service-quotas", s.region, "list_service_quotas", fake.endpoint_quotas({"ml.m5.large": value})
        )
        found = run_check(pf.check_endpoints, s, answers)
        assert statuses(found) == {("endpoint-quota", "ml.m5.large"): expected}, value
    # a quota with no applied value is read from AWS's defaults
    answers = (
        fake.Answers()
        .add("service-quotas", s.region, "list_service_quotas", {"Quotas": []})
        .add("service-quotas", s.region, "list_aws_default_service_quotas", fake.endpoint_quotas({"ml.m5.large": 0}))
    )
    assert statuses(run_check(pf.check_endpoints, s, answers)) == {("endpoint-quota", "ml.m5.large"): "fail"}


# --- the bootstrap's outputs ---------------------------------------------------------------------------


def test_the_state_bucket_and_secrets_key_of_the_bootstrap(account):
    s = settings_for()
    url = fake.bootstrap(s)
    found = statuses(run_check(pf.check_state, s, backend_url=url, backend_source="test"))
    assert set(found.values()) == {"ok"} and {c for c, _ in found} == {"state-backend", "secrets-key"}
    missing = run_check(pf.check_state, s, backend_url="s3://mlplatform-dev-pulumi-state-nope?region=eu-west-1")
    assert statuses(missing, "state-backend") == {("state-backend", "mlplatform-dev-pulumi-state-nope"): "fail"}
    assert statuses(run_check(pf.check_state, s), "state-backend") == {("state-backend", "backend URL"): "warn"}
    boto3.client("s3", region_name=s.region).create_bucket(
        Bucket="someone-elses-state", CreateBucketConfiguration={"LocationConstraint": s.region}
    )
    other = run_check(pf.check_state, s, backend_url=f"s3://someone-elses-state?region={s.region}")
    assert statuses(other, "state-backend") == {("state-backend", "someone-elses-state"): "warn"}
    assert (
        statuses(run_check(pf.check_state, s, backend_url="file://~"), "state-backend")[("state-backend", "file://~")]
        == "warn"
    )


def test_a_missing_or_disabled_secrets_key_fails(account):
    s = settings_for()
    assert statuses(run_check(pf.check_state, s), "secrets-key") == {
        ("secrets-key", "alias/mlplatform-dev-pulumi-secrets"): "fail"
    }
    kms = boto3.client("kms", region_name=s.region)
    key = kms.create_key(KeyUsage="ENCRYPT_DECRYPT")["KeyMetadata"]["KeyId"]
    kms.create_alias(AliasName="alias/other", TargetKeyId=key)
    provider = f"awskms://alias/other?region={s.region}"
    assert set(statuses(run_check(pf.check_state, s, secrets_provider=provider), "secrets-key").values()) == {"ok"}
    kms.disable_key(KeyId=key)
    assert set(statuses(run_check(pf.check_state, s, secrets_provider=provider), "secrets-key").values()) == {"fail"}


def test_the_oidc_provider_is_present_or_the_stack_may_create_it(account):
    s = settings_for()
    assert statuses(
        run_check(pf.check_ci, s.model_copy(update={"ci": s.ci.model_copy(update={"code_connection_arn": None})}))
    ) == {("oidc-provider", s.ci.oidc_provider_arn): "fail"}
    fake.bootstrap(s)
    no_connection = s.model_copy(update={"ci": s.ci.model_copy(update={"code_connection_arn": None})})
    assert statuses(run_check(pf.check_ci, no_connection)) == {("oidc-provider", s.ci.oidc_provider_arn): "ok"}
    creates = s.model_copy(update={"ci": no_connection.ci.model_copy(update={"oidc_provider_arn": None})})
    assert statuses(run_check(pf.check_ci, creates)) == {("oidc-provider", "ci.oidcProviderArn"): "fail"}


@pytest.mark.parametrize(("status", "expected"), [("AVAILABLE", "ok"), ("PENDING", "fail"), ("ERROR", "fail")])
@pytest.mark.parametrize("service", ["codeconnections", "codestar-connections"])
def test_the_connection_must_be_available(account, service, status, expected):
    s = settings_for()
    fake.bootstrap(s)
    arn = f"arn:aws:{service}:{s.region}:{ACCOUNT}:connection/6f1c2b0a-4d3e-4a5b-9c8d-1e2f3a4b5c6d"
    s = s.model_copy(update={"ci": s.ci.model_copy(update={"code_connection_arn": arn})})
    answers = fake.Answers().add(service, s.region, "get_connection", fake.connection(arn, status))
    assert statuses(run_check(pf.check_ci, s, answers), "code-connection") == {("code-connection", arn): expected}


# --- alerts and budget ---------------------------------------------------------------------------------


def test_each_slack_workspace_must_be_authorized_for_chatbot(account):
    from infra.settings import SlackChannel

    channel = SlackChannel.model_validate({"workspaceId": "T0123ABCDE", "channelId": "C0123ABCDE"})
    s = settings_for(**{"monitoring.slack_channels": [channel], "monitoring.budget_scope": "account"})
    for present, expected in ((("T0123ABCDE",), "ok"), (("T9999ZZZZZ",), "fail"), ((), "fail")):
        answers = fake.Answers().add("chatbot", s.region, "describe_slack_workspaces", fake.workspaces(*present))
        assert statuses(run_check(pf.check_alerts, s, answers)) == {("chatbot-workspace", "T0123ABCDE"): expected}


@pytest.mark.parametrize(
    ("status", "activates", "expected"),
    [
        ("Active", False, "ok"),
        ("Inactive", False, "fail"),
        ("Inactive", True, "ok"),
        (None, True, "fail"),
        (None, False, "warn"),
    ],
)
def test_a_tag_scoped_budget_needs_its_tag_active(account, status, activates, expected):
    s = settings_for(
        **{
            "monitoring.slack_channels": [],
            "monitoring.budget_scope": "tag",
            "monitoring.activate_environment_tag": activates,
        }
    )
    answers = fake.Answers().add("ce", "us-east-1", "list_cost_allocation_tags", fake.cost_tags(status))
    assert statuses(run_check(pf.check_alerts, s, answers)) == {("cost-allocation-tag", "environment"): expected}
    assert (
        run_check(
            pf.check_alerts, settings_for(**{"monitoring.slack_channels": [], "monitoring.budget_scope": "account"})
        )
        == []
    )


# --- account-wide ----------------------------------------------------------------------------------------


def stack_tags(settings, environment=None) -> list[dict]:
    """The tags the stack's provider puts on what it creates (foundation/conventions.platform_tags)."""
    from foundation.conventions import platform_tags

    tags = platform_tags(environment or settings.environment, settings.owner, settings.cost_center)
    return [{"Key": k, "Value": v} for k, v in tags.items()]


# exists: None (no role), "ours" (made by this stack: its tags), "theirs" (made before it, or by the
# stack of another environment in the same account)
@pytest.mark.parametrize(
    ("exists", "creates", "expected"),
    [
        (None, True, "ok"),
        ("theirs", True, "fail"),
        ("ours", True, "ok"),
        (None, False, "fail"),
        ("theirs", False, "ok"),
    ],
)
def test_the_spot_service_linked_role_is_created_exactly_once(account, exists, creates, expected):
    s = settings_for(**{"training.create_spot_service_linked_role": creates, "training.gpu_pools": [gpu_pool()]})
    if exists:
        # as IAM names it (moto's create_service_linked_role would name it AWSServiceRoleForspot)
        boto3.client("iam").create_role(
            RoleName=facts.SPOT_SERVICE_LINKED_ROLE,
            Path="/aws-service-role/spot.amazonaws.com/",
            AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": []}),
            Tags=stack_tags(s, None if exists == "ours" else "staging"),
        )
    found = run_check(lambda c, a: pf.check_account(c, a, ("eks",)), s)
    assert statuses(found, "spot-role") == {("spot-role", facts.SPOT_SERVICE_LINKED_ROLE): expected}


def test_a_github_provider_the_stack_made_is_not_a_collision(account):
    s = settings_for()
    creates = s.model_copy(
        update={"ci": s.ci.model_copy(update={"oidc_provider_arn": None, "code_connection_arn": None})}
    )
    boto3.client("iam").create_open_id_connect_provider(
        Url="https://token.actions.githubusercontent.com",
        ClientIDList=["sts.amazonaws.com"],
        ThumbprintList=["a" * 40],
        Tags=stack_tags(s),
    )
    assert statuses(run_check(pf.check_ci, creates)) == {("oidc-provider", "ci.oidcProviderArn"): "ok"}


def test_the_services_the_stack_uses_are_offered_in_its_region(account):
    s = settings_for()
    assert statuses(run_check(lambda c, a: pf.check_account(c, a, pf.services_used(s)), s), "region-services") == {
        ("region-services", s.region): "ok"
    }
    missing = run_check(lambda c, a: pf.check_account(c, a, ("eks", "no-such-service")), s)
    found = next(f for f in missing if f.check == "region-services")
    assert found.status == "fail" and "no-such-service" in found.detail and "eks" not in found.detail.split(": ")[1]


# --- the calls, the actions and the CI role -------------------------------------------------------------


def _member(shape, path: str) -> bool:
    for part in path.split("."):
        name = part.removesuffix("[]")
        if shape is None or shape.type_name != "structure" or name not in shape.members:
            return False
        shape = shape.members[name]
        if part.endswith("[]"):
            if shape.type_name != "list":
                return False
            shape = shape.member
    return True


@pytest.mark.parametrize("key", sorted(facts.CALLS))
def test_each_call_its_request_and_what_it_reads_exist_in_botocores_model(key):
    call = facts.CALLS[key]
    model = botocore.session.get_session().get_service_model(call.service)
    assert call.operation in model.operation_names
    op = model.operation_model(call.operation)
    members = op.input_shape.members if op.input_shape else {}
    assert set(call.params) <= set(members), set(call.params) - set(members)
    assert [r for r in call.reads if not _member(op.output_shape, r)] == []


def _arn_pattern(template: str):
    """A Service Authorization Reference ARN template as a regex: a ${Variable} is any text without a
    colon (possibly empty: AWS's public SSM parameters have no account), the last one any text."""
    import re

    parts = re.split(r"\$\{[A-Za-z]+\}", template)
    body = (
        "[^:]*".join(re.escape(p) for p in parts[:-1]) + ".*" + re.escape(parts[-1])
        if len(parts) > 1
        else re.escape(template)
    )
    return re.compile(body + "$")


def test_every_scoped_resource_is_an_arn_of_its_actions_resource_type():
    from foundation.iam.ci import preflight_statements
    from foundation.iam.scope import Scope

    sar = json.loads((ROOT / "foundation" / "upstream" / "provider_actions.json").read_text())["preflight"]
    for st in preflight_statements(Scope("dev", ACCOUNT, "eu-west-1")):
        for action in st.actions:
            for resource in (r for r in st.resources if r != "*"):
                assert any(_arn_pattern(t).match(resource) for t in sar[action]["arns"]), (action, resource)
    assert not _arn_pattern("arn:${Partition}:s3:::${BucketName}").match("arn:aws:s3:eu-west-1::bucket")


def test_refused_credentials_stop_preflight_whatever_the_call():
    from botocore.stub import Stubber

    def expired(service, region):
        client = boto3.client(service, region_name=region, aws_access_key_id="x", aws_secret_access_key="y")
        stubber = Stubber(client)
        stubber.add_client_error("get_caller_identity", service_error_code="ExpiredToken", http_status_code=403)
        stubber.activate()
        return client

    with pytest.raises(pf.PreflightError, match="refused \\(ExpiredToken\\): export a fresh session"):
        pf.check_caller(pf.Context("dev", settings_for()), pf.Account("eu-west-1", expired))


def test_every_action_is_a_read_and_the_policy_grants_exactly_them():
    from foundation.iam.ci import NEEDS_NO_PERMISSION, preflight_statements
    from foundation.iam.scope import Scope

    sar = json.loads((ROOT / "foundation" / "upstream" / "provider_actions.json").read_text())["preflight"]
    assert sorted(sar) == facts.actions()
    assert {a: v["access"] for a, v in sar.items() if v["access"] not in ("Read", "List")} == {}
    statements = preflight_statements(Scope("dev", ACCOUNT, "eu-west-1"))
    granted = [a for st in statements for a in st.actions]
    assert sorted(granted) == sorted(set(facts.actions()) - NEEDS_NO_PERMISSION)
    for st in statements:
        if "*" in st.resources:  # only actions IAM authorizes on no resource type
            assert [a for a in st.actions if set(sar[a]["resource_types"]) != {""}] == []


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_the_deploy_role_under_its_boundary_may_make_every_read_of_its_stack(stack):
    """The deploy workflow runs preflight as ci-deploy: each read is allowed on what it reads, after
    the deploy boundary and its denies (iam-ape, tests/upstream/effective.py)."""
    from foundation.conventions import state_bucket_name
    from foundation.iam.ci import NEEDS_NO_PERMISSION
    from tests.plans import stack_plan
    from tests.upstream.effective import effective

    s = stack_settings(stack, ROOT)
    deploy = effective(stack_plan(stack)).get(f"mlplatform-{stack}-ci-deploy")
    if deploy is None:
        pytest.skip("this stack has no CI roles (no ci.githubRepository)")
    a, r = s.account_id, s.region
    read = {
        "s3:ListBucket": f"arn:aws:s3:::{state_bucket_name(s.environment, a, r)}",
        "iam:GetOpenIDConnectProvider": s.ci.oidc_provider_arn,
        "iam:GetRole": f"arn:aws:iam::{a}:role/aws-service-role/spot.amazonaws.com/{facts.SPOT_SERVICE_LINKED_ROLE}",
        "codeconnections:GetConnection": f"arn:aws:codeconnections:{r}:{a}:connection/x",
        "codestar-connections:GetConnection": f"arn:aws:codestar-connections:{r}:{a}:connection/x",
        "servicequotas:GetServiceQuota": f"arn:aws:servicequotas:{r}:{a}:ec2/L-3819A6DF",
        "ssm:GetParameters": f"arn:aws:ssm:{r}::parameter{pf.node_image_parameters(s)[0]}",
        "ssm:GetParametersByPath": f"arn:aws:ssm:{facts.REGION_SERVICES_QUERIED_IN}::parameter"
        + facts.REGION_SERVICES_PATH.format(region=r),
        "kms:DescribeKey": f"arn:aws:kms:{r}:{a}:key/0b3c8d2e-0000-4000-8000-000000000000",
    }
    denied = [x for x in facts.actions() if x not in NEEDS_NO_PERMISSION and not deploy.allows(x, read.get(x, "*"))]
    assert denied == []
    # reads, not the services around them: no quota increase, no connection use, no other quotas
    assert not deploy.allows(
        "servicequotas:RequestServiceQuotaIncrease", f"arn:aws:servicequotas:{r}:{a}:ec2/L-3819A6DF"
    )
    assert not deploy.allows("servicequotas:GetServiceQuota", f"arn:aws:servicequotas:{r}:{a}:iam/L-FE177D64")
    assert not deploy.allows("codeconnections:UseConnection", f"arn:aws:codeconnections:{r}:{a}:connection/x")


# --- the command -----------------------------------------------------------------------------------------


def test_the_command_reports_and_exits_by_the_worst_finding(account, monkeypatch, capsys, tmp_path):
    from pipelines.cli import main

    dev = stack_settings("dev", ROOT)
    families, gpu_families, types = moto_families(dev)
    tr = dev.training
    offered = (
        all(set(p.instance_families) & gpu_families for p in tr.gpu_pools)
        and set(tr.cpu_pool.instance_families) & families
        and set(tr.system_nodes.instance_types) & types
    )
    if dev.account_id != ACCOUNT or not tr.gpu_pools or not dev.ci.code_connection_arn or not offered:
        pytest.skip("this checkout's dev differs from the example (account, GPU pool, connection, pools moto offers)")
    backend = fake.bootstrap(dev)
    for connection, vcpus, expected in (("PENDING", None, 1), ("AVAILABLE", 100_000, 0)):
        answers = full_answers(dev, vcpus=vcpus, endpoint_instances=100, connection_status=connection)
        monkeypatch.setattr(preflight_account_module, "_boto3_client", fake.FakeAccount(answers))
        out = tmp_path / f"{connection}.md"
        argv = ["preflight", "dev", "--format", "markdown", "-o", str(out), "--backend-url", backend]
        assert main([*argv, "--project-dir", str(ROOT)]) == expected
        report = out.read_text()
        assert report.startswith("### Preflight of dev: ")
        assert ("| ❌ | code-connection |" in report) == (connection == "PENDING")
    capsys.readouterr()
    answers = full_answers(dev, vcpus=100_000, endpoint_instances=100, connection_status="AVAILABLE")
    monkeypatch.setattr(preflight_account_module, "_boto3_client", fake.FakeAccount(answers))
    assert main(["preflight", "dev", "--format", "json", "--backend-url", backend, "--project-dir", str(ROOT)]) == 0
    parsed = json.loads(capsys.readouterr().out)["dev"]
    assert parsed["summary"].startswith("0 failed")
    connection = next(f for f in parsed["findings"] if f["check"] == "code-connection")
    assert (connection["subject"], connection["status"]) == (dev.ci.code_connection_arn, "ok")


def test_the_command_without_credentials_exits_2_and_says_so(no_aws_credentials, capsys):
    from pipelines.cli import main

    assert main(["preflight", "dev", "--project-dir", str(ROOT)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("mlplatform: no AWS credentials") and "Traceback" not in err


def test_the_policy_option_prints_the_reads_and_calls_nothing(monkeypatch, capsys):
    from foundation.iam.ci import preflight_statements
    from foundation.iam.scope import Scope
    from pipelines.cli import main

    monkeypatch.setattr(preflight_account_module, "_boto3_client", lambda *_: pytest.fail("--policy made an AWS call"))
    assert main(["preflight", "dev", "--policy", "--project-dir", str(ROOT)]) == 0
    s = stack_settings("dev", ROOT)
    printed = json.loads(capsys.readouterr().out)
    assert printed["Statement"] == [x.render() for x in preflight_statements(Scope("dev", s.account_id, s.region))]


def test_the_backend_is_found_where_the_pulumi_cli_finds_it(tmp_path):
    creds = tmp_path / "home" / ".pulumi" / "credentials.json"
    creds.parent.mkdir(parents=True)
    creds.write_text(json.dumps({"current": "s3://from-login", "accessTokens": {}}))
    home = tmp_path / "home"
    assert pf.backend("s3://given", {"PULUMI_BACKEND_URL": "s3://env"}, home, {}) == ("s3://given", "--backend-url")
    assert (
        pf.backend(None, {"PULUMI_BACKEND_URL": "s3://env"}, home, {"backend": {"url": "s3://yaml"}})[0] == "s3://env"
    )
    assert pf.backend(None, {}, home, {"backend": {"url": "s3://yaml"}})[0] == "s3://yaml"
    assert pf.backend(None, {}, home, {})[0] == "s3://from-login"
    assert pf.backend(None, {"PULUMI_HOME": str(tmp_path / "elsewhere")}, home, {}) == (None, "")
    creds.write_text("not json: an encrypted envelope")
    assert pf.backend(None, {}, home, {}) == (None, "")


def test_an_undeclared_request_member_is_refused_before_any_call():
    account = pf.Account("eu-west-1", lambda *_: pytest.fail("a client was made"))
    with pytest.raises(ValueError, match="not declared"):
        account.call("sts.GetCallerIdentity", DurationSeconds=900)


def test_the_deploying_page_lists_exactly_the_actions_preflight_needs():
    page = (ROOT / "docs" / "deploying.md").read_text()
    section = page[page.index("<!-- preflight-actions -->") :].split("\n\n", 1)[0]
    import re

    assert sorted(set(re.findall(r"`([a-z0-9-]+:[A-Za-z]+)`", section))) == facts.actions()


@pytest.mark.parametrize(
    ("service", "shape", "values"),
    [
        ("codeconnections", "ConnectionStatus", {"AVAILABLE", "PENDING"}),
        ("codestar-connections", "ConnectionStatus", {"AVAILABLE", "PENDING"}),
        ("ce", "CostAllocationTagStatus", {"Active", "Inactive"}),
        ("kms", "KeyState", {"Enabled"}),
        ("kms", "KeyUsageType", {"ENCRYPT_DECRYPT"}),
        ("eks", "VersionStatus", {"STANDARD_SUPPORT", "EXTENDED_SUPPORT"}),
        ("ec2", "LocationType", {"availability-zone"}),
    ],
)
def test_the_values_the_checks_compare_with_are_in_botocores_enums(service, shape, values):
    """pipelines/preflight/ compares response members with these literals."""
    enum = botocore.session.get_session().get_service_model(service).shape_for(shape).enum
    assert values <= set(enum)
    source = "".join(p.read_text() for p in (ROOT / "pipelines" / "preflight").glob("*.py"))
    assert all(f'"{v}"' in source for v in values)


def test_preflight_checks_exactly_the_add_ons_the_cluster_installs(any_plan):
    installed = {r.inputs["addonName"] for r in any_plan.of_type("aws:eks/addon:Addon")}
    assert installed == set(EKS_ADDONS)


def test_an_unknown_region_in_the_backend_url_is_a_warning_not_a_traceback(account):
    s = settings_for()
    found = run_check(
        pf.check_state,
        s,
        backend_url="s3://state?region=not a region",
        secrets_provider="awskms://alias/x?region=nor this",
    )
    assert {f.check: f.status for f in found} == {"state-backend": "warn", "secrets-key": "warn"}
    assert all("could not check" in f.detail for f in found)


def test_the_bootstrap_project_is_refused_with_a_message(capsys):
    from pipelines.cli import main

    assert main(["preflight", "dev", "--project-dir", str(ROOT / "bootstrap")]) == 2
    assert "preflight checks the platform's stacks" in capsys.readouterr().err
