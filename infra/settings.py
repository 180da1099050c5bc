"""Typed, validated stack settings.

Every key a stack configures lives under the ``mlplatform`` namespace of its
``stacks/Pulumi.<stack>.yaml``. Unknown keys are errors, so a typo never silently falls back to a
default. A bad configuration raises one :class:`SettingsError` listing every problem with the
setting's path, what is wrong and what is allowed.
"""

from __future__ import annotations

import difflib
import functools
import ipaddress
import json
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal, get_args, get_origin

import pulumi
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, model_validator
from pydantic.alias_generators import to_camel

from infra.stackfile import SECRET_PLACEHOLDER

NAMESPACE = "mlplatform"
ENVIRONMENTS = ("dev", "staging", "prod")
PROTECTED_ENVIRONMENTS = ("staging", "prod")

# EKS versions in standard support that the platform's add-on pins are tested with.
SUPPORTED_KUBERNETES_VERSIONS = ("1.32", "1.33", "1.34", "1.35")
# The values CloudWatch Logs accepts for a retention period.
LOG_RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096,
                      1827, 2192, 2557, 2922, 3288, 3653)  # fmt: skip

DEFAULT_KEY_DOMAINS = ("data", "models", "logs", "cluster")


class SettingsError(pulumi.RunError):
    """A stack's configuration is invalid. A RunError, so `pulumi up` prints it without a traceback."""

    def __init__(self, stack: str, problems: list[tuple[str, str]]):
        self.stack = stack
        self.problems = problems
        lines = [
            f"stack '{stack}' (stacks/Pulumi.{stack}.yaml) has "
            f"{len(problems)} invalid setting{'s' if len(problems) != 1 else ''}:"
        ]
        lines += [f"  - {path}: {message}" for path, message in problems]
        super().__init__("\n".join(lines))


# --- field types with messages that say what is allowed -------------------------------------


# SECRET_PLACEHOLDER is what the offline runner puts in place of a `secure:` value it cannot decrypt
# (infra/stackfile.py): its format cannot be checked offline, so it passes; the engine gives the
# program the real value.


def _matches(pattern: str, allowed: str):
    regex = re.compile(pattern)

    def check(value: str) -> str:
        if value != SECRET_PLACEHOLDER and not regex.fullmatch(value):
            raise ValueError(f"{value!r} is not valid; expected {allowed}")
        return value

    check.allowed = allowed  # the rule in words, for docs/configuration.md (pipelines/reference.py)
    check.pattern = pattern  # for property tests that generate accepted values (tests/invariants/test_names.py)
    return AfterValidator(check)


def _one_of(allowed: tuple, what: str):
    def check(value):
        if value not in allowed:
            raise ValueError(f"{value!r} is not {what}; allowed: {', '.join(map(str, allowed))}")
        return value

    check.allowed = ", ".join(f"`{a}`" for a in allowed)
    return AfterValidator(check)


def _private_cidr(value: str) -> str:
    try:
        net = ipaddress.IPv4Network(value, strict=True)
    except ValueError as err:
        raise ValueError(f"{value!r} is not an IPv4 network in CIDR notation ({err})") from None
    if not 16 <= net.prefixlen <= 20:
        raise ValueError(f"{value} has prefix /{net.prefixlen}; allowed: /16 to /20 (pods take VPC addresses)")
    if not net.is_private:
        raise ValueError(f"{value} is not a private (RFC 1918) range")
    return str(net)


_private_cidr.allowed = "a private (RFC 1918) IPv4 range, /16 to /20"


