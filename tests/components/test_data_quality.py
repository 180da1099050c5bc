"""Catalog tables and Glue Data Quality rulesets per dataset, and the failed-evaluation hook."""

from __future__ import annotations

import json

import pytest
from moto.events.models import EventPattern

from components.data_quality import DatasetSpec
from pipelines.semantics import dqdl
from tests.plans import policy, settings_of

TABLE, RULESET = "aws:glue/catalogTable:CatalogTable", "aws:glue/dataQualityRuleset:DataQualityRuleset"


def test_a_catalog_database_per_zone_and_a_table_per_dataset(any_plan):
    env, lake = any_plan.stack, any_plan.outputs["buckets"]
    dbs = {r.inputs["name"]: r.inputs for r in any_plan.of_type("aws:glue/catalogDatabase:CatalogDatabase")}
    assert dbs[f"mlplatform_{env}_raw"]["locationUri"] == f"s3://{lake['raw']}/"
    assert dbs[f"mlplatform_{env}_curated"]["locationUri"] == f"s3://{lake['curated']}/"
    tables = {r.inputs["name"]: r.inputs for r in any_plan.of_type(TABLE)}
    datasets = _datasets(env)
    assert set(tables) == set(datasets)
    for name, d in datasets.items():
        table = tables[name]
        assert table["databaseName"] == f"mlplatform_{env}_{d.zone}"
        sd = table["storageDescriptor"]
        assert sd["location"] == f"s3://{lake[d.zone]}/{d.prefix}"
        assert [(c["name"], c["type"]) for c in sd["columns"]] == [(c.name, c.type) for c in d.columns]
        # the SerDe reads the declared format (Hive's class names, as Athena and Glue expect them)
        serde = sd["serDeInfo"]["serializationLibrary"]
        assert {"parquet": "Parquet", "json": "Json", "csv": "LazySimple"}[d.format] in serde, name


def _datasets(stack: str) -> dict:
    from infra.definitions import load_datasets
    from pipelines.offline import read_stack_config

    names = json.loads(read_stack_config(stack).values.get("mlplatform:dataQuality", "{}")).get("datasets", [])
    return {d.name: d for d in load_datasets(names)}


def test_every_ruleset_accepts_exactly_what_its_dataset_yaml_allows(any_plan):
    """The generated DQDL, parsed and evaluated as Glue's reference parser does, against each declared
    rule: nothing dropped, nothing added, bounds inclusive as the YAML means them."""
    datasets = _datasets(any_plan.stack)
    rulesets = {r.inputs["targetTable"]["tableName"]: r.inputs for r in any_plan.of_type(RULESET)}
    assert set(rulesets) == set(datasets)
    for name, d in datasets.items():
        where = rulesets[name]["targetTable"]["databaseName"]
        assert where == f"mlplatform_{any_plan.stack}_{d.zone}", name
        rules = dqdl.parse(rulesets[name]["ruleset"])
        of = {t: [r for r in rules if r.type == t] for t in dqdl.RULE_TYPES}
        assert {r.columns for r in of["IsComplete"]} == {(c,) for c in d.rules.complete}, name
        keys = [r.columns for r in of["IsUnique"] + of["IsPrimaryKey"]]
        assert keys == ([tuple(d.rules.unique_key)] if d.rules.unique_key else []), name
        assert {r.columns[0] for r in of["ColumnValues"]} == {x.column for x in d.rules.ranges}, name
        for x in d.rules.ranges:
            step = max(abs(x.max - x.min) * 1e-6, 1e-6)
            for inside in (x.min, x.max, (x.min + x.max) / 2):
                assert dqdl.value_accepted(rules, x.column, inside), f"{name}: {x.column}={inside} rejected"
            for outside in (x.min - step, x.max + step):
                assert not dqdl.value_accepted(rules, x.column, outside), f"{name}: {x.column}={outside} accepted"
        fresh = of["DataFreshness"]
        if d.rules.freshness:
            (rule,) = fresh
            hours = d.rules.freshness.max_age_hours
            assert rule.columns == (d.rules.freshness.column,), name
            assert rule.condition.holds(hours) and not rule.condition.holds(hours + 0.01), name
        else:
            assert fresh == [], name
        if d.rules.min_row_count:
            (rule,) = of["RowCount"]
            n = d.rules.min_row_count
            assert rule.condition.holds(n) and not rule.condition.holds(n - 1), name
        else:
            assert of["RowCount"] == [], name


