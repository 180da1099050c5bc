"""Catalog tables and Glue Data Quality rulesets per dataset, and the failed-evaluation hook."""

from __future__ import annotations

import json

from moto.events.models import EventPattern

from components.data_quality import failure_pattern
from tests.plans import stack_plan

TABLE, RULESET = "aws:glue/catalogTable:CatalogTable", "aws:glue/dataQualityRuleset:DataQualityRuleset"


def test_a_catalog_database_per_zone_and_a_table_per_dataset(any_plan):
    env, lake = any_plan.stack, any_plan.outputs["buckets"]
    dbs = {r.inputs["name"]: r.inputs for r in any_plan.of_type("aws:glue/catalogDatabase:CatalogDatabase")}
    assert dbs[f"mlplatform_{env}_raw"]["locationUri"] == f"s3://{lake['raw']}/"
    assert dbs[f"mlplatform_{env}_curated"]["locationUri"] == f"s3://{lake['curated']}/"
    tables = {r.inputs["name"]: r.inputs for r in any_plan.of_type(TABLE)}
    assert set(tables) == {"transactions", "customer_profiles", "product_interactions"}
    txn = tables["transactions"]
    assert txn["databaseName"] == f"mlplatform_{env}_raw"
    sd = txn["storageDescriptor"]
    assert sd["location"] == f"s3://{lake['raw']}/transactions/"
    assert sd["serDeInfo"]["serializationLibrary"] == "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"
    assert {c["name"]: c["type"] for c in sd["columns"]}["amount"] == "decimal(12,2)"


def test_rulesets_are_the_declared_rules_in_dqdl():
    plan = stack_plan("prod")
    rulesets = {r.inputs["targetTable"]["tableName"]: r.inputs for r in plan.of_type(RULESET)}
    assert rulesets["transactions"]["name"] == "mlplatform-prod-dq-transactions"
    assert rulesets["transactions"]["targetTable"]["databaseName"] == "mlplatform_prod_raw"
    assert rulesets["transactions"]["ruleset"] == (
        "Rules = [\n"
        "    RowCount >= 1,\n"
        '    IsComplete "transaction_id",\n'
        '    IsComplete "customer_id",\n'
        '    IsComplete "amount",\n'
        '    IsComplete "event_time",\n'
        '    IsUnique "transaction_id",\n'
        '    ColumnValues "amount" between 0 and 1000000,\n'
        '    DataFreshness "event_time" <= 24 hours\n'
        "]"
    )
    # a composite key becomes a primary-key rule
    assert 'IsPrimaryKey "customer_id" "snapshot_date"' in rulesets["customer_profiles"]["ruleset"]
    assert plan.outputs["dataQualityRulesets"] == [
        "mlplatform-prod-dq-transactions",
        "mlplatform-prod-dq-customer-profiles",
        "mlplatform-prod-dq-product-interactions",
    ]


def _event(state: str, rulesets: list[str], source: str = "aws.glue-dataquality") -> dict:
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
            "score": 0.5,
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


def test_failure_rule_matches_failed_evaluations_of_our_rulesets_only():
    plan = stack_plan("prod")
    rule = plan.get("aws:cloudwatch/eventRule:EventRule", "data-quality-failed")
    pattern = json.loads(rule.inputs["eventPattern"])
    assert pattern == failure_pattern(plan.outputs["dataQualityRulesets"])
    matcher = EventPattern(rule.inputs["eventPattern"], pattern)  # moto's EventBridge matcher
    ours = "mlplatform-prod-dq-transactions"
    assert matcher.matches_event(_event("FAILED", [ours]))
    assert not matcher.matches_event(_event("SUCCEEDED", [ours]))
    assert not matcher.matches_event(_event("FAILED", ["someone-elses-ruleset"]))
    assert not matcher.matches_event(_event("FAILED", [ours], source="aws.glue"))