def _public_cidr(value: str) -> str:
    try:
        net = ipaddress.IPv4Network(value, strict=True)
    except ValueError as err:
        raise ValueError(f"{value!r} is not an IPv4 network in CIDR notation ({err})") from None
    if net.prefixlen == 0:
        raise ValueError("0.0.0.0/0 opens the endpoint to the internet; name your office or VPN ranges")
    # RFC 5737 documentation ranges are placeholders: nobody's office is there.
    if any(net.subnet_of(ipaddress.IPv4Network(doc)) for doc in ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24")):
        raise ValueError(f"{net} is a documentation range (RFC 5737), not a real one; name your office or VPN ranges")
    if not net.is_global:
        raise ValueError(f"{net} is not a public range; the public endpoint is reached from the internet")
    return str(net)


_public_cidr.allowed = "a public IPv4 range: not 0.0.0.0/0, documentation (RFC 5737) or private ranges"


def _unique(values: list) -> list:
    dupes = sorted({v for v in values if values.count(v) > 1}, key=str)
    if dupes:
        raise ValueError(f"duplicate entries: {', '.join(map(str, dupes))}")
    return values


# Names end up in physical names (mlplatform-<env>-...): single separators only (physical_name's rule).
_NAME_RULE = "lowercase letters, digits and single hyphens, 2-32 characters, starting with a letter"
Name = Annotated[str, _matches(r"(?=.{2,32}$)[a-z](-?[a-z0-9]){1,31}", _NAME_RULE)]


@functools.cache
def known_regions() -> frozenset[str]:
    """Every region of every AWS partition, from the botocore installed with boto3 (its
    data/partitions.json): a newer region needs a newer boto3, not a code change."""
    import botocore

    data = json.loads((Path(botocore.__file__).parent / "data" / "partitions.json").read_text())
    return frozenset(r for p in data["partitions"] for r in p.get("regions", {}) if not r.endswith("-global"))


def _existing_region(value: str) -> str:
    if value not in known_regions():
        close = difflib.get_close_matches(value, sorted(known_regions()), n=1, cutoff=0.8)
        hint = f"; did you mean {close[0]}?" if close else " (botocore's partitions.json lists every region)"
        raise ValueError(f"{value!r} is not an AWS region{hint}")
    return value


Region = Annotated[
    str,
    _matches(r"[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d", "an AWS region such as eu-west-1"),
    AfterValidator(_existing_region),
]


def check_region(value: str) -> str:
    """``value`` when it is an AWS region, checked as a stack's ``region`` setting is (the Region type);
    else a ValueError with the setting's message (a did-you-mean from botocore's partition data). For
    commands that take a region outside a stack, e.g. `mlplatform prices refresh --region`."""
    try:
        return TypeAdapter(Region).validate_python(value)
    except ValidationError as err:
        raise ValueError(_message(err.errors(include_url=False)[0], Settings)) from None


AccountId = Annotated[str, _matches(r"\d{12}", "a 12-digit AWS account id (quote it in YAML)")]
TagValue = Annotated[str, _matches(r"[\w .:/=+\-@]{1,256}", "1-256 letters, digits, spaces or _.:/=+-@")]
Email = Annotated[str, _matches(r"[^@\s]+@[^@\s]+\.[a-z]{2,}", "an email address such as ml-oncall@example.com")]
GithubRepository = Annotated[str, _matches(r"[A-Za-z0-9-]+/[A-Za-z0-9_.-]+", "owner/name of a GitHub repository")]
# mlplatform-<environment>-<family> names its model package group (SageMaker EntityName: 63 at most), and
# staging is the longest environment: 63 - len("mlplatform-staging-") = 44.
_FAMILY_RULE = "lowercase letters, digits and single hyphens, at most 44 characters"
ModelFamily = Annotated[str, _matches(r"(?=.{1,44}$)[a-z0-9](-?[a-z0-9]){0,43}", _FAMILY_RULE)]
_NAMESPACE_RULE = (
    "a Kubernetes namespace name (DNS label) that also names the team's role: lowercase letters, digits and single "
    "hyphens, at most 63"
)
Namespace = Annotated[str, _matches(r"(?=.{1,63}$)[a-z0-9](-?[a-z0-9]){0,62}", _NAMESPACE_RULE)]


class _Section(BaseModel):
    # A field's docstring is its description: in the JSON Schema editors show, and in
    # docs/configuration.md (pipelines/reference.py), which fails on a setting without one.
    model_config = ConfigDict(
        # One spelling per setting, the camelCase one the schema and docs use: a snake_case key is unknown.
        extra="forbid",
        alias_generator=to_camel,
        validate_by_alias=True,
        validate_by_name=False,
        frozen=True,
        use_attribute_docstrings=True,
    )


class EncryptionSettings(_Section):
    key_deletion_window_days: int = Field(30, ge=7, le=30)
    """Days a KMS key scheduled for deletion can still be recovered."""
    key_rotation_period_days: int = Field(365, ge=90, le=2560)
    """How often the KMS keys rotate (rotation is always on)."""
    additional_domains: Annotated[list[Name], AfterValidator(_unique)] = Field(default_factory=list)
    """A key per extra data domain (for example `pii`), for applications outside the platform: no platform role is
    granted it. Not `data`, `models`, `logs` or `cluster`, the platform's own domains."""

    @model_validator(mode="after")
    def _no_clash(self) -> EncryptionSettings:
        clash = sorted(set(self.additional_domains) & set(DEFAULT_KEY_DOMAINS))
        if clash:
            taken = ", ".join(DEFAULT_KEY_DOMAINS)
            raise _CrossFieldError.one("additionalDomains", f"{', '.join(clash)} are platform domains ({taken})")
        return self

    @property
    def domains(self) -> tuple[str, ...]:
        return DEFAULT_KEY_DOMAINS + tuple(self.additional_domains)


class NetworkSettings(_Section):
    cidr: Annotated[str, AfterValidator(_private_cidr)] = "10.0.0.0/16"
    """The VPC's range; each zone gets an eighth of it for private subnets."""
    availability_zones: Annotated[list[str], AfterValidator(_unique)] = Field(min_length=2, max_length=6)
    """Zones of `region`, each with a private and a public subnet."""
    nat_gateways: Literal["single", "per-az"] = "per-az"
    """One NAT gateway, or one per zone (`per-az`, required in prod)."""
    private_endpoints: bool = False
    """Interface endpoints for everything a private cluster calls (EC2, ECR, Elastic Load Balancing, CloudWatch Logs,
    STS, EKS, EKS Auth, SSM, SQS, SageMaker), so nodes and pods reach AWS without NAT."""


class StorageSettings(_Section):
    raw_infrequent_access_after_days: int = Field(30, ge=30, le=3650)
    """Raw bucket: days before objects move to STANDARD_IA."""
    raw_archive_after_days: int = Field(90, ge=31, le=3650)
    """Raw bucket: days before objects move to GLACIER_IR; greater than `rawInfrequentAccessAfterDays`."""
    noncurrent_version_expiry_days: int = Field(90, ge=1, le=3650)
    """Lake buckets: days before noncurrent versions expire."""
    abort_incomplete_uploads_after_days: int = Field(7, ge=1, le=30)
    """Lake buckets: days before incomplete multipart uploads are aborted."""
    artifact_object_lock_days: int = Field(0, ge=0, le=3650)
    """GOVERNANCE-mode object lock of the artifacts bucket, in days; 0 turns it off."""

    @model_validator(mode="after")
    def _archive_after_ia(self) -> StorageSettings:
        if self.raw_archive_after_days <= self.raw_infrequent_access_after_days:
            ia, archive = self.raw_infrequent_access_after_days, self.raw_archive_after_days
            raise _CrossFieldError.one(
                "rawArchiveAfterDays", f"must be greater than rawInfrequentAccessAfterDays ({ia}), got {archive}"
            )
        return self


class FeatureStoreSettings(_Section):
    feature_groups: Annotated[list[Name], AfterValidator(_unique)] = Field(default_factory=list)
    """The feature groups of this stack: names of files in `stacks/features/` (without `.yaml`)."""
    online_store: bool = True
    """`false` turns every group's online store off (offline store only)."""


DatasetName = Annotated[
    str, _matches(r"(?=.{1,63}$)[a-z](_?[a-z0-9]){0,62}", "lowercase letters, digits and single '_'")
]


class DataQualitySettings(_Section):
    # Datasets (stacks/datasets/<name>.yaml) whose catalog tables and quality rulesets this stack has.
    datasets: Annotated[list[DatasetName], AfterValidator(_unique)] = Field(default_factory=list)
    """The datasets whose catalog tables and quality rulesets this stack has: names of files in `stacks/datasets/`
    (without `.yaml`)."""


class TeamSettings(_Section):
    # At most 30 characters so that mlplatform-<env>-training-<team> fits IAM's 64.
    name: Annotated[Namespace, Field(max_length=30)]
    """A team: its namespace and its `training-<team>` role (at most 30 characters, so the role name fits IAM's 64)."""
    gpu_quota: int = Field(0, ge=0, le=1024)
    """The team's GPU quota (`requests.nvidia.com/gpu`); at most the GPU pools' total."""
    cpu_quota: int = Field(64, ge=1, le=100_000)
    """The team's CPU quota (cores)."""
    memory_quota_gi: int = Field(256, ge=1, le=1_000_000)
    """The team's memory quota (GiB)."""


IamPrincipalArn = Annotated[
    str,
    _matches(
        r"arn:aws(-[a-z-]+)?:iam::\d{12}:(root|role/[\w+=,.@/-]+|user/[\w+=,.@/-]+)",
        "an IAM role, user or account-root ARN such as arn:aws:iam::123456789012:role/ml-approvers",
    ),
]
# GPU instance families Karpenter may launch for training, with the GPUs of their largest size.
GPU_FAMILIES = {"g4dn": 8, "g5": 8, "g6": 8, "g6e": 8, "gr6": 1, "p4d": 8, "p4de": 8, "p5": 8, "p5e": 8, "p5en": 8}
CPU_FAMILY = r"[cmr][5-8][a-z]*"  # general purpose, compute and memory optimised families


class GpuPoolSettings(_Section):
    name: Name
    """The GPU NodePool's name (the NodePool is named exactly this)."""
    instance_families: Annotated[
        list[Annotated[str, _one_of(tuple(GPU_FAMILIES), "a GPU family")]], AfterValidator(_unique)
    ] = Field(min_length=1)
    """GPU instance families the pool may launch."""
    capacity_types: Annotated[list[Literal["spot", "on-demand"]], AfterValidator(_unique)] = Field(min_length=1)
    """Capacity of the pool (spot preferred when both)."""
    gpu_limit: int = Field(ge=1, le=4096)
    """`limits.nvidia.com/gpu` of the pool: most GPUs it may run at once."""


class CpuPoolSettings(_Section):
    instance_families: Annotated[
        list[Annotated[str, _matches(CPU_FAMILY, "a CPU family such as m6i, c7i or r6i")]], AfterValidator(_unique)
    ] = Field(default_factory=lambda: ["m6i", "m7i", "c6i", "c7i", "r6i"], min_length=1)
    """Instance families of Karpenter's CPU NodePool (`c`, `m`, `r`, generations 5–8)."""
    capacity_types: Annotated[list[Literal["spot", "on-demand"]], AfterValidator(_unique)] = Field(
        default_factory=lambda: ["spot", "on-demand"], min_length=1
    )
    """Capacity of the CPU NodePool (spot preferred when both)."""
    cpu_limit: int = Field(256, ge=1, le=100_000)
    """Most vCPUs the CPU pool may run at once."""


class SystemNodesSettings(_Section):
    instance_types: Annotated[
        list[Annotated[str, _matches(r"[a-z][a-z0-9-]*\.[a-z0-9]+", "an instance type such as m6i.large")]],
        AfterValidator(_unique),
    ] = Field(default_factory=lambda: ["m6i.large"], min_length=1)
    """The on-demand system node group (CoreDNS, Karpenter, operators)."""
    min_size: int = Field(2, ge=1, le=20)
    """System node group: fewest nodes."""
    desired_size: int = Field(2, ge=1, le=20)
    """System node group: nodes to start with; between `minSize` and `maxSize`."""
    max_size: int = Field(4, ge=1, le=20)
    """System node group: most nodes."""
    disk_gi: int = Field(50, ge=20, le=1000)
    """System nodes' encrypted gp3 root volume, in GiB."""

    @model_validator(mode="after")
    def _ordered(self) -> SystemNodesSettings:
        if not self.min_size <= self.desired_size <= self.max_size:
            raise _CrossFieldError.one(
                "desiredSize", f"must be between minSize ({self.min_size}) and maxSize ({self.max_size})"
            )
        return self


def _verified(setting: str):
    """A pinned version must have verified upstream facts (foundation/upstream): a bump that skips
    re-reading them is refused, naming the facts to re-verify."""

    def check(version: str) -> str:
        from foundation.upstream import stale

        problem = stale(setting, version)
        if problem:
            raise ValueError(problem)
        return version

    check.allowed = "with verified upstream facts (foundation/upstream/)"
    return AfterValidator(check)


ChartVersion = Annotated[str, _matches(r"\d+\.\d+\.\d+", "a chart version such as 1.11.1")]


class ChartSettings(_Section):
    # Pinned chart versions: promoted from dev to prod like code.
    karpenter: Annotated[ChartVersion, _verified("training.charts.karpenter")] = "1.11.1"
    """Karpenter chart and CRDs (pinned; promoted like code)."""
    nvidia_device_plugin: Annotated[ChartVersion, _verified("training.charts.nvidiaDevicePlugin")] = "0.17.1"
    """NVIDIA device plugin chart."""
    kuberay_operator: Annotated[ChartVersion, _verified("training.charts.kuberayOperator")] = "1.5.1"
    """KubeRay operator chart."""


class TrainingSettings(_Section):
    kubernetes_version: Annotated[str, _one_of(SUPPORTED_KUBERNETES_VERSIONS, "a supported EKS version")] = "1.34"
    """Kubernetes version of the EKS control plane and nodes (versions in EKS standard support)."""
    endpoint_public_access: bool = False
    """Opens the EKS API endpoint to `publicAccessCidrs`; only in dev (staging and prod refuse it)."""
    public_access_cidrs: list[Annotated[str, AfterValidator(_public_cidr)]] = Field(default_factory=list)
    """Where the public EKS endpoint may be reached from; required when the endpoint is public."""
    # IAM principals that administer the cluster (EKS access entries with the cluster-admin policy).
    admin_principals: Annotated[list[IamPrincipalArn], AfterValidator(_unique)] = Field(default_factory=list)
    """IAM principals that administer the cluster: EKS access entries with the cluster-admin policy (`ci-deploy` is
    added)."""
    system_nodes: SystemNodesSettings = SystemNodesSettings()
    cpu_pool: CpuPoolSettings = CpuPoolSettings()
    gpu_pools: list[GpuPoolSettings] = Field(default_factory=list)
    distributed_training_operator: Literal["kuberay", "none"] = "kuberay"
    """The distributed-training operator installed in the cluster (KubeRay), or none."""
    charts: ChartSettings = ChartSettings()
    teams: list[TeamSettings] = Field(default_factory=list)
    # The AL2023 release Karpenter's nodes boot (awslabs/amazon-eks-ami tags): pinned, and promoted
    # like a chart, because `al2023@latest` replaces every node when AWS publishes an AMI.
    node_image: Annotated[str, _matches(r"al2023@v\d{8}", "a pinned AL2023 release such as al2023@v20260714")] = (
        "al2023@v20260714"
    )
    """The AL2023 release (an amazon-eks-ami tag) Karpenter's nodes boot, pinned and promoted like a chart: `@latest`
    would replace every node when AWS publishes an AMI."""
    # EC2 needs the account's Spot service-linked role (AWSServiceRoleForEC2Spot) for spot capacity;
    # false when the account already has it (another stack or a person created it).
    create_spot_service_linked_role: bool = True
    """Creates the EC2 Spot service-linked role spot capacity needs; `false` when the account already has
    `AWSServiceRoleForEC2Spot`."""

    @model_validator(mode="after")
    def _consistent(self) -> TrainingSettings:
        problems = []
        for what, names in (("teams", [t.name for t in self.teams]), ("gpuPools", [p.name for p in self.gpu_pools])):
            try:
                _unique(names)
            except ValueError as err:
                problems.append((what, str(err)))
        total = sum(p.gpu_limit for p in self.gpu_pools)
        for i, team in enumerate(self.teams):
            if team.gpu_quota > total:
                problems.append(
                    (f"teams[{i}].gpuQuota", f"{team.gpu_quota} is more than the GPU pools can run ({total} in all)")
                )
        if problems:
            raise _CrossFieldError(problems)
        return self


class RegistrySettings(_Section):
    model_families: Annotated[list[ModelFamily], AfterValidator(_unique)] = Field(default_factory=list)
    """A model package group `mlplatform-<env>-<family>` each."""
    keep_tagged_images: int = Field(20, ge=1, le=1000)
    """ECR lifecycle: the newest N tagged images are kept."""
    untagged_image_expiry_days: int = Field(7, ge=1, le=365)
    """ECR lifecycle: days before untagged images expire."""
    # Accounts that may describe and use this registry's model packages (e.g. prod reading a shared one).
    consumer_accounts: Annotated[list[AccountId], AfterValidator(_unique)] = Field(default_factory=list)
    """Accounts (not the stack's own) that may describe the packages and deploy them (`CreateModel`)."""


MLFLOW_VERSIONS = ("2.13", "2.16", "3.0")


class ExperimentsSettings(_Section):
    tracking_server_size: Literal["Small", "Medium", "Large"] = "Small"
    """Size of the MLflow tracking server."""
    mlflow_version: Annotated[str, _one_of(MLFLOW_VERSIONS, "an MLflow version SageMaker offers")] = "3.0"
    """MLflow version of the tracking server (match your client: `mlflow==<version>.*`)."""
    # Register models logged to MLflow in the SageMaker model registry automatically.
    automatic_model_registration: bool = False
    """Models registered in MLflow become SageMaker model packages."""
    weekly_maintenance_window_start: Annotated[
        str, _matches(r"(Mon|Tue|Wed|Thu|Fri|Sat|Sun):([01]\d|2[0-3]):[0-5]\d", "a day and UTC time such as Sun:02:00")
    ] = "Sun:02:00"
    """Start of the MLflow tracking server's weekly maintenance window (`Ddd:HH:MM`, UTC)."""


class SlackChannel(_Section):
    workspace_id: Annotated[str, _matches(r"T[A-Z0-9]{8,11}", "a Slack workspace (team) id such as T0123ABCDE")]
    """Slack workspace AWS Chatbot posts the alerts to (authorize it once in the Chatbot console)."""
    channel_id: Annotated[str, _matches(r"[CG][A-Z0-9]{8,11}", "a Slack channel id such as C0123ABCDE")]
    """The alerts channel in that workspace."""


FeatureColumn = Annotated[
    str, _matches(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,100}", "a feature (column) name of the baseline")
]


class DriftAlarmSettings(_Section):
    """Drift alarms of one model family, on every monitored endpoint that serves it: the drift job's PSI per
    feature (functions/drift), or Model Monitor's distance where an endpoint opted in."""

    model_family: ModelFamily
    """A family of `registry.modelFamilies` or `serving.modelVersions`: drift alarms on every endpoint of the family
    that has a `monitor` (none: said in the plan's `driftNotMeasured`)."""
    features: Annotated[list[FeatureColumn], AfterValidator(_unique)] = Field(min_length=1)
    """Features of the baseline: an alarm each on the drift job's `FeatureDrift` (namespace `mlplatform/Drift`,
    dimension `Feature`), or Model Monitor's `feature_baseline_drift_<feature>`."""
    threshold: float = Field(ge=0, le=1)
    """The alarm fires when a window's distance from the baseline is above it (PSI: below 0.1 no significant shift,
    0.1-0.25 moderate, above 0.25 significant)."""
    evaluation_periods: int = Field(3, ge=1, le=24)
    """Consecutive windows (hours or days) above the threshold before the alarm fires; at most 7 days of them
    (CloudWatch's limit)."""


class MonitoringChartSettings(_Section):
    kube_prometheus_stack: Annotated[ChartVersion, _verified("monitoring.charts.kubePrometheusStack")] = "80.7.0"
    """kube-prometheus-stack chart: Prometheus, Alertmanager, Grafana."""
    dcgm_exporter: Annotated[ChartVersion, _verified("monitoring.charts.dcgmExporter")] = "4.1.1"
    """NVIDIA DCGM exporter chart."""


class MonitoringSettings(_Section):
    log_retention_days: Annotated[int, _one_of(LOG_RETENTION_DAYS, "a retention CloudWatch Logs accepts")] = 365
    """Retention of the log groups, and expiry of the access logs."""
    monthly_budget_usd: float = Field(1000, gt=0, le=10_000_000)
    """The environment's AWS Budget, in USD a month."""
    # What the budget counts: the whole account (one environment per account), or the costs tagged
    # environment=<env> (environments sharing an account; the tag must be an active cost allocation tag).
    budget_scope: Literal["account", "tag"] = "account"
    """What the budget counts: the stack's account, or costs tagged `environment=<env>` (accounts shared by
    environments; the tag must be an active cost allocation tag)."""
    # Activate `environment` as a cost allocation tag from this stack: only in a management or
    # standalone account (members cannot; activate it in the payer account instead).
    activate_environment_tag: bool = False
    """Activates `environment` as a cost allocation tag from this stack; only in a management or standalone account
    (members cannot)."""
    alert_emails: Annotated[list[Email], AfterValidator(_unique)] = Field(default_factory=list)
    """Email subscribers of the alert topic (each confirms once)."""
    # Slack channels AWS Chatbot posts the alerts to (the workspace authorized once in its console).
    slack_channels: list[SlackChannel] = Field(default_factory=list)
    drift: list[DriftAlarmSettings] = Field(default_factory=list)
    # The GPU pools at their limits (on-demand, `mlplatform cost`) may cost at most this many times the
    # monthly budget (policy cost-gpu-ceiling-within-budget: mandatory in prod, advisory elsewhere).
    gpu_ceiling_budget_factor: float = Field(3, gt=0, le=1000)
    """The GPU pools at their limits (on demand, `mlplatform cost`) may cost at most this many times `monthlyBudgetUsd`
    (policy: mandatory in prod, advisory elsewhere)."""
    # What the stack may cost a month with nothing running (policy cost-idle-within-budget); None: no cap.
    idle_budget_usd: float | None = Field(None, gt=0, le=10_000_000)
    """What the stack may cost a month with nothing running (policy `cost-idle-within-budget`); none: no cap."""
    prometheus_retention_days: int = Field(15, ge=1, le=365)
    """Days Prometheus keeps its data."""
    prometheus_storage_gi: int = Field(50, ge=10, le=10_000)
    """Prometheus's volume (encrypted gp3), in GiB."""
    charts: MonitoringChartSettings = MonitoringChartSettings()


EndpointName = Annotated[
    str,
    _matches(
        r"(?=.{1,30}$)[a-z0-9](-?[a-z0-9]){0,29}", "lowercase letters, digits and single hyphens, at most 30 characters"
    ),
]


@functools.cache
def sagemaker_instance_types(shape: str) -> tuple[str, ...]:
    """The instance types SageMaker accepts where ``shape`` is used, from the botocore service model
    installed with boto3 (ProductionVariantInstanceType for endpoints, ProcessingInstanceType for
    Model Monitor's jobs): a newer type needs a newer boto3, not a code change."""
    from botocore.session import get_session

    return tuple(get_session().get_service_model("sagemaker").shape_for(shape).enum)


def _sagemaker_type(shape: str, what: str):
    def check(value: str) -> str:
        known = sagemaker_instance_types(shape)
        if value != SECRET_PLACEHOLDER and value not in known:
            close = difflib.get_close_matches(value, known, n=1, cutoff=0.8)
            hint = f"; did you mean {close[0]}?" if close else f" (botocore's {shape} lists them)"
            raise ValueError(f"{value!r} is not {what}{hint}")
        return value

    check.allowed = f"{what} (botocore's `{shape}`)"
    return AfterValidator(check)


ServingInstanceType = Annotated[
    str,
    _matches(r"ml\.[a-z0-9-]+\.[0-9]*(x?large|medium|small|micro)", "a SageMaker instance type such as ml.m5.large"),
    _sagemaker_type("ProductionVariantInstanceType", "an instance type SageMaker endpoints offer"),
]
MonitorInstanceType = Annotated[
    str,
    _matches(r"ml\.[a-z0-9-]+\.[0-9]*(x?large|medium|small|micro)", "a SageMaker instance type such as ml.m5.xlarge"),
    _sagemaker_type("ProcessingInstanceType", "an instance type Model Monitor's jobs run on"),
]
S3Prefix = Annotated[str, _matches(r"([A-Za-z0-9_.=-]+/)+", "an S3 prefix ending in '/', such as baselines/churn/")]
StackName = Annotated[str, _matches(r"[a-z0-9][a-z0-9-]{0,39}", "the name of a stack file's stack, such as dev")]


class ModelMonitorSettings(_Section):
    """Drift of an endpoint's inputs: its captured traffic against a baseline, hourly or daily, by the
    platform's drift job (functions/drift) or, opted in, by SageMaker Model Monitor."""

    baseline_prefix: S3Prefix
    """Where the baseline is, in the artifacts bucket: `baseline.json` (`mlplatform baseline`) for the
    platform's drift job, `statistics.json` and `constraints.json` for Model Monitor."""
    # The window measured: the last hour or day (the drift job runs 15 minutes after it ends).
    schedule: Literal["hourly", "daily"] = "hourly"
    """The window each measurement covers: the last hour or the last day."""
    model_monitor: bool = False
    """Named opt-in: SageMaker Model Monitor measures drift instead of the platform's drift job
    (AWS closed Model Monitor to new customers: only for accounts that already use it)."""
    instance_type: MonitorInstanceType = "ml.m5.xlarge"
    """Model Monitor's processing instance (with `modelMonitor: true`)."""


class EndpointSettings(_Section):
    """One real-time endpoint serving a model family at the version of ``serving.modelVersions``."""

    name: EndpointName
    """Endpoint `mlplatform-<env>-<name>`, with its role `serving-<name>`."""
    model_family: ModelFamily
    """The model package group served: a family of `serving.modelVersions`."""
    instance_type: ServingInstanceType
    """Instances of the endpoint."""
    min_instances: int = Field(1, ge=1, le=100)
    """Fewest instances (model-backed variants cannot scale to 0)."""
    max_instances: int = Field(2, ge=1, le=100)
    """Application Auto Scaling's ceiling; at least `minInstances`."""
    # Application Auto Scaling keeps invocations per instance per minute near this.
    target_invocations_per_instance: int = Field(100, ge=1, le=100_000)
    """Target tracking on `SageMakerVariantInvocationsPerInstance` (per minute)."""
    # Share of requests captured (inputs and outputs) for drift monitoring; 0 turns capture off.
    data_capture_percent: int = Field(100, ge=0, le=100)
    """Share of requests and responses captured to `capture/<endpoint>/` (what drift is measured on); 0 turns capture
    off; above 0 in prod (policy)."""
    # Blue/green update: the share of capacity the new version gets first, and how long it bakes.
    canary_percent: int = Field(10, ge=1, le=50)
    """Blue/green canary share (with 2 or more instances; one instance shifts all at once)."""
    bake_minutes: int = Field(10, ge=1, le=60)
    """How long each step bakes before the next; an alarm in that time rolls back."""
    # Rollback alarms: any 5XX from the model, or p99 model latency above this, during the bake.
    max_latency_ms: int = Field(1000, ge=1, le=60_000)
    """The latency rollback alarm: p99 `ModelLatency` over a minute, in ms."""
    # The container gets no network (SageMaker's EnableNetworkIsolation); opt out only if it must call out.
    network_isolation: bool = True
    """The container gets no network (opt out only for a container that must call out)."""
    monitor: ModelMonitorSettings | None = None

    @model_validator(mode="after")
    def _consistent(self) -> EndpointSettings:
        problems = []
        if self.min_instances > self.max_instances:
            problems.append(("maxInstances", f"must be at least minInstances ({self.min_instances})"))
        if self.monitor and not self.data_capture_percent:
            problems.append(("monitor", "needs data capture: set dataCapturePercent above 0, or remove monitor"))
        if problems:
            raise _CrossFieldError(problems)
        return self


class ServingSettings(_Section):
    # The stack whose model registry holds the served versions (the multi-account MLOps layout: one
    # registry, consumed by the other accounts); None is this stack's own registry.
    registry_stack: StackName | None = None
    """The stack whose model registry holds the served versions (none: this stack's own). It must list this account in
    `registry.consumerAccounts` and be in the same region."""
    # Model family -> version number in that registry: what `mlplatform promote` moves.
    # (At most 99999: the version is part of the model's 63-character name.)
    model_versions: dict[ModelFamily, Annotated[int, Field(ge=1, le=99_999)]] = Field(default_factory=dict)
    """The package version each model family serves (what `mlplatform promote` moves)."""
    endpoints: list[EndpointSettings] = Field(default_factory=list)


IamProviderArn = Annotated[
    str,
    _matches(
        r"arn:aws(-[a-z-]+)?:iam::\d{12}:oidc-provider/token\.actions\.githubusercontent\.com",
        "the ARN of the account's GitHub OIDC provider "
        "(arn:aws:iam::<account>:oidc-provider/token.actions.githubusercontent.com)",
    ),
]


ConnectionArn = Annotated[
    str,
    _matches(
        r"arn:aws(-[a-z-]+)?:(codeconnections|codestar-connections):[a-z0-9-]+:\d{12}:connection/[0-9a-f-]{36}",
        "the ARN of an AWS CodeConnections connection (arn:aws:codeconnections:<region>:<account>:connection/<id>)",
    ),
]


class CiSettings(_Section):
    github_repository: GithubRepository | None = None
    """The repository whose workflows get the CI roles; none: no CI roles."""
    # The ids GitHub puts in immutable OIDC subjects (repo:OWNER@ID/REPO@ID): repositories created,
    # renamed or transferred after 2026-07-15 get them (`gh api repos/OWNER/REPO/actions/oidc/customization/sub`
    # says use_immutable_subject); both or neither.
    github_owner_id: Annotated[str, _matches(r"[0-9]{1,20}", "a GitHub numeric id")] | None = None
    """The owner's numeric id, for GitHub's immutable OIDC subjects (`repo:OWNER@ID/REPO@ID`) of repositories that have
    them (docs/ci.md); set with `githubRepositoryId`."""
    github_repository_id: Annotated[str, _matches(r"[0-9]{1,20}", "a GitHub numeric id")] | None = None
    """The repository's numeric id, the other half of the immutable subject; set with `githubOwnerId`."""
    # The GitHub environment the pull-request previews of this stack run in (default preview-<stack>);
    # give staging's and prod's required reviewers: a preview reads the stack's state.
    preview_environment: Annotated[str, _matches(r"[A-Za-z0-9._-]{1,100}", "a GitHub environment name")] | None = None
    """The GitHub environment `ci-preview` trusts pull-request previews in (none: `preview-<stack>`); give staging's and
    prod's required reviewers, as a preview reads the stack's state."""
    # Whether the repository is public: then its runner starts only for the GitHub users in runnerActors.
    repository_visibility: Literal["private", "internal", "public"] = "private"
    """The repository's visibility; `public` requires `runnerActors`."""
    # GitHub user ids (numeric, `gh api users/<login> --jq .id`) whose workflow jobs may start the runner
    # in the VPC (CodeBuild webhook filter ACTOR_ACCOUNT_ID); empty: any job of the repository.
    runner_actors: Annotated[
        list[Annotated[str, _matches(r"[0-9]{1,20}", "a GitHub numeric user id")]], AfterValidator(_unique)
    ] = Field(default_factory=list)
    """GitHub user ids (`gh api users/<login> --jq .id`) whose jobs may start the runner in the VPC (webhook filter
    `ACTOR_ACCOUNT_ID`); empty: any job of the repository."""
    deploy_branch: Annotated[str, _matches(r"[A-Za-z0-9._/-]{1,100}", "a git branch name")] = "main"
    """The branch deploys, promotions and drift checks run from: part of every CI role's trusted subject."""
    # A GitHub environment (with its own protection rules) that deploy jobs must run in.
    deploy_environment: Annotated[str, _matches(r"[A-Za-z0-9._-]{1,100}", "a GitHub environment name")] | None = None
    """The GitHub environment `ci-deploy`'s trusted subject names (`deploy-stack.yml` on the deploy branch, in it)."""
    # An account has one GitHub OIDC provider: the bootstrap creates it (output oidcProviderArn).
    oidc_provider_arn: IamProviderArn | None = None
    """The account's GitHub OIDC provider (the bootstrap's output `oidcProviderArn`); none: the stack creates one."""
    # Where jobs that reach the cluster's private API run: a CodeBuild-hosted GitHub Actions runner
    # in the stack's VPC (components/ci_runner.py), or none (then CI cannot reach a private cluster).
    runner: Literal["codebuild", "none"] = "codebuild"
    """A CodeBuild-hosted GitHub Actions runner in the VPC, for jobs that reach the private cluster API; `none`: CI
    cannot reach a private cluster."""
    # The AWS CodeConnections connection to GitHub the runner registers through (bootstrap output
    # codeConnectionArn, authorized once in the console).
    code_connection_arn: ConnectionArn | None = None
    """The runner's connection to GitHub (the bootstrap's output `codeConnectionArn`, authorized once in the console);
    required with `runner: codebuild`."""
    # The commit whose code this stack runs: a promotion sets it to the commit the previous stage runs
    # (docs/ci.md, "Promotion moves code too"); deploys and drift checks check it out. Unset: the stack
    # runs the deploy branch's head (dev).
    release: Annotated[str, _matches(r"[0-9a-f]{40}", "a full git commit id (40 hex digits)")] | None = None
    """The commit whose code the stack runs, set by `mlplatform promote --release` and promoted onward; none: the deploy
    branch's head (dev)."""

    @model_validator(mode="after")
    def _runner_needs_a_connection(self) -> CiSettings:
        problems = []
        if self.runner == "codebuild" and self.github_repository and not self.code_connection_arn:
            problems.append(
                (
                    "codeConnectionArn",
                    "is required for runner 'codebuild': the ARN of a CodeConnections connection to GitHub "
                    "(the bootstrap's output codeConnectionArn), or set runner: none",
                )
            )
        if (self.github_owner_id is None) != (self.github_repository_id is None):
            missing = "githubRepositoryId" if self.github_repository_id is None else "githubOwnerId"
            problems.append((missing, "is required with the other id: GitHub's immutable subjects name both"))
        if self.runner == "codebuild" and self.repository_visibility == "public" and not self.runner_actors:
            problems.append(
                (
                    "runnerActors",
                    "must list the GitHub user ids whose jobs may start the runner when the repository is "
                    "public: otherwise a fork's pull request could run in the VPC (GitHub: self-hosted runners "
                    "should almost never be used for public repositories)",
                )
            )
        if problems:
            raise _CrossFieldError(problems)
        return self


class IdentitySettings(_Section):
    # Who may assume the model-approver role (always with MFA). Default: the account's IAM principals.
    approver_principals: Annotated[list[IamPrincipalArn], AfterValidator(_unique)] = Field(default_factory=list)
    """Who may assume `model-approver`, always with MFA; empty: the account's principals."""


class AuditSettings(_Section):
    object_lock_days: int = Field(365, ge=0, le=36500)
    """COMPLIANCE-mode object lock of the audit bucket, in days; 0 turns it off (dev only: at least 1 in prod)."""


class Settings(_Section):
    """Everything a stack configures. Defaults are the safe (prod-grade) choice."""

    environment: Literal["dev", "staging", "prod"]
    """The environment the stack deploys: names, tags and the rules that differ by environment (protection, prod-only
    policies)."""
    region: Region
    """The stack's AWS region: the provider, every ARN and the key policies."""
    account_id: AccountId
    """The AWS account the stack deploys to: the provider refuses any other (`allowed_account_ids`); key policies name
    it."""
    owner: TagValue
    """The `owner` tag of every resource."""
    cost_center: TagValue
    """The `cost-center` tag of every resource."""
    protect: bool = True
    """`protect` and `retainOnDelete` of stateful resources (keys, buckets, logs, registries, the trail); must be `true`
    in staging and prod. `false` lets dev be torn down whole."""
    encryption: EncryptionSettings = EncryptionSettings()
    network: NetworkSettings
    storage: StorageSettings = StorageSettings()
    feature_store: FeatureStoreSettings = FeatureStoreSettings()
    data_quality: DataQualitySettings = DataQualitySettings()
    training: TrainingSettings = TrainingSettings()
    registry: RegistrySettings = RegistrySettings()
    experiments: ExperimentsSettings = ExperimentsSettings()
    monitoring: MonitoringSettings = MonitoringSettings()
    serving: ServingSettings = ServingSettings()
    ci: CiSettings = CiSettings()
    identity: IdentitySettings = IdentitySettings()
    audit: AuditSettings = AuditSettings()

    def _drift_window(self, i: int, d: DriftAlarmSettings) -> list[tuple[str, str]]:
        """A drift alarm's periods are its endpoints' windows: CloudWatch refuses an alarm that looks
        back more than seven days (foundation/upstream/services.py)."""
        from foundation.upstream.services import alarm_window_problem
        from foundation.upstream.serving import DRIFT_JOB_SCHEDULES, MONITOR_SCHEDULES

        for e in self.serving.endpoints:
            if e.model_family != d.model_family or e.monitor is None:
                continue
            schedules = MONITOR_SCHEDULES if e.monitor.model_monitor else DRIFT_JOB_SCHEDULES
            problem = alarm_window_problem(schedules[e.monitor.schedule][1], d.evaluation_periods)
            if problem:
                return [
                    (
                        f"monitoring.drift[{i}].evaluationPeriods",
                        f"{d.evaluation_periods} {e.monitor.schedule} windows of endpoint {e.name!r} is too long an "
                        f"alarm ({problem}): at most {self._max_periods(schedules[e.monitor.schedule][1])} with a "
                        f"{e.monitor.schedule} monitor",
                    )
                ]
        return []

    @staticmethod
    def _max_periods(period: int) -> int:
        from foundation.upstream.services import alarm_window_problem

        return max(n for n in range(1, 25) if alarm_window_problem(period, n) is None)

    @model_validator(mode="after")
    def _environment_rules(self) -> Settings:
        problems: list[tuple[str, str]] = []
        env = self.environment
        if env in PROTECTED_ENVIRONMENTS and not self.protect:
            problems.append(("protect", f"must be true in {env}: stateful resources are protected outside dev"))
        for i, zone in enumerate(self.network.availability_zones):
            if not re.fullmatch(re.escape(self.region) + r"[a-z]", zone):
                expected = f"{self.region}a, {self.region}b, ..."
                problems.append((f"network.availabilityZones[{i}]", f"{zone!r} is not in {self.region} ({expected})"))
        if env == "prod" and self.network.nat_gateways != "per-az":
            problems.append(
                ("network.natGateways", "must be 'per-az' in prod: one NAT gateway is a single point of failure")
            )
        if self.account_id in self.registry.consumer_accounts:
            i = self.registry.consumer_accounts.index(self.account_id)
            problems.append((f"registry.consumerAccounts[{i}]", "is this stack's own account; list other accounts"))
        known = [
            *self.registry.model_families,
            *(f for f in self.serving.model_versions if f not in self.registry.model_families),
        ]
        for i, d in enumerate(self.monitoring.drift):
            problems += self._drift_window(i, d)
            if d.model_family not in known:
                problems.append(
                    (
                        f"monitoring.drift[{i}].modelFamily",
                        f"{d.model_family!r} is not a model family of registry.modelFamilies or serving.modelVersions "
                        f"({', '.join(known) or 'none'})",
                    )
                )
        problems += self._serving_rules()
        if env == "prod" and self.audit.object_lock_days == 0:
            problems.append(("audit.objectLockDays", "must be at least 1 in prod: the audit trail is write-once"))
        if self.training.endpoint_public_access:
            if env != "dev":
                problems.append(
                    (
                        "training.endpointPublicAccess",
                        f"must be false in {env}: the cluster API of staging and prod is private (only dev may "
                        "open it to named ranges)",
                    )
                )
            elif not self.training.public_access_cidrs:
                problems.append(
                    ("training.publicAccessCidrs", "must name at least one CIDR when endpointPublicAccess is true")
                )
        elif self.ci.runner == "none" or not self.ci.github_repository:
            # The in-cluster project (cluster/) must run where the API answers: docs/deploying.md.
            why = "is 'none'" if self.ci.runner == "none" else "has no runner without ci.githubRepository"
            problems.append(
                (
                    "ci.runner",
                    f"{why} and the cluster API is private (training.endpointPublicAccess false): nothing could "
                    "apply the in-cluster project; use runner: codebuild with githubRepository (a runner in the "
                    "VPC), or in dev set training.endpointPublicAccess with your publicAccessCidrs",
                )
            )
        if problems:
            raise _CrossFieldError(problems)
        return self

    def _serving_rules(self) -> list[tuple[str, str]]:
        sv, problems = self.serving, []
        names = [e.name for e in sv.endpoints]
        for i, e in enumerate(sv.endpoints):
            if names.index(e.name) != i:
                problems.append((f"serving.endpoints[{i}].name", f"{e.name!r} is already the name of another endpoint"))
            if e.model_family not in sv.model_versions:
                versions = ", ".join(sv.model_versions) or "none"
                problems.append(
                    (
                        f"serving.endpoints[{i}].modelFamily",
                        f"{e.model_family!r} has no version in serving.modelVersions (versions of: {versions})",
                    )
                )
        if sv.registry_stack in (None, self.environment):
            for family in sv.model_versions:
                if family not in self.registry.model_families:
                    families = ", ".join(self.registry.model_families) or "none"
                    problems.append(
                        (f"serving.modelVersions.{family}", f"is not in registry.modelFamilies ({families})")
                    )
        from foundation.upstream.serving import MONITOR_IMAGE_ACCOUNTS

        for i, e in enumerate(sv.endpoints):
            if e.monitor and self.region not in MONITOR_IMAGE_ACCOUNTS:
                problems.append(
                    (
                        f"serving.endpoints[{i}].monitor",
                        f"no Model Monitor image is recorded for {self.region} (recorded: "
                        f"{', '.join(sorted(MONITOR_IMAGE_ACCOUNTS))}; foundation/upstream/serving.py says where "
                        "they come from)",
                    )
                )
        return problems


class _CrossFieldError(ValueError):
    """Cross-setting problems, each with its own setting path."""

    def __init__(self, problems: list[tuple[str, str]]):
        super().__init__("; ".join(f"{p}: {m}" for p, m in problems))
        self.problems = problems

    @classmethod
    def one(cls, path: str, message: str) -> _CrossFieldError:
        return cls([(path, message)])


# --- loading ---------------------------------------------------------------------------------


# Settings that hold credentials (path -> an example value for the message): they must come from secret
# config (the engine then keeps them encrypted in state and masked in output), never as plain text in
# a stack file, and the program passes them on as pulumi.Output.secret. None today: alerts reach chat
# through AWS Chatbot, which needs no webhook URL.
SECRET_SETTINGS: dict[str, str] = {}


def secret_keys() -> frozenset[str]:
    """The config keys the engine marks secret (set by the language host, or PULUMI_CONFIG_SECRET_KEYS)."""
    from pulumi.runtime.config import _SECRET_KEYS, get_config_secret_keys_env

    return frozenset(_SECRET_KEYS.get()) | frozenset(get_config_secret_keys_env())


def _plain_secrets(values: Mapping[str, Any], secret: frozenset[str]) -> list[tuple[str, str]]:
    """Credential settings given in plain text, and secret config the program would not keep secret."""
    problems = []
    sections = {path.partition(".")[0] for path in SECRET_SETTINGS}
    for key in sorted(secret):
        name = key.removeprefix(f"{NAMESPACE}:")
        if key.startswith(f"{NAMESPACE}:") and name not in sections and name in values:
            # The program uses settings as plain values (names, tags): a secret there would be written
            # to state and output in plain text. Refuse it rather than leak it.
            problems.append(
                (
                    key,
                    "is set as a secret, but it is not a credential setting and the platform uses it in plain "
                    "text (names, tags); set it without --secret "
                    f"(credential settings: {', '.join(SECRET_SETTINGS) or 'none'})",
                )
            )
    for path, example in SECRET_SETTINGS.items():
        section, _, key = path.partition(".")
        full = f"{NAMESPACE}:{section}"
        given = _decode(values.get(section))
        if isinstance(given, dict) and given.get(key) and full not in secret:
            problems.append(
                (
                    f"{NAMESPACE}:{path}",
                    "holds credentials and must be a secret, not plain text in the stack file; set each with "
                    f"`pulumi config set --secret --path '{NAMESPACE}:{path}[0]' {example}`",
                )
            )
    return problems


def configured_values(namespace: str = NAMESPACE) -> dict[str, str]:
    """Every configured key of a namespace, as the engine passes it (strings; objects as JSON).

    ``pulumi.Config`` can only get keys by name, so it cannot find a misspelled one. The SDK keeps
    the whole map in ``pulumi.runtime.config.CONFIG`` (set by the language host and by our offline
    runner) and older engines pass it in the ``PULUMI_CONFIG`` environment variable: read both.
    """
    from pulumi.runtime.config import CONFIG, get_config_env

    merged = {**get_config_env(), **CONFIG.get()}
    prefix = namespace + ":"
    return {k[len(prefix) :]: v for k, v in merged.items() if k.startswith(prefix)}


def _decode(value: Any) -> Any:
    # Structured values reach the program as JSON text; scalars as plain strings, which pydantic
    # coerces ("30" -> 30, "true" -> True) without turning "012345678901" into a number.
    if isinstance(value, str) and value[:1] in "{[":
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    return value


def parse(stack: str, values: Mapping[str, Any], secret: frozenset[str] | None = None) -> Settings:
    """Validate a stack's ``mlplatform`` values; raise SettingsError naming every problem.

    ``secret`` are the config keys the engine marks secret; None skips the secret check (promotion
    validates a file it has not written yet, with secrets it cannot see)."""
    data = {key: _decode(v) for key, v in values.items()}
    problems = _plain_secrets(values, secret) if secret is not None else []
    # The stack file's name says which environment it is (dev, or dev-eu for a second dev stack); a
    # copied file that kept another environment would get that environment's protection and names.
    named, given = stack.split("-", maxsplit=1)[0], data.get("environment")
    if named in ENVIRONMENTS and given in ENVIRONMENTS and given != named:
        problems.append((f"{NAMESPACE}:environment", f"is {given!r} but the stack is {stack!r}: they must agree"))
    try:
        settings = Settings.model_validate(data)
    except ValidationError as err:
        raise SettingsError(stack, problems + _problems(err)) from None
    if problems:
        raise SettingsError(stack, problems)
    return settings


COMMIT_ENV = "MLPLATFORM_COMMIT"  # the commit the deploy workflow checked out (deploy-stack.yml)


STACK_FILES_ENV = "MLPLATFORM_STACK_FILES_COMMIT"  # the commit whose stacks/ it deploys with


def deployed_commit(of_stack_files: bool = False) -> str:
    """The commit this run deploys (or whose stack files it uses), as the workflow says; "unknown"
    elsewhere (a laptop, an offline plan)."""
    return os.environ.get(STACK_FILES_ENV if of_stack_files else COMMIT_ENV) or "unknown"


def load() -> Settings:
    """The settings of the stack being deployed (or planned offline). A stack that pins a release
    (ci.release) refuses to be deployed from another commit."""
    stack = pulumi.get_stack()
    settings = parse(stack, configured_values(), secret_keys())
    running = os.environ.get(COMMIT_ENV)
    if running and settings.ci.release and running != settings.ci.release:
        raise SettingsError(
            stack,
            [
                (
                    f"{NAMESPACE}:ci.release",
                    f"pins commit {settings.ci.release}, but this run deploys {running}: deploy the pinned commit "
                    "(the deploy workflow checks it out), or promote this one",
                )
            ],
        )
    return settings


def _problems(err: ValidationError) -> list[tuple[str, str]]:
    return [(f"{NAMESPACE}:{path}", message) for path, message in _path_message(err, Settings)]


def _path_message(err: ValidationError, root: type[BaseModel]) -> list[tuple[str, str]]:
    """(setting path, message) for every error, paths as the user writes them: ``a.b[1].c``."""
    problems: list[tuple[str, str]] = []
    for e in err.errors(include_url=False):
        ctx_error = (e.get("ctx") or {}).get("error")
        prefix = _path(e["loc"])
        if isinstance(ctx_error, _CrossFieldError):
            problems += [(f"{prefix}.{p}" if prefix else p, m) for p, m in ctx_error.problems]
            continue
        problems.append((prefix or "(top level)", _message(e, root)))
    return problems


def _path(loc: tuple) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _message(e: Mapping[str, Any], root: type[BaseModel]) -> str:
    kind, given = e["type"], e.get("input")
    if kind == "extra_forbidden":
        allowed = _allowed_keys(e["loc"][:-1], root)
        key = str(e["loc"][-1])
        camel = to_camel(key)
        hint = [camel] if camel in allowed else difflib.get_close_matches(key, allowed, n=1)
        did_you_mean = f"; did you mean '{hint[0]}'?" if hint else ""
        return f"unknown setting{did_you_mean} (allowed here: {', '.join(allowed)})"
    if kind == "missing":
        return "is required but not set"
    if kind in ("model_type", "dict_type", "model_attributes_type"):
        keys = ", ".join(_allowed_keys(e["loc"], root))
        return f"must be a mapping of settings (allowed keys: {keys}), got {given!r}"
    if kind in _FRIENDLY:
        return f"{_FRIENDLY[kind]}, got {given!r}"
    msg = e["msg"].removeprefix("Value error, ").replace("Input should be", "must be")
    if kind == "literal_error" or kind.startswith(("greater", "less", "too_")):
        msg += f", got {given!r}"
    return msg


_FRIENDLY = {
    "bool_parsing": "must be true or false",
    "bool_type": "must be true or false",
    "int_parsing": "must be a whole number",
    "int_type": "must be a whole number",
    "int_from_float": "must be a whole number",
    "float_parsing": "must be a number",
    "float_type": "must be a number",
    "string_type": "must be a text value (quote it in YAML)",
    "list_type": "must be a list",
}


def _allowed_keys(loc: tuple, root: type[BaseModel]) -> list[str]:
    """The keys allowed at a location, by walking the models along the path."""
    model: Any = root
    for part in loc:
        if isinstance(part, int):
            continue
        field = next((f for n, f in model.model_fields.items() if (f.alias or n) == part), None)
        if field is None:
            return []
        model = _inner_model(field.annotation)
        if model is None:
            return []
    return sorted(f.alias or n for n, f in model.model_fields.items())


def _inner_model(annotation: Any) -> Any:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    if get_origin(annotation) is not None:
        for arg in get_args(annotation):
            found = _inner_model(arg)
            if found is not None:
                return found
    return None
