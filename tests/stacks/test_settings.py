"""Stack settings: the real stacks are valid, and every kind of mistake gets a message naming the setting."""

from __future__ import annotations

import json

import pulumi
import pytest

from infra.settings import PROTECTED_ENVIRONMENTS, Settings, SettingsError, load, parse
from pipelines.offline import REPO_ROOT, read_stack_config
from tests.plans import STACKS

NS = "mlplatform:"


def values_of(stack: str, **overrides) -> dict[str, str]:
    """A stack's mlplatform values as the engine passes them, with sections replaced or patched."""
    config = read_stack_config(stack).values
    values = {k[len(NS) :]: v for k, v in config.items() if k.startswith(NS)}
    for key, value in overrides.items():
        values[key] = value if isinstance(value, str) else json.dumps(value)
    return values


def section(stack: str, name: str, **changes) -> dict:
    return {**json.loads(values_of(stack)[name]), **changes}


# Model families as dev's file has them (a fork's own): the cases below use one, and the messages list them.
_DEV = parse("dev", values_of("dev"))
FAMILIES = [
    *_DEV.registry.model_families,
    *(f for f in _DEV.serving.model_versions if f not in _DEV.registry.model_families),
]
FAMILY = _DEV.registry.model_families[0]


@pytest.mark.parametrize("stack", STACKS)
def test_real_stacks_are_valid(stack):
    settings = parse(stack, values_of(stack))
    assert settings.environment == stack.split("-")[0]
    assert settings.protect or settings.environment not in PROTECTED_ENVIRONMENTS


