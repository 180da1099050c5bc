"""Every value a name-feeding setting accepts yields valid names: Hypothesis generates values the
settings' and definitions' own validators accept (teams, GPU pools, model families, endpoints, drift
features, datasets, feature groups), the stack is planned with them, and every physical name of the
plan is checked against its resource's naming rule: botocore's shape (pattern and length) for AWS
names, the Kubernetes rules (DNS-1123 labels and subdomains, docs "Object Names and IDs") for
Kubernetes ones. A value the validator accepts but the naming cannot take would otherwise be a
traceback in the middle of a plan."""

from __future__ import annotations

import json
import re
import shutil
from functools import cache
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter

from infra.definitions import DatasetDefinition, FeatureGroupDefinition
from infra.settings import EndpointSettings, FeatureColumn, GpuPoolSettings, ModelFamily, TeamSettings
from pipelines.offline import REPO_ROOT, plan_stack

# type -> (input holding the name, botocore service, shape of that name)
AWS_NAMES = {
    "aws:iam/role:Role": ("name", "iam", "roleNameType"),
    "aws:iam/policy:Policy": ("name", "iam", "policyNameType"),
    "aws:cloudwatch/metricAlarm:MetricAlarm": ("name", "cloudwatch", "AlarmName"),
    "aws:sagemaker/model:Model": ("name", "sagemaker", "ModelName"),
    "aws:sagemaker/endpointConfiguration:EndpointConfiguration": ("name", "sagemaker", "EndpointConfigName"),
    "aws:sagemaker/endpoint:Endpoint": ("name", "sagemaker", "EndpointName"),
    "aws:sagemaker/modelPackageGroup:ModelPackageGroup": ("modelPackageGroupName", "sagemaker", "EntityName"),
    "aws:sagemaker/featureGroup:FeatureGroup": ("featureGroupName", "sagemaker", "FeatureGroupName"),
    "aws:lambda/function:Function": ("name", "lambda", "FunctionName"),
    "aws:scheduler/schedule:Schedule": ("name", "scheduler", "Name"),
    "aws:sqs/queue:Queue": ("name", "sqs", "String"),
    "aws:cloudwatch/logGroup:LogGroup": ("name", "logs", "LogGroupName"),
    "aws:glue/catalogTable:CatalogTable": ("name", "glue", "NameString"),
    "aws:glue/dataQualityRuleset:DataQualityRuleset": ("name", "glue", "NameString"),
    "aws:cloudwatch/eventRule:EventRule": ("name", "events", "RuleName"),
    "aws:ssm/parameter:Parameter": ("name", "ssm", "PSParameterName"),
}
SQS_QUEUE = re.compile(
    r"[A-Za-z0-9_-]{1,80}"
)  # CreateQueue: "up to 80 characters ... alphanumeric, hyphens, underscores"
DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?")
DNS_SUBDOMAIN = re.compile(r"(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")


@cache
def _shape(service: str, shape: str):
    from botocore.session import get_session

    return get_session().get_service_model(service).shape_for(shape)


def name_problem(type_: str, inputs: dict) -> str | None:  # noqa: PLR0911 (one return per rule)
    if type_.startswith("kubernetes:"):
        name = (inputs.get("metadata") or {}).get("name")
        if name is None:
            return None
        rule = DNS_LABEL if type_.endswith(":Namespace") else DNS_SUBDOMAIN
        return None if rule.fullmatch(name) else f"{name!r} is not a Kubernetes name ({rule.pattern})"
    if type_ not in AWS_NAMES:
        return None
    key, service, shape_name = AWS_NAMES[type_]
    name = inputs.get(key)
    if not isinstance(name, str):
        return None
    if type_ == "aws:sqs/queue:Queue":
        return None if SQS_QUEUE.fullmatch(name) else f"{name!r} is not an SQS queue name"
    shape = _shape(service, shape_name)
    meta = shape.metadata
    if not meta.get("min", 1) <= len(name) <= meta.get("max", 10**6):
        return f"{name!r}: {len(name)} characters, {service} {shape_name} takes {meta.get('min', 1)}-{meta.get('max')}"
    pattern = meta.get("pattern")
    try:
        compiled = re.compile(pattern) if pattern else None
    except re.error:  # a Java-only construct (\u escapes): the length rule above still holds
        compiled = None
    if compiled and not compiled.search(name):
        return f"{name!r} does not match {service} {shape_name} {pattern}"
    return None


