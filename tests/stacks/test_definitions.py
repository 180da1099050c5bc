"""Feature-group and dataset definitions: the real files are valid, and mistakes are named precisely."""

from __future__ import annotations

import copy

import pytest
import yaml

from infra.definitions import DefinitionError, load_datasets, load_feature_groups
from pipelines.offline import REPO_ROOT

# Fixtures this test owns (copies of the first example definitions), so that editing or removing the
# examples in a fork changes nothing here.
FEATURES = yaml.safe_load(
    """# Rolling transaction aggregates per customer, for fraud detection.
name: transactions
description: Per-customer transaction aggregates over rolling windows
recordIdentifier: customer_id
eventTime: event_time
onlineStore:
  enabled: true
  ttl: {value: 7, unit: Days}
features:
  - {name: customer_id, type: String}
  - {name: event_time, type: Fractional}
  - {name: txn_count_1h, type: Integral}
  - {name: txn_count_24h, type: Integral}
  - {name: txn_amount_sum_24h, type: Fractional}
  - {name: txn_amount_max_24h, type: Fractional}
  - {name: distinct_merchants_7d, type: Integral}
"""
)
DATASET = yaml.safe_load(
    """# Card transactions as ingested; validated before anything reads them.
name: transactions
description: Card transactions, one row per authorisation
zone: raw
prefix: transactions/
format: parquet
columns:
  - {name: transaction_id, type: string}
  - {name: customer_id, type: string}
  - {name: merchant_id, type: string}
  - {name: amount, type: \"decimal(12,2)\"}
  - {name: currency, type: string}
  - {name: event_time, type: timestamp}
rules:
  complete: [transaction_id, customer_id, amount, event_time]
  uniqueKey: [transaction_id]
  ranges:
    - {column: amount, min: 0, max: 1000000}
  freshness: {column: event_time, maxAgeHours: 24}
  minRowCount: 1
# Glue Data Quality evaluates the rules on this schedule (EventBridge Scheduler expression).
schedule: rate(6 hours)
"""
)


def test_the_repositorys_definitions_are_valid():
    """Every definition file of the repository, and every one a stack selects, loads without a problem."""
    from tests.plans import STACKS, settings_of

    folder = REPO_ROOT / "stacks"
    groups = load_feature_groups(sorted(p.stem for p in (folder / "features").glob("*.yaml")))
    datasets = load_datasets(sorted(p.stem for p in (folder / "datasets").glob("*.yaml")))
    assert all(g.record_identifier in {f.name for f in g.features} for g in groups)
    assert all(d.zone in ("raw", "curated") for d in datasets)
    for stack in STACKS:
        s = settings_of(stack)
        assert {g.name for g in groups} >= set(s.feature_store.feature_groups), stack
        assert {d.name for d in datasets} >= set(s.data_quality.datasets), stack


def _write(tmp_path, folder: str, name: str, doc) -> None:
    (tmp_path / folder).mkdir(exist_ok=True)
    text = doc if isinstance(doc, str) else yaml.safe_dump(doc)
    (tmp_path / folder / f"{name}.yaml").write_text(text)


def _features(**changes):
    doc = copy.deepcopy(FEATURES)
    doc.update(changes)
    return doc


def _feature(i: int, **changes):
    doc = copy.deepcopy(FEATURES)
    doc["features"][i].update(changes)
    return doc


def _dataset(**changes):
    doc = copy.deepcopy(DATASET)
    rules = changes.pop("rules", None)
    doc.update(changes)
    if rules is not None:
        doc["rules"] = {**doc["rules"], **rules} if rules else {}
    return doc