# (stack, overrides, setting path named in the message, words the message must contain)
BAD = [
    ("dev", {"environment": "qa"}, "mlplatform:environment", "'dev', 'staging' or 'prod'"),
    ("dev", {"region": "Europe"}, "mlplatform:region", "an AWS region such as eu-west-1"),
    # well formed but not a region: named as such (botocore's partitions), not blamed on the zones
    ("dev", {"region": "eu-wset-1"}, "mlplatform:region", "'eu-wset-1' is not an AWS region; did you mean eu-west-1?"),
    ("dev", {"environment": "prod"}, "mlplatform:environment", "is 'prod' but the stack is 'dev'"),
    ("dev", {"accountId": "12345"}, "mlplatform:accountId", "12-digit AWS account id"),
    ("dev", {"owner": ""}, "mlplatform:owner", "1-256"),
    ("dev", {"protect": "maybe"}, "mlplatform:protect", "true or false"),
    ("prod", {"protect": "false"}, "mlplatform:protect", "must be true in prod"),
    ("staging", {"protect": "false"}, "mlplatform:protect", "must be true in staging"),
    ("dev", {"netwrok": {"cidr": "10.0.0.0/16"}}, "mlplatform:netwrok", "did you mean 'network'"),
    ("dev", {"network": "10.0.0.0/16"}, "mlplatform:network", "must be a mapping of settings"),
    ("dev", {"network": {"cidr": "10.0.0.0/16"}}, "mlplatform:network.availabilityZones", "required"),
    (
        "dev",
        {"network": section("dev", "network", cidr="10.0.0.0/33")},
        "mlplatform:network.cidr",
        "not an IPv4 network",
    ),
    ("dev", {"network": section("dev", "network", cidr="10.0.0.0/8")}, "mlplatform:network.cidr", "/16 to /20"),
    ("dev", {"network": section("dev", "network", cidr="10.0.0.0/22")}, "mlplatform:network.cidr", "/16 to /20"),
    ("dev", {"network": section("dev", "network", cidr="8.8.0.0/16")}, "mlplatform:network.cidr", "RFC 1918"),
    (
        "dev",
        {"network": section("dev", "network", availabilityZones=["eu-west-1a", "us-east-1b"])},
        "mlplatform:network.availabilityZones[1]",
        "not in eu-west-1",
    ),
    (
        "dev",
        {"network": section("dev", "network", natGateways="two")},
        "mlplatform:network.natGateways",
        "'single' or 'per-az'",
    ),
    (
        "prod",
        {"network": section("prod", "network", natGateways="single")},
        "mlplatform:network.natGateways",
        "must be 'per-az' in prod",
    ),
    (
        "dev",
        {"network": section("dev", "network", availabilityZones=["eu-west-1a"])},
        "mlplatform:network.availabilityZones",
        "at least 2",
    ),
    (
        "dev",
        {"encryption": {"keyDeletionWindowDays": 90}},
        "mlplatform:encryption.keyDeletionWindowDays",
        "less than or equal to 30, got 90",
    ),
    (
        "dev",
        {"encryption": {"keyRotationPeriodDays": "yearly"}},
        "mlplatform:encryption.keyRotationPeriodDays",
        "whole number, got 'yearly'",
    ),
    (
        "dev",
        {"encryption": {"additionalDomains": ["data"]}},
        "mlplatform:encryption.additionalDomains",
        "are platform domains",
    ),
    (
        "dev",
        {"encryption": {"additionalDomains": ["PII"]}},
        "mlplatform:encryption.additionalDomains[0]",
        "lowercase letters",
    ),
    (
        "dev",
        {"encryption": {"keyDeletionWindow": 7}},
        "mlplatform:encryption.keyDeletionWindow",
        "did you mean 'keyDeletionWindowDays'",
    ),
    (
        "dev",
        {"storage": section("dev", "storage", rawInfrequentAccessAfterDays=60, rawArchiveAfterDays=45)},
        "mlplatform:storage.rawArchiveAfterDays",
        "greater than rawInfrequentAccessAfterDays (60), got 45",
    ),
    (
        "dev",
        {"storage": section("dev", "storage", rawInfrequentAccessAfterDays=10)},
        "mlplatform:storage.rawInfrequentAccessAfterDays",
        "greater than or equal to 30",
    ),
    (
        "dev",
        {"training": {"kubernetesVersion": "1.20"}},
        "mlplatform:training.kubernetesVersion",
        "allowed: 1.32, 1.33, 1.34, 1.35",
    ),
    (
        "prod",
        {"training": {"endpointPublicAccess": True, "publicAccessCidrs": ["8.8.8.0/24"]}},
        "mlplatform:training.endpointPublicAccess",
        "must be false in prod",
    ),
    (
        "dev",
        {"training": {"endpointPublicAccess": True}},
        "mlplatform:training.publicAccessCidrs",
        "at least one CIDR",
    ),
    (
        "dev",
        {"training": {"endpointPublicAccess": True, "publicAccessCidrs": ["0.0.0.0/0"]}},
        "mlplatform:training.publicAccessCidrs[0]",
        "opens the endpoint to the internet",
    ),
    (
        "dev",
        {"training": {"endpointPublicAccess": True, "publicAccessCidrs": ["203.0.113.0/24"]}},
        "mlplatform:training.publicAccessCidrs[0]",
        "documentation range (RFC 5737)",
    ),
    (
        "dev",
        {"training": {"endpointPublicAccess": True, "publicAccessCidrs": ["10.1.0.0/16"]}},
        "mlplatform:training.publicAccessCidrs[0]",
        "not a public range",
    ),
    (
        "dev",
        {"ci": {"githubRepository": "example-org/mlplatform", "runner": "codebuild", "codeConnectionArn": None}},
        "mlplatform:ci.codeConnectionArn",
        "is required for runner 'codebuild'",
    ),
    (
        "dev",
        {"training": {"teams": [{"name": "Team_A"}]}},
        "mlplatform:training.teams[0].name",
        "Kubernetes namespace name",
    ),
    (
        "dev",
        {
            "training": {
                "gpuPools": [
                    {"name": "gpu", "instanceFamilies": ["g5", "x9"], "capacityTypes": ["spot"], "gpuLimit": 4}
                ]
            }
        },
        "mlplatform:training.gpuPools[0].instanceFamilies[1]",
        "'x9' is not a GPU family; allowed: g4dn, g5",
    ),
    (
        "dev",
        {
            "training": {
                "gpuPools": [{"name": "gpu", "instanceFamilies": ["g5"], "capacityTypes": ["cheap"], "gpuLimit": 4}]
            }
        },
        "mlplatform:training.gpuPools[0].capacityTypes[0]",
        "'spot' or 'on-demand'",
    ),
    (
        "dev",
        {
            "training": {
                "gpuPools": [{"name": "gpu", "instanceFamilies": ["g5"], "capacityTypes": ["spot"], "gpuLimit": 4}],
                "teams": [{"name": "vision", "gpuQuota": 6}],
            }
        },
        "mlplatform:training.teams[0].gpuQuota",
        "6 is more than the GPU pools can run (4 in all)",
    ),
    (
        "dev",
        {"training": {"systemNodes": {"minSize": 3, "desiredSize": 2, "maxSize": 4}}},
        "mlplatform:training.systemNodes.desiredSize",
        "between minSize (3) and maxSize (4)",
    ),
    (
        "dev",
        {"training": {"cpuPool": {"instanceFamilies": ["t3"]}}},
        "mlplatform:training.cpuPool.instanceFamilies[0]",
        "a CPU family such as m6i",
    ),
    (
        "dev",
        {"training": {"charts": {"karpenter": "latest"}}},
        "mlplatform:training.charts.karpenter",
        "a chart version such as 1.11.1",
    ),
    (
        "dev",
        {"training": {"teams": [{"name": "a", "gpuQuota": -1}]}},
        "mlplatform:training.teams[0].gpuQuota",
        "greater than or equal to 0, got -1",
    ),
    (
        "dev",
        {"training": {"teams": [{"name": "a"}, {"name": "a"}]}},
        "mlplatform:training.teams",
        "duplicate entries: a",
    ),
    (
        "dev",
        {"registry": {"modelFamilies": ["Fraud Detector"]}},
        "mlplatform:registry.modelFamilies[0]",
        "single hyphens",
    ),
    (
        "dev",
        {"registry": {"keepTaggedImages": 0}},
        "mlplatform:registry.keepTaggedImages",
        "greater than or equal to 1",
    ),
    (
        "dev",
        {"monitoring": {"logRetentionDays": 15}},
        "mlplatform:monitoring.logRetentionDays",
        "allowed: 1, 3, 5, 7, 14, 30",
    ),
    (
        "dev",
        {"monitoring": {"monthlyBudgetUsd": 0}},
        "mlplatform:monitoring.monthlyBudgetUsd",
        "greater than 0",
    ),
    (
        "dev",
        {"monitoring": {"drift": [{"modelFamily": FAMILY, "features": ["amount"], "threshold": 1.5}]}},
        "mlplatform:monitoring.drift[0].threshold",
        "less than or equal to 1, got 1.5",
    ),
    (
        "dev",
        {"monitoring": {"drift": [{"modelFamily": "not-a-family", "features": ["amount"], "threshold": 0.2}]}},
        "mlplatform:monitoring.drift[0].modelFamily",
        "'not-a-family' is not a model family of registry.modelFamilies or serving.modelVersions "
        f"({', '.join(FAMILIES)})",
    ),
    (
        "dev",
        {"monitoring": {"drift": [{"modelFamily": FAMILY, "features": [], "threshold": 0.2}]}},
        "mlplatform:monitoring.drift[0].features",
        "at least 1 item",
    ),
    (
        "dev",
        {
            "registry": {**section("dev", "registry"), "modelFamilies": [FAMILY, "family-b"]},
            "serving": {
                "modelVersions": {FAMILY: 1},
                "endpoints": [{"name": "a", "modelFamily": "family-b", "instanceType": "ml.m5.large"}],
            },
        },
        "mlplatform:serving.endpoints[0].modelFamily",
        f"'family-b' has no version in serving.modelVersions (versions of: {FAMILY})",
    ),
    (
        "dev",
        {"serving": {"modelVersions": {"not-a-family": 1}}},
        "mlplatform:serving.modelVersions.not-a-family",
        f"is not in registry.modelFamilies ({', '.join(_DEV.registry.model_families)})",
    ),
    (
        "dev",
        {"serving": {"modelVersions": {FAMILY: 0}}},
        f"mlplatform:serving.modelVersions.{FAMILY}",
        "greater than or equal to 1",
    ),
    (
        "dev",
        {
            "serving": {
                "modelVersions": {FAMILY: 1},
                "endpoints": [
                    {
                        "name": "a",
                        "modelFamily": FAMILY,
                        "instanceType": "ml.m5.large",
                        "minInstances": 3,
                        "maxInstances": 2,
                    }
                ],
            }
        },
        "mlplatform:serving.endpoints[0].maxInstances",
        "must be at least minInstances (3)",
    ),
    (
        "dev",
        {
            "serving": {
                "modelVersions": {FAMILY: 1},
                "endpoints": [
                    {
                        "name": "a",
                        "modelFamily": FAMILY,
                        "instanceType": "ml.m5.large",
                        "dataCapturePercent": 0,
                        "monitor": {"baselinePrefix": "b/"},
                    }
                ],
            }
        },
        "mlplatform:serving.endpoints[0].monitor",
        "needs data capture",
    ),
    (
        "dev",
        {
            "serving": {
                "modelVersions": {FAMILY: 1},
                "endpoints": [{"name": "a", "modelFamily": FAMILY, "instanceType": "m5.large"}],
            }
        },
        "mlplatform:serving.endpoints[0].instanceType",
        "a SageMaker instance type such as ml.m5.large",
    ),
    (
        "dev",
        {
            "serving": {
                "modelVersions": {FAMILY: 1},
                "endpoints": [
                    {"name": "a", "modelFamily": FAMILY, "instanceType": "ml.m5.large"},
                    {"name": "a", "modelFamily": FAMILY, "instanceType": "ml.m5.large"},
                ],
            }
        },
        "mlplatform:serving.endpoints[1].name",
        "'a' is already the name of another endpoint",
    ),
    (
        "dev",
        {"monitoring": {"slackChannels": [{"workspaceId": "T0EXAMPLE1", "channelId": "#oncall"}]}},
        "mlplatform:monitoring.slackChannels[0].channelId",
        "a Slack channel id such as C0123ABCDE",
    ),
    (
        "dev",
        {"monitoring": {"alertEmails": ["oncall"]}},
        "mlplatform:monitoring.alertEmails[0]",
        "an email address",
    ),
    (
        "dev",
        {"registry": {"consumerAccounts": ["111111111111"]}},
        "mlplatform:registry.consumerAccounts[0]",
        "is this stack's own account",
    ),
    (
        "dev",
        {"experiments": {"mlflowVersion": "2.9"}},
        "mlplatform:experiments.mlflowVersion",
        "allowed: 2.13, 2.16, 3.0",
    ),
    (
        "dev",
        {"experiments": {"weeklyMaintenanceWindowStart": "Sunday 2am"}},
        "mlplatform:experiments.weeklyMaintenanceWindowStart",
        "such as Sun:02:00",
    ),
    (
        "dev",
        {"ci": {"githubRepository": "just-a-name"}},
        "mlplatform:ci.githubRepository",
        "owner/name",
    ),
]