def _accepts(annotation) -> st.SearchStrategy[str]:
    """Values a validator accepts: drawn from its own pattern (every `_matches` of the annotation),
    kept when the whole annotation validates them."""

    def patterns_of(a) -> list[str]:  # Annotated[Annotated[str, ...], ...] nests: look inside too
        found = [m.func.pattern for m in getattr(a, "__metadata__", ()) if hasattr(getattr(m, "func", None), "pattern")]
        inner = getattr(a, "__origin__", None)
        return found + (patterns_of(inner) if inner is not None and inner is not a else [])

    patterns = patterns_of(annotation)
    adapter = TypeAdapter(annotation)

    def ok(value: str) -> bool:
        try:
            adapter.validate_python(value)
        except ValueError:
            return False
        return True

    # a leading length lookahead is left to the filter: from_regex draws far better without it
    return st.from_regex(re.sub(r"^\(\?=[^)]*\)", "", patterns[0]), fullmatch=True).filter(ok)


def _field(model, name: str):
    from typing import Annotated

    info = model.model_fields[name]
    return Annotated[(info.annotation, *info.metadata)]


def _project(tmp: Path, dataset: str, group: str) -> Path:
    """A project whose dev stack has one dataset and one feature group with the generated names."""
    project = tmp / "project"
    if project.exists():
        shutil.rmtree(project)
    shutil.copytree(REPO_ROOT / "stacks", project / "stacks")
    shutil.copy(REPO_ROOT / "Pulumi.yaml", project)
    stacks = project / "stacks"
    doc = yaml.safe_load(next((stacks / "datasets").glob("*.yaml")).read_text())  # any of the fork's
    (stacks / "datasets" / f"{dataset}.yaml").write_text(yaml.safe_dump({**doc, "name": dataset}))
    fg = yaml.safe_load(next((stacks / "features").glob("*.yaml")).read_text())
    (stacks / "features" / f"{group}.yaml").write_text(yaml.safe_dump({**fg, "name": group}))
    return project


