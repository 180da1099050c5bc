"""Day-2 changes apply: `pulumi up` from each stack to the same stack after the changes an engineer
makes on an ordinary day (another instance type, version, capture rate, baseline, zone, node type),
as the engine and the Terraform bridge would run it (pipelines/semantics/replacement.py, with the
ForceNew attributes of foundation/upstream/force_new.json). In that sequence of steps:

- no resource is created beside an old one under the same name (AWS: "already exists");
- no endpoint is updated to another instance type while its variant is registered with autoscaling
  (SageMaker guide, endpoint-scaling-update: "the update fails");
- no endpoint loses the configuration and model it serves before it has moved off them (a blue/green
  rollback returns to them);
- no stateful resource is replaced.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import cache

import pytest

from foundation.conventions import STATEFUL_TYPES
from pipelines.offline import REPO_ROOT
from pipelines.plan import Plan, Resource
from pipelines.semantics.replacement import State, Step, terraform_provider, update
from tests.invariants.variants import DAY_TWO, day_two_plan, plan_of

TABLE = json.loads((REPO_ROOT / "foundation" / "upstream" / "force_new.json").read_text())
FORCE_NEW = {t: row["force_new"] for t, row in TABLE["types"].items()}
ENDPOINT = "aws:sagemaker/endpoint:Endpoint"
CONFIG = "aws:sagemaker/endpointConfiguration:EndpointConfiguration"
MODEL = "aws:sagemaker/model:Model"
TARGET = "aws:appautoscaling/target:Target"
JOB_DEFINITION = "aws:sagemaker/dataQualityJobDefinition:DataQualityJobDefinition"

# What two resources of a type may not share (AWS refuses the second); by default its name.
IDENTITY: dict[str, tuple[str, ...]] = {
    "aws:s3/bucket:Bucket": ("bucket",),
    "aws:ec2/securityGroup:SecurityGroup": ("vpcId", "name"),
    "aws:eks/nodeGroup:NodeGroup": ("clusterName", "nodeGroupName"),
    "aws:eks/addon:Addon": ("clusterName", "addonName"),
    "aws:eks/accessEntry:AccessEntry": ("clusterName", "principalArn"),
    "aws:eks/accessPolicyAssociation:AccessPolicyAssociation": ("clusterName", "principalArn", "policyArn"),
    "aws:eks/podIdentityAssociation:PodIdentityAssociation": ("clusterName", "namespace", "serviceAccount"),
    "aws:sagemaker/featureGroup:FeatureGroup": ("featureGroupName",),
    "aws:cloudwatch/dashboard:Dashboard": ("dashboardName",),
    "aws:cloudwatch/eventTarget:EventTarget": ("rule", "targetId"),
    "aws:cloudwatch/logMetricFilter:LogMetricFilter": ("logGroupName", "name"),
    "aws:glue/catalogTable:CatalogTable": ("databaseName", "name"),
    "aws:iam/rolePolicy:RolePolicy": ("role", "name"),
    "aws:appautoscaling/target:Target": ("resourceId", "scalableDimension"),
    "aws:appautoscaling/policy:Policy": ("resourceId", "name"),
    "aws:scheduler/schedule:Schedule": ("groupName", "name"),
    "aws:codebuild/webhook:Webhook": ("projectName",),
    "aws:iam/serviceLinkedRole:ServiceLinkedRole": ("awsServiceName", "customSuffix"),
}


def _order(plan: Plan) -> list[Resource]:
    """The resources in an order the program could register them (dependencies first): the
    snapshot's order, which the engine walks."""
    by_urn = {r.urn: r for r in plan.resources}
    done: dict[str, None] = {}

    def visit(urn: str) -> None:
        if urn in done or urn not in by_urn:
            return
        r = by_urn[urn]
        for dep in sorted({*r.dependencies, *(u for us in r.property_dependencies.values() for u in us)}):
            visit(dep)
        if r.parent:
            visit(r.parent)
        done[urn] = None

    for urn in sorted(by_urn):
        visit(urn)
    return [by_urn[u] for u in done]