GROUP = "stacks/features/transactions.yaml (feature group 'transactions')"
DS = "stacks/datasets/transactions.yaml (dataset 'transactions')"
BAD_FEATURES = [
    (_feature(2, type="Integer"), f"{GROUP}: features[2].type: must be 'Integral', 'Fractional' or 'String'"),
    (_features(recordIdentifier="account_id"), f"{GROUP}: recordIdentifier: 'account_id' is not one of the features"),
    (_features(eventTime="ts"), f"{GROUP}: eventTime: 'ts' is not one of the features"),
    (_feature(1, type="Integral"), f"{GROUP}: eventTime: must be a String (ISO-8601) or Fractional"),
    (_feature(0, type="Fractional"), f"{GROUP}: recordIdentifier: must be a String or Integral feature"),
    (_feature(3, name="TXN_COUNT_1H"), f"{GROUP}: features: duplicate feature names: TXN_COUNT_1H"),
    (_feature(3, name="write_time"), f"{GROUP}: features[3].name: 'write_time' is reserved by Feature Store"),
    (_feature(3, name="bad name!"), f"{GROUP}: features[3].name: 'bad name!' is not valid"),
    (_features(description=""), f"{GROUP}: description: String should have at least 1 character"),
    (
        _features(onlineStore={"enabled": True, "ttl": {"value": 7, "unit": "Months"}}),
        f"{GROUP}: onlineStore.ttl.unit:",
    ),
    (_features(owner="me"), f"{GROUP}: owner: unknown setting (allowed here: description, eventTime, features"),
    (
        _features(name="Transactions"),
        "stacks/features/transactions.yaml (feature group 'Transactions'): name: 'Transactions' is not valid",
    ),
    (
        _features(name="txns"),
        "stacks/features/transactions.yaml (feature group 'txns'): name: must be 'transactions', the file's name",
    ),
    ("features: [unclosed", "stacks/features/transactions.yaml: not valid YAML"),
]


@pytest.mark.parametrize(("doc", "message"), BAD_FEATURES, ids=[m.split(": ", 1)[1][:40] for _, m in BAD_FEATURES])
def test_bad_feature_group_names_file_group_and_field(tmp_path, doc, message):
    _write(tmp_path, "features", "transactions", doc)
    with pytest.raises(DefinitionError) as caught:
        load_feature_groups(["transactions"], tmp_path)
    assert any(p.startswith(f"  - {message}") for p in caught.value.problems), caught.value


BAD_DATASETS = [
    (_dataset(zone="gold"), f"{DS}: zone: must be 'raw' or 'curated'"),
    (
        _dataset(prefix="transactions"),
        f"{DS}: prefix: 'transactions' is not valid; expected an S3 prefix ending in '/'",
    ),
    (_dataset(columns=[{"name": "amount", "type": "money"}], rules={}), f"{DS}: columns[0].type: 'money' is not valid"),
    (_dataset(rules={"complete": ["amount", "fee"]}), f"{DS}: rules.complete[1]: 'fee' is not a column of the dataset"),
    (_dataset(rules={"uniqueKey": ["txn"]}), f"{DS}: rules.uniqueKey[0]: 'txn' is not a column"),
    (
        _dataset(rules={"ranges": [{"column": "amount", "min": 10, "max": 5}]}),
        f"{DS}: rules.ranges[0]: min (10) must be less than max (5)",
    ),
    (
        _dataset(rules={"freshness": {"column": "event_time", "maxAgeHours": 0}}),
        f"{DS}: rules.freshness.maxAgeHours: must be greater than or equal to 1",
    ),
    (
        _dataset(rules={"freshness": {"column": "updated_at", "maxAgeHours": 4}}),
        f"{DS}: rules.freshness.column: 'updated_at' is not a column",
    ),
    (_dataset(format="avro"), f"{DS}: format: must be 'parquet', 'json' or 'csv'"),
    (
        _dataset(rules={"complete": [], "uniqueKey": [], "ranges": [], "freshness": None}),
        f"{DS}: rules: name at least one rule",
    ),
    (_dataset(rules={"nullable": ["x"]}), f"{DS}: rules.nullable: unknown setting"),
    (_dataset(schedule="daily"), f"{DS}: schedule: 'daily': an EventBridge Scheduler expression: rate(value unit)"),
    (_dataset(schedule="rate(5 minutes)"), f"{DS}: schedule: 'rate(5 minutes)': rate(5 minutes) is more often than"),
    (_dataset(schedule="rate(1 days)"), f"{DS}: schedule: 'rate(1 days)': rate(1 days): write rate(1 day)"),
    (_dataset(schedule="cron(0 5 * * *)"), f"{DS}: schedule: 'cron(0 5 * * *)': cron takes 6 fields"),
    # AWS's cron reference: ? in exactly one of day-of-month and day-of-week
    (_dataset(schedule="cron(0 5 * * * *)"), f"{DS}: schedule: 'cron(0 5 * * * *)': day-of-month and day-of-week:"),
    (_dataset(minScore=1.5), f"{DS}: minScore: must be less than or equal to 1"),
    (
        _dataset(name="t" * 32),
        f"stacks/datasets/transactions.yaml (dataset '{'t' * 32}'): name: '{'t' * 32}' is not valid; expected "
        "lowercase letters, digits and single '_' (a Glue table name), at most 31",
    ),
]