# Each example plans a stack (~4 s): a few, derandomized so CI is repeatable, and no shrinking (the
# failing values are printed as drawn).
@settings(
    max_examples=6,
    deadline=None,
    derandomize=True,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.filter_too_much],
)
# The edges each validator allows: the longest values, separators, a header-less CSV column.
@example(
    team="a-b" + "c" * 27,
    pool="p-q" + "r" * 29,
    family="f-" * 21 + "ff",
    endpoint="e-" * 14 + "ee",
    feature="_c0",
    dataset="a_b" + "c" * 28,
    group="g-h" + "i" * 29,
)
@given(
    team=_accepts(_field(TeamSettings, "name")),
    pool=_accepts(_field(GpuPoolSettings, "name")),
    family=_accepts(ModelFamily),
    endpoint=_accepts(_field(EndpointSettings, "name")),
    feature=_accepts(FeatureColumn),
    dataset=_accepts(_field(DatasetDefinition, "name")),
    group=_accepts(_field(FeatureGroupDefinition, "name")),
)
def test_every_accepted_name_yields_valid_names_in_the_plan(
    tmp_path_factory, team, pool, family, endpoint, feature, dataset, group
):
    project = _project(tmp_path_factory.mktemp("names"), dataset, group)
    config = yaml.safe_load((project / "stacks" / "Pulumi.staging.yaml").read_text())["config"]
    training = dict(config["mlplatform:training"])
    # one team, pool and endpoint of the generated names (a fork's file may have none of them)
    training["teams"] = [{"gpuQuota": 1, "cpuQuota": 8, "memoryQuotaGi": 32, "name": team}]
    training["gpuPools"] = [{"instanceFamilies": ["g5"], "capacityTypes": ["spot"], "gpuLimit": 8, "name": pool}]
    serving = dict(config.get("mlplatform:serving") or {})
    # staging (the longest environment name) serves the generated family from the generated endpoint
    served = {"instanceType": "ml.m5.large", "dataCapturePercent": 10, "monitor": {"baselinePrefix": "b/"}}
    served.update(name=endpoint, modelFamily=family)
    serving.update(modelVersions={family: 99999}, endpoints=[served])
    drift = [{"modelFamily": family, "features": [feature], "threshold": 0.2}]
    overrides = {
        "mlplatform:training": training,
        "mlplatform:serving": serving,
        "mlplatform:monitoring": {**config.get("mlplatform:monitoring", {}), "drift": drift},
        "mlplatform:dataQuality": {**config.get("mlplatform:dataQuality", {}), "datasets": [dataset]},
        "mlplatform:featureStore": {**config.get("mlplatform:featureStore", {}), "featureGroups": [group]},
    }
    dev = yaml.safe_load((project / "stacks" / "Pulumi.dev.yaml").read_text())
    dev["config"]["mlplatform:registry"]["modelFamilies"].append(family)
    (project / "stacks" / "Pulumi.dev.yaml").write_text(yaml.safe_dump(dev))
    plan = plan_stack("staging", root=project, overrides={k: json.dumps(v) for k, v in overrides.items()})
    problems = [f"{r.type} {r.name}: {p}" for r in plan if (p := name_problem(r.type, r.inputs))]
    assert problems == []


def test_doubled_separators_are_refused_where_they_would_reach_a_name():
    """`a--b` is a valid Kubernetes namespace but not a part of a physical name (mlplatform-<env>-...),
    so the settings refuse it with the rule, instead of a traceback from the plan."""
    from infra.settings import DatasetName, Name, Namespace

    for annotation, value in ((Name, "p--q"), (Namespace, "a--b"), (DatasetName, "a__b")):
        with pytest.raises(ValueError, match="single"):
            TypeAdapter(annotation).validate_python(value)
    # the stated lengths count the hyphens too (`(-?[a-z0-9]){0,29}` alone allows 59 characters)
    for annotation, value in ((_field(EndpointSettings, "name"), "a-" * 15 + "b"), (ModelFamily, "f-" * 22 + "f")):
        with pytest.raises(ValueError, match="is not valid"):
            TypeAdapter(annotation).validate_python(value)
    for model, value in ((DatasetDefinition, "a__b"), (FeatureGroupDefinition, "g--h")):
        with pytest.raises(ValueError, match="single"):
            TypeAdapter(_field(model, "name")).validate_python(value)


@example(["Amount", "amount"])
@example(["a_b", "a-b", "a.b", "a__b"])
@given(
    st.lists(st.from_regex(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,100}", fullmatch=True), min_size=2, max_size=5, unique=True)
)
@settings(max_examples=200, derandomize=True)
def test_name_part_is_a_valid_part_and_keeps_features_apart(features):
    """Drift alarm keys: any feature gives a part physical_name takes, two features never share one,
    and a plain name (`tenure_days`) reads as itself (`tenure-days`)."""
    from foundation.conventions import _NAME_PART, name_part

    parts = [name_part(f, 100) for f in features]
    assert all(_NAME_PART.match(p) and len(p) <= 100 for p in parts)
    assert len(set(parts)) == len(parts), dict(zip(features, parts, strict=True))
    assert name_part("tenure_days") == "tenure-days" and name_part("amount") == "amount"