@pytest.mark.parametrize(("stack", "overrides", "path", "words"), BAD, ids=[b[2] + "-" + b[3][:20] for b in BAD])
def test_bad_setting_is_named_with_what_is_allowed(stack, overrides, path, words):
    with pytest.raises(SettingsError) as caught:
        parse(stack, values_of(stack, **overrides))
    lines = [line for line in str(caught.value).splitlines() if line.startswith(f"  - {path}:")]
    assert lines, f"no problem reported for {path}:\n{caught.value}"
    assert words in lines[0], lines[0]
    assert f"stack '{stack}'" in str(caught.value)


def test_missing_required_settings_are_each_named():
    with pytest.raises(SettingsError) as caught:
        parse("dev", {})
    paths = {p for p, _ in caught.value.problems}
    required = {"environment", "region", "accountId", "owner", "costCenter", "network"}
    assert paths == {NS + k for k in required}
    assert all(m == "is required but not set" for _, m in caught.value.problems)


def test_every_problem_is_reported_at_once():
    values = values_of("dev", netwrok={}, protect="maybe", encryption={"keyDeletionWindowDays": 90})
    with pytest.raises(SettingsError) as caught:
        parse("dev", values)
    assert [p for p, _ in caught.value.problems] == [
        "mlplatform:protect",
        "mlplatform:encryption.keyDeletionWindowDays",
        "mlplatform:netwrok",
    ]
    assert str(caught.value).startswith("stack 'dev' (stacks/Pulumi.dev.yaml) has 3 invalid settings:")