@pytest.mark.parametrize(("doc", "message"), BAD_DATASETS, ids=[m.split(": ", 1)[1][:40] for _, m in BAD_DATASETS])
def test_bad_dataset_names_file_dataset_and_field(tmp_path, doc, message):
    _write(tmp_path, "datasets", "transactions", doc)
    with pytest.raises(DefinitionError) as caught:
        load_datasets(["transactions"], tmp_path)
    assert any(p.startswith(f"  - {message}") for p in caught.value.problems), caught.value


def test_a_missing_definition_names_the_setting_and_what_exists(tmp_path):
    _write(tmp_path, "features", "transactions", FEATURES)
    with pytest.raises(DefinitionError) as caught:
        load_feature_groups(["transactions", "clickstream"], tmp_path, stack="dev")
    (problem,) = caught.value.problems
    # the file to edit is the stack's (its list), or the definition file to write
    assert "stacks/Pulumi.dev.yaml: mlplatform:featureStore.featureGroups names feature group 'clickstream'" in problem
    assert "stacks/features/clickstream.yaml does not exist (available: transactions)" in problem
    with pytest.raises(DefinitionError) as caught:
        load_feature_groups(["transaction"], tmp_path, stack="dev")
    assert "does not exist; did you mean 'transactions'?" in caught.value.problems[0]


def test_every_problem_of_every_file_is_reported_at_once(tmp_path):
    _write(tmp_path, "features", "transactions", _feature(2, type="Integer"))
    _write(tmp_path, "features", "profiles", {**_features(name="profiles"), "eventTime": "nope"})
    with pytest.raises(DefinitionError) as caught:
        load_feature_groups(["transactions", "profiles"], tmp_path)
    assert len(caught.value.problems) == 2
    assert str(caught.value).startswith("2 problems in definition files or the stack's lists of them:")


OWN_DATASET = {
    "name": "payments",
    "description": "a dataset this test owns",
    "zone": "raw",
    "prefix": "payments/",
    "columns": [{"name": "amount", "type": "money"}, {"name": "event_time", "type": "timestamp"}],
    "rules": {"complete": ["amount", "fee"], "freshness": {"column": "updated_at", "maxAgeHours": 0}},
}
OWN_GROUP = {
    "name": "payments",
    "description": "a feature group this test owns",
    "recordIdentifier": "payment_id",
    "eventTime": "ts",
    "features": [{"name": "payment_id", "type": "String"}, {"name": "amount", "type": "Integer"}],
}


@pytest.mark.parametrize(
    ("kind", "doc", "expected"),
    [
        (  # a column of the wrong type, and rules naming columns that do not exist
            "datasets",
            OWN_DATASET,
            ["columns[0].type", "rules.freshness.maxAgeHours", "rules.complete[1]", "rules.freshness.column"],
        ),
        (  # a bad schedule hides nothing either
            "datasets",
            {
                **OWN_DATASET,
                "columns": OWN_DATASET["columns"][1:],
                "schedule": "daily",
                "rules": {"uniqueKey": ["txn"]},
            },
            ["schedule", "rules.uniqueKey[0]"],
        ),
        (  # a feature of an unknown type, and an event time that is not a feature
            "features",
            OWN_GROUP,
            ["features[1].type", "eventTime"],
        ),
    ],
)
def test_a_type_error_does_not_hide_the_files_other_problems(tmp_path, kind, doc, expected):
    """Pydantic skips a model's cross-field validator once a field fails: the reference checks run on
    the file as written, so one run names every problem (issue 17)."""
    _write(tmp_path, kind, doc["name"], doc)
    load = load_datasets if kind == "datasets" else load_feature_groups
    with pytest.raises(DefinitionError) as caught:
        load([doc["name"]], tmp_path)
    paths = [line.split(": ")[1] for line in caught.value.problems]
    assert paths == expected, caught.value.problems


def test_a_snake_case_key_in_a_definition_file_is_unknown(tmp_path):
    """`min_score` is not `minScore`: refused with the spelling to use, never silently taken."""
    for name in sorted(p.stem for p in (REPO_ROOT / "stacks" / "datasets").glob("*.yaml")):
        doc = yaml.safe_load((REPO_ROOT / "stacks" / "datasets" / f"{name}.yaml").read_text())
        _write(tmp_path, "datasets", name, {**doc, "min_score": 0.9})
        with pytest.raises(DefinitionError) as caught:
            load_datasets([name], tmp_path)
        (problem,) = caught.value.problems
        assert "min_score: unknown setting; did you mean 'minScore'?" in problem