def _state(r: Resource) -> State:
    return State(
        urn=r.urn,
        type=r.type,
        inputs=r.inputs,
        dependencies=tuple(r.dependencies),
        property_dependencies={k: tuple(v) for k, v in r.property_dependencies.items()},
        provider=r.provider,
        delete_before_replace=r.options.get("deleteBeforeReplace"),
        replace_on_changes=tuple(r.options.get("replaceOnChanges") or ()),
    )


def _identity(r: Resource) -> tuple | None:
    keys = IDENTITY.get(r.type, ("name",))
    values = tuple(json.dumps(r.inputs.get(k), sort_keys=True) for k in keys)
    return (r.type, *values) if keys and any(k in r.inputs for k in keys) else None


@cache
def _run(name: str) -> tuple[Plan, Plan, tuple[Step, ...]]:
    before, after = plan_of(DAY_TWO[name][0]), day_two_plan(name)
    provider = terraform_provider(FORCE_NEW, named=_named, renamed=TABLE["bridge"]["renamed"])
    steps = update([_state(r) for r in _order(before)], [_state(r) for r in _order(after)], provider)
    return before, after, tuple(steps)


def _named(s: State) -> bool:
    """The program gave an auto-named property (the bridge then replaces delete-before-replace)."""
    bridge = TABLE["bridge"]
    prop = bridge["name_property"].get(s.type, bridge["name_property"]["default"])
    return s.type not in bridge["not_autonamed"] and prop in s.inputs


@pytest.fixture(params=sorted(DAY_TWO))
def day_two(request) -> str:
    return request.param


def test_a_day_two_change_creates_nothing_beside_an_old_one_of_the_same_name(day_two):
    before, after, steps = _run(day_two)
    old = {r.urn: r for r in before.resources}
    new = {r.urn: r for r in after.resources}
    live = {_identity(r): r.urn for r in before.resources if _identity(r)}
    collisions = []
    for step in steps:
        if step.op in ("delete", "delete-replaced") and step.urn in old and _identity(old[step.urn]):
            live.pop(_identity(old[step.urn]), None)
        elif step.op in ("create", "create-replacement") and _identity(new[step.urn]):
            key = _identity(new[step.urn])
            if key in live:
                collisions.append(f"{step.urn} while {live[key]} still exists")
            live[key] = step.urn
    assert not collisions, collisions


def _variant_types(plan: Plan) -> dict[str, dict[str, str]]:
    """endpoint name -> variant -> instance type, from the configuration each endpoint names."""
    configs = {c.inputs["name"]: c.inputs for c in plan.of_type(CONFIG)}
    return {
        e.inputs["name"]: {
            v["variantName"]: v["instanceType"] for v in configs[e.inputs["endpointConfigName"]]["productionVariants"]
        }
        for e in plan.of_type(ENDPOINT)
    }


def test_no_endpoint_changes_instance_type_while_registered_with_autoscaling(day_two):
    before, after, steps = _run(day_two)
    old, new = {r.urn: r for r in before.resources}, {r.urn: r for r in after.resources}
    was, becomes = _variant_types(before), _variant_types(after)
    registered = {r.urn: r.inputs["resourceId"] for r in before.of_type(TARGET)}
    changed_any = False
    for step in steps:
        resource = new.get(step.urn) or old[step.urn]
        if resource.type == TARGET:
            if step.op in ("delete", "delete-replaced"):
                registered.pop(step.urn, None)
            elif step.op in ("create", "create-replacement"):
                registered[step.urn] = resource.inputs["resourceId"]
        if resource.type == ENDPOINT and step.op == "update":
            endpoint = resource.inputs["name"]
            for variant, itype in becomes[endpoint].items():
                if was.get(endpoint, {}).get(variant, itype) != itype:
                    changed_any = True
                    rid = f"endpoint/{endpoint}/variant/{variant}"
                    assert rid not in registered.values(), f"UpdateEndpoint of {endpoint} fails: {rid} is registered"
    assert changed_any, "the day-2 change must change an autoscaled endpoint's instance type"