def test_settings_error_is_a_run_error_so_pulumi_prints_no_traceback():
    assert issubclass(SettingsError, pulumi.RunError)


def test_load_reads_the_engines_config_from_the_environment(monkeypatch):
    # Engines that pass configuration as PULUMI_CONFIG (not through set_all_config) are covered too.
    config = {NS + k: v for k, v in values_of("prod").items()}
    config["mlplatform:regoin"] = "eu-west-1"
    monkeypatch.setenv("PULUMI_CONFIG", json.dumps(config))
    pulumi.runtime.settings.reset_options(project="mlplatform", stack="prod")
    with pytest.raises(SettingsError, match=r"mlplatform:regoin: unknown setting; did you mean 'region'"):
        load()
    del config["mlplatform:regoin"]
    monkeypatch.setenv("PULUMI_CONFIG", json.dumps(config))
    assert isinstance(load(), Settings)
    # the engine's secret keys (PULUMI_CONFIG_SECRET_KEYS) are read too: a secret owner is refused
    monkeypatch.setenv("PULUMI_CONFIG_SECRET_KEYS", json.dumps(["mlplatform:owner"]))
    with pytest.raises(SettingsError, match=r"mlplatform:owner: is set as a secret"):
        load()


def test_account_ids_keep_their_leading_zeros():
    settings = parse("dev", values_of("dev", accountId="012345678901"))
    assert settings.account_id == "012345678901"