def test_dqdl_model_follows_the_reference_parser():
    # awslabs/dqdl NumberBasedCondition.evaluate: between excludes both ends; >= and <= include theirs.
    between = dqdl.parse('Rules = [ ColumnValues "x" between 0 and 10 ]')
    assert [dqdl.value_accepted(between, "x", v) for v in (0, 5, 10)] == [False, True, False]
    closed = dqdl.parse('Rules = [ ColumnValues "x" >= 0, ColumnValues "x" <= 10 ]')
    assert [dqdl.value_accepted(closed, "x", v) for v in (-0.01, 0, 10, 10.01)] == [False, True, True, False]
    (fresh,) = dqdl.parse('Rules = [ DataFreshness "t" <= 2 days ]')
    assert fresh.condition.holds(48) and not fresh.condition.holds(48.5)
    for bad in (
        'Rules = [ IsComplet "x" ]',  # unknown type: an error, never a silently skipped rule
        'Rules = [ ColumnValues "x" ]',  # no condition
        'Rules = [ IsUnique "x" > 3 ]',  # a condition where none is taken
        'Rules = [ DataFreshness "t" <= 24 ]',  # no unit
        "Rules = [ IsComplete ]",
    ):
        with pytest.raises(ValueError):
            dqdl.parse(bad)


def test_a_composite_key_is_a_primary_key_rule_and_zero_row_minimum_adds_no_rule():
    spec = DatasetSpec(
        name="x",
        description="x",
        zone="raw",
        bucket="b",
        prefix="x/",
        columns=[("a", "string"), ("b", "int")],
        unique_key=("a", "b"),
        ranges=(("b", -1.5, 2),),
        min_row_count=0,
    )
    rules = dqdl.parse(spec.ruleset())
    assert [(r.type, r.columns) for r in rules] == [
        ("IsPrimaryKey", ("a", "b")),
        ("ColumnValues", ("b",)),
        ("ColumnValues", ("b",)),
    ]
    assert dqdl.value_accepted(rules, "b", -1.5) and not dqdl.value_accepted(rules, "b", 2.0001)


def test_the_stack_output_names_every_ruleset(any_plan):
    names = [r.inputs["name"] for r in any_plan.of_type(RULESET)]
    assert sorted(any_plan.outputs["dataQualityRulesets"]) == sorted(names)
    assert all(n.startswith(f"mlplatform-{any_plan.stack}-dq-") for n in names)


def _event(state: str, rulesets: list[str], source: str = "aws.glue-dataquality", score: float = 0.5) -> dict:
    # Shape of Glue Data Quality's "Data Quality Evaluation Results Available" EventBridge event.
    return {
        "version": "0",
        "id": "6f1a8c3e-0000-4000-8000-000000000000",
        "detail-type": "Data Quality Evaluation Results Available",
        "source": source,
        "account": "333333333333",
        "time": "2026-11-28T06:00:00Z",
        "region": "eu-west-1",
        "resources": [],
        "detail": {
            "resultId": "dqresult-1",
            "rulesetNames": rulesets,
            "state": state,
            "score": score,
            "numRulesSucceeded": 4,
            "numRulesFailed": 4,
            "numRulesSkipped": 0,
            "context": {
                "contextType": "GLUE_DATA_CATALOG",
                "databaseName": "mlplatform_prod_raw",
                "tableName": "transactions",
                "catalogId": "333333333333",
            },
        },
    }


def test_failure_rule_matches_failed_evaluations_of_our_rulesets_only(any_plan):
    plan = any_plan
    rule = plan.get("aws:cloudwatch/eventRule:EventRule", "data-quality-failed")
    pattern = json.loads(rule.inputs["eventPattern"])
    matcher = EventPattern(rule.inputs["eventPattern"], pattern)  # moto's EventBridge matcher
    for name in plan.outputs["dataQualityRulesets"]:
        assert matcher.matches_event(_event("FAILED", [name]))
    ours = plan.outputs["dataQualityRulesets"][0]
    assert not matcher.matches_event(_event("SUCCEEDED", [ours]))
    assert not matcher.matches_event(_event("FAILED", ["someone-elses-ruleset"]))
    assert not matcher.matches_event(_event("FAILED", [ours], source="aws.glue"))


