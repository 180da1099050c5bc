"""Feature groups from their definitions: encrypted online and offline stores, registered in Glue."""

from __future__ import annotations

from pipelines.offline import plan_stack
from tests.plans import policy, stack_plan

GROUP = "aws:sagemaker/featureGroup:FeatureGroup"


def groups(plan) -> dict:
    return {r.inputs["featureGroupName"]: r for r in plan.of_type(GROUP)}


def test_each_stack_has_the_three_example_groups_with_encrypted_stores(any_plan):
    env, data_key = any_plan.stack, any_plan.outputs["kmsKeyArns"]["data"]
    curated = any_plan.outputs["buckets"]["curated"]
    found = groups(any_plan)
    assert set(found) == {f"mlplatform-{env}-{g}" for g in ("customer-profile", "transactions", "product-interactions")}
    for name, g in found.items():
        offline = g.inputs["offlineStoreConfig"]
        assert offline["s3StorageConfig"] == {"s3Uri": f"s3://{curated}/features", "kmsKeyId": data_key}
        table = name.removeprefix(f"mlplatform-{env}-").replace("-", "_")
        assert offline["dataCatalogConfig"] == {
            "catalog": "AwsDataCatalog",
            "database": f"mlplatform_{env}_features",
            "tableName": table,
        }
        assert offline["disableGlueTableCreation"] is False
        assert (
            g.inputs["roleArn"] == f"arn:aws:iam::{any_plan.outputs['accountId']}:role/mlplatform-{env}-feature-store"
        )
        assert g.options["protect"] is (env != "dev")
        online = g.inputs.get("onlineStoreConfig")
        if online:
            assert online["enableOnlineStore"] is True
            assert online["securityConfig"] == {"kmsKeyId": data_key}
    profile = found[f"mlplatform-{env}-customer-profile"].inputs
    assert profile["onlineStoreConfig"]["ttlDuration"] == {"value": 30, "unit": "Days"}
    assert profile["recordIdentifierFeatureName"] == "customer_id"
    assert {f["featureName"]: f["featureType"] for f in profile["featureDefinitions"]}["lifetime_value"] == "Fractional"
    assert "onlineStoreConfig" not in found[f"mlplatform-{env}-product-interactions"].inputs


def test_the_stack_can_turn_every_online_store_off():
    plan = plan_stack(
        "dev", overrides={"mlplatform:featureStore": {"featureGroups": ["transactions"], "onlineStore": False}}
    )
    (g,) = plan.of_type(GROUP)
    assert "onlineStoreConfig" not in g.inputs


def test_feature_store_service_role_writes_only_the_offline_store(any_plan):
    env, curated = any_plan.stack, any_plan.outputs["buckets"]["curated"]
    role = any_plan.get("aws:iam/role:Role", "features-service")
    (trust,) = policy(role, "assumeRolePolicy")["Statement"]
    assert trust["Principal"] == {"Service": "sagemaker.amazonaws.com"}
    assert trust["Condition"] == {"StringEquals": {"aws:SourceAccount": any_plan.outputs["accountId"]}}
    assert role.property_dependencies["permissionsBoundary"] == [
        any_plan.get("aws:iam/policy:Policy", "boundaries-workload").urn
    ]
    sts = {s["Sid"]: s for s in policy(any_plan.get("aws:iam/rolePolicy:RolePolicy", "features-service"))["Statement"]}
    assert sts["WriteLakeCuratedFeaturesObjects"]["Resource"] == f"arn:aws:s3:::{curated}/features/*"
    assert sts["RegisterOfflineTables"]["Resource"][1].endswith(f":database/mlplatform_{env}_features")
    assert not [s for s in sts.values() if "s3:DeleteObject" in str(s["Action"])]


def test_ingestion_puts_records_and_training_queries_the_offline_store(any_plan):
    env, acct = any_plan.stack, any_plan.outputs["accountId"]
    arns = sorted(f"arn:aws:sagemaker:eu-west-1:{acct}:feature-group/mlplatform-{env}-{g}"
                  for g in ("customer-profile", "transactions", "product-interactions"))  # fmt: skip
    ingest = {
        s["Sid"]: s
        for s in policy(any_plan.get("aws:iam/rolePolicy:RolePolicy", "identity-feature-ingestion"))["Statement"]
    }
    put = ingest["PutFeatureRecordsAllGroups"]
    assert put["Action"] == ["sagemaker:PutRecord", "sagemaker:DescribeFeatureGroup"]
    assert sorted(put["Resource"]) == arns
    train = {
        s["Sid"]: s
        for s in policy(any_plan.get("aws:iam/rolePolicy:RolePolicy", "identity-training-recsys"))["Statement"]
    }
    assert train["ReadOfflineFeatureTablesAllGroups"]["Resource"][2] == (
        f"arn:aws:glue:eu-west-1:{acct}:table/mlplatform_{env}_features/*"
    )
    # no workload may delete records or groups (only CI tears down dev)
    every = str([policy(r) for r in any_plan.of_type("aws:iam/rolePolicy:RolePolicy") if "-ci-" not in r.name])
    assert "sagemaker:DeleteRecord" not in every and "sagemaker:DeleteFeatureGroup" not in every


def test_offline_store_path_is_in_the_training_roles_grant():
    plan = stack_plan("dev")
    train = {
        s["Sid"]: s for s in policy(plan.get("aws:iam/rolePolicy:RolePolicy", "identity-training-fraud"))["Statement"]
    }
    curated = plan.outputs["buckets"]["curated"]
    assert train["ReadLakeCuratedFeaturesObjects"]["Resource"] == f"arn:aws:s3:::{curated}/features/*"