def test_the_documented_access_matrix_is_the_one_in_infra_access():
    from infra.access import matrix_markdown
    from pipelines.offline import REPO_ROOT

    assert matrix_markdown() in (REPO_ROOT / "docs" / "security.md").read_text()


def _registry_problems(tmp_path, edit=None, staging_serving: dict | None = None) -> list[str]:
    """serving.registryStack of staging, checked against a copy of dev's stack file changed by ``edit``
    (a function of its config mapping: whatever the file's layout)."""
    import yaml

    from infra.definitions import registry_of
    from tests.plans import settings_of

    doc = yaml.safe_load((REPO_ROOT / "stacks" / "Pulumi.dev.yaml").read_text())
    if edit is not None:
        edit(doc["config"])
    (tmp_path / "Pulumi.dev.yaml").write_text(yaml.safe_dump(doc))
    staging = settings_of("staging")
    if staging_serving is not None:
        staging = staging.model_copy(update={"serving": staging.serving.model_copy(update=staging_serving)})
    try:
        registry_of("staging", staging, tmp_path)
    except SettingsError as err:
        return [f"{p}: {m}" for p, m in err.problems]
    return []


def test_the_registry_stack_is_checked_against_its_own_file(tmp_path):
    from tests.plans import settings_of

    setting = "mlplatform:serving.registryStack"
    staging = settings_of("staging")
    assert staging.serving.registry_stack == "dev", "the example staging serves dev's registry"
    assert _registry_problems(tmp_path) == []
    (problem,) = _registry_problems(tmp_path, lambda c: c["mlplatform:registry"].update(consumerAccounts=[]))
    assert problem == (
        f"{setting}: 'dev' does not share its registry with this account: add \"{staging.account_id}\" to its "
        "registry.consumerAccounts"
    )

    def moved(c: dict) -> None:
        c["mlplatform:region"] = "eu-central-1"
        c["mlplatform:network"]["availabilityZones"] = ["eu-central-1a", "eu-central-1b"]

    (problem,) = _registry_problems(tmp_path, moved)
    assert problem.startswith(f"{setting}: 'dev' is in eu-central-1; an endpoint deploys packages of its own region")
    (problem,) = _registry_problems(tmp_path, None, {"model_versions": {"not-a-family": 2}})
    families = ", ".join(settings_of("dev").registry.model_families)
    assert problem == f"mlplatform:serving.modelVersions.not-a-family: is not a model family of 'dev' ({families})"
    (problem,) = _registry_problems(tmp_path, None, {"registry_stack": "qa"})
    assert problem == f"{setting}: names stack 'qa' but stacks/Pulumi.qa.yaml does not exist (stacks: dev)"
    (problem,) = _registry_problems(tmp_path, lambda c: c.update({"mlplatform:protect": "maybe"}))
    assert problem.startswith(f"{setting}: stack 'dev' is invalid: mlplatform:protect:")


def _endpoint(**changes) -> dict:
    return {"name": "a", "modelFamily": FAMILY, "instanceType": "ml.m5.large", **changes}