def test_each_dataset_alarms_when_an_evaluation_scores_below_its_minimum(any_plan):
    """The evaluation event carries the run's score (Glue guide, data-quality-alerts sample event);
    each dataset's rule matches its own ruleset below the minimum of its YAML, not at or above it."""
    from infra.definitions import load_datasets

    rulesets = {r.inputs["name"]: r for r in any_plan.of_type("aws:glue/dataQualityRuleset:DataQualityRuleset")}
    for d in load_datasets(settings_of(any_plan.stack).data_quality.datasets):
        rule = any_plan.get("aws:cloudwatch/eventRule:EventRule", f"data-quality-{d.name}-low-score")
        matcher = EventPattern(rule.inputs["eventPattern"], json.loads(rule.inputs["eventPattern"]))
        (ours,) = [n for n in rulesets if n.endswith("-dq-" + d.name.replace("_", "-"))]
        below = round(d.min_score - 0.01, 2)
        assert matcher.matches_event(_event("SUCCEEDED", [ours], score=below))
        assert not matcher.matches_event(_event("SUCCEEDED", [ours], score=d.min_score))
        others = [n for n in rulesets if n != ours]
        assert not any(matcher.matches_event(_event("SUCCEEDED", [n], score=0.0)) for n in others)


def test_the_scheduler_starts_only_our_evaluations_passing_only_the_datasets_glue_roles(any_plan):
    env, account = any_plan.stack, any_plan.outputs["accountId"]
    role = any_plan.get("aws:iam/role:Role", "data-quality-scheduler")
    (trust,) = policy(role, "assumeRolePolicy")["Statement"]
    group = any_plan.get("aws:scheduler/scheduleGroup:ScheduleGroup", "data-quality-schedules").inputs["name"]
    assert trust["Principal"] == {"Service": "scheduler.amazonaws.com"}
    # Scheduler's confused-deputy guidance: the source is the schedule group, never a schedule.
    assert trust["Condition"]["ArnEquals"] == {
        "aws:SourceArn": f"arn:aws:scheduler:eu-west-1:{account}:schedule-group/{group}"
    }
    assert trust["Condition"]["StringEquals"] == {"aws:SourceAccount": account}
    statements = {
        s["Sid"]: s
        for s in policy(any_plan.get("aws:iam/rolePolicy:RolePolicy", "data-quality-scheduler"))["Statement"]
    }
    scheduled = [
        json.loads(s.inputs["target"]["input"])
        for s in any_plan.of_type("aws:scheduler/schedule:Schedule")
        if s.inputs["groupName"] == group
    ]
    ruleset_arns = {f"arn:aws:glue:eu-west-1:{account}:dataQualityRuleset/{r['RulesetNames'][0]}" for r in scheduled}
    start = statements["StartEvaluations"]
    assert set([start["Resource"]] if isinstance(start["Resource"], str) else start["Resource"]) == ruleset_arns
    passing = statements["PassGlueRoles"]
    passed = set([passing["Resource"]] if isinstance(passing["Resource"], str) else passing["Resource"])
    assert passed == {r["Role"] for r in scheduled}
    assert all(arn.startswith(f"arn:aws:iam::{account}:role/mlplatform-{env}-data-quality-") for arn in passed)
    assert passing["Condition"] == {"StringEquals": {"iam:PassedToService": "glue.amazonaws.com"}}
    assert (
        role.inputs["permissionsBoundary"]
        == any_plan.get("aws:iam/policy:Policy", "boundaries-scheduler").outputs["arn"]
    )


def test_every_scheduled_dataset_runs_on_its_yaml_schedule(any_plan):
    from infra.definitions import load_datasets

    group = any_plan.get("aws:scheduler/scheduleGroup:ScheduleGroup", "data-quality-schedules").inputs["name"]
    schedules = {
        json.loads(s.inputs["target"]["input"])["DataSource"]["GlueTable"]["TableName"]: s.inputs
        for s in any_plan.of_type("aws:scheduler/schedule:Schedule")
        if s.inputs["groupName"] == group
    }
    datasets = load_datasets(settings_of(any_plan.stack).data_quality.datasets)
    assert set(schedules) == {d.name for d in datasets if d.schedule}
    for d in datasets:
        if d.schedule:
            assert schedules[d.name]["scheduleExpression"] == d.schedule
            assert schedules[d.name]["groupName"] == group