def test_an_endpoint_keeps_what_it_serves_until_it_has_moved(day_two):
    before, _, steps = _run(day_two)
    old = {r.urn: r for r in before.resources}
    configs = {c.inputs["name"]: c for c in before.of_type(CONFIG)}
    models = {m.inputs["name"]: m for m in before.of_type(MODEL)}
    for endpoint in before.of_type(ENDPOINT):
        config = configs[endpoint.inputs["endpointConfigName"]]
        served = [config.urn] + [models[v["modelName"]].urn for v in config.inputs["productionVariants"]]
        moved = next(i for i, s in enumerate(steps) if s.urn == endpoint.urn)
        early = [s for s in steps[:moved] if s.urn in served and s.op in ("delete", "delete-replaced")]
        assert not early, f"{endpoint.inputs['name']}: {[(s.op, old[s.urn].inputs['name']) for s in early]}"


def test_the_cluster_never_runs_without_its_system_nodes(day_two):
    """A node group that must be replaced (another instance type, another zone's subnet) comes up
    before the old one goes, and the day's change does replace one."""
    before, _, steps = _run(day_two)
    groups = {r.urn for r in before.of_type("aws:eks/nodeGroup:NodeGroup")}
    replaced = {s.urn for s in steps if s.urn in groups and s.op == "replace"}
    assert replaced
    for urn in replaced:
        ops = [s.op for s in steps if s.urn == urn]
        assert ops.index("create-replacement") < ops.index("delete-replaced"), (urn, ops)


def test_a_monitoring_schedule_keeps_its_job_definition_until_it_has_moved(day_two):
    before, _, steps = _run(day_two)
    definitions = {d.inputs["name"]: d.urn for d in before.of_type(JOB_DEFINITION)}
    for schedule in before.of_type("aws:sagemaker/monitoringSchedule:MonitoringSchedule"):
        used = definitions[schedule.inputs["monitoringScheduleConfig"]["monitoringJobDefinitionName"]]
        moved = next(i for i, s in enumerate(steps) if s.urn == schedule.urn)
        assert not [s for s in steps[:moved] if s.urn == used and s.op in ("delete", "delete-replaced")]


def test_a_day_two_change_replaces_no_stateful_resource(day_two):
    before, _, steps = _run(day_two)
    types: Mapping[str, str] = {r.urn: r.type for r in before.resources}
    replaced = sorted({s.urn for s in steps if s.op == "replace" and types.get(s.urn) in STATEFUL_TYPES})
    assert not replaced, replaced


def test_the_table_covers_every_aws_type_the_plans_create():
    """Every type is read from the provider (ForceNew attributes with their source), or named as having
    nothing to collide by; and every ForceNew path names an input the pulumi_aws type has."""
    import importlib

    types = {r.type for name in sorted(DAY_TWO) for r in _run(name)[1].resources if r.type.startswith("aws:")}
    assert not types - set(TABLE["types"]) - set(TABLE["unnamed"]), sorted(types - set(TABLE["types"]))
    missing = []
    for token, row in TABLE["types"].items():
        module, _, kind = token.removeprefix("aws:").partition(":")
        package = module.split("/")[0]
        args = getattr(
            importlib.import_module(f"pulumi_aws.{package}{'_' if package == 'lambda' else ''}"), f"{kind}Args"
        )
        for attribute in {p.split(".")[0] for p in row["force_new"]}:
            ours = TABLE["bridge"]["renamed"].get(token, {}).get(attribute, attribute)
            missing += [] if any(hasattr(args, n) for n in (ours, f"{ours}s", f"{ours}es")) else [(token, attribute)]
    assert not missing, missing