@pytest.mark.parametrize(
    ("serving", "path", "words"),
    [
        (
            {"modelVersions": {FAMILY: 1}, "endpoints": [_endpoint(instanceType="ml.m5.larg")]},
            "serving.endpoints[0].instanceType",
            "'ml.m5.larg' is not valid; expected a SageMaker instance type such as ml.m5.large",
        ),
        (
            {"modelVersions": {FAMILY: 1}, "endpoints": [_endpoint(instanceType="ml.m5.3xlarge")]},
            "serving.endpoints[0].instanceType",
            "'ml.m5.3xlarge' is not an instance type SageMaker endpoints offer; did you mean",
        ),
        (  # an endpoint type that processing jobs do not offer
            {
                "modelVersions": {FAMILY: 1},
                "endpoints": [_endpoint(monitor={"baselinePrefix": "b/", "instanceType": "ml.inf2.xlarge"})],
            },
            "serving.endpoints[0].monitor.instanceType",
            "'ml.inf2.xlarge' is not an instance type Model Monitor's jobs run on",
        ),
        (
            {"modelVersions": {FAMILY: 100_000}},
            f"serving.modelVersions.{FAMILY}",
            "less than or equal to 99999",
        ),
    ],
)
def test_serving_instance_types_are_the_ones_sagemaker_offers(serving, path, words):
    """Checked against the botocore model's enums (ProductionVariantInstanceType, ProcessingInstanceType)."""
    from infra.settings import sagemaker_instance_types

    assert "ml.inf2.xlarge" in sagemaker_instance_types("ProductionVariantInstanceType")
    assert "ml.inf2.xlarge" not in sagemaker_instance_types("ProcessingInstanceType")
    with pytest.raises(SettingsError) as caught:
        parse("dev", values_of("dev", serving=serving))
    lines = [m for p, m in caught.value.problems if p == NS + path]
    assert lines and words in lines[0], caught.value.problems


def test_a_monitor_needs_a_region_whose_model_monitor_image_is_recorded():
    from foundation.upstream.serving import MONITOR_IMAGE_ACCOUNTS

    region = "ap-southeast-2"
    assert region not in MONITOR_IMAGE_ACCOUNTS
    network = section("dev", "network", availabilityZones=[f"{region}a", f"{region}b"])
    monitored = {"modelVersions": {FAMILY: 1}, "endpoints": [_endpoint(monitor={"baselinePrefix": "b/"})]}
    with pytest.raises(SettingsError) as caught:
        parse("dev", values_of("dev", region=region, network=network, serving=monitored))
    (message,) = [m for p, m in caught.value.problems if p == NS + "serving.endpoints[0].monitor"]
    assert f"no Model Monitor image is recorded for {region}" in message
    # the same endpoint without a monitor is fine there
    plain = {"modelVersions": {FAMILY: 1}, "endpoints": [_endpoint()]}
    assert parse("dev", values_of("dev", region=region, network=network, serving=plain)).region == region


def test_a_drift_alarm_looks_back_no_further_than_cloudwatch_allows():
    """CloudWatch refuses an alarm whose periods span more than seven days (PutMetricAlarm): daily
    windows allow 7, hourly ones the setting's 24."""

    def problems(schedule: str, periods: int, model_monitor: bool = False) -> list[str]:
        monitor = {"baselinePrefix": "b/", "schedule": schedule, "modelMonitor": model_monitor}
        serving = {"modelVersions": {"fam": 1}, "endpoints": [_endpoint(modelFamily="fam", monitor=monitor)]}
        drift = [{"modelFamily": "fam", "features": ["x"], "threshold": 0.2, "evaluationPeriods": periods}]
        monitoring = section("dev", "mlplatform:monitoring".removeprefix(NS), drift=drift)
        try:
            parse("dev", values_of("dev", serving=serving, monitoring=monitoring))
        except SettingsError as err:
            return [m for p, m in err.problems if p == NS + "monitoring.drift[0].evaluationPeriods"]
        return []

    (message,) = problems("daily", 8)
    assert "8 daily windows of endpoint 'a'" in message and "at most 7" in message
    assert problems("daily", 8, model_monitor=True)
    assert problems("daily", 7) == problems("hourly", 24) == []


def test_one_spelling_per_setting_the_camelcase_one():
    """The schema and the docs know `gpuQuota`; `gpu_quota` is an unknown setting with a did-you-mean,
    alone or beside the right spelling, never silently taken."""
    for stack in STACKS:
        training = section(stack, "training")
        for i, team in enumerate(training.get("teams", [])):
            for both in (False, True):
                edited = {**team, "gpu_quota": team.get("gpuQuota", 1)}
                if not both:
                    edited.pop("gpuQuota", None)
                teams = [*training["teams"][:i], edited, *training["teams"][i + 1 :]]
                with pytest.raises(SettingsError) as caught:
                    parse(stack, values_of(stack, training={**training, "teams": teams}))
                (message,) = [m for p, m in caught.value.problems if p == f"{NS}training.teams[{i}].gpu_quota"]
                assert message.startswith("unknown setting; did you mean 'gpuQuota'?")
        top = section(stack, "monitoring")
        with pytest.raises(SettingsError) as caught:
            parse(stack, values_of(stack, monitoring={**top, "log_retention_days": 30}))
        assert "did you mean 'logRetentionDays'?" in str(caught.value)
