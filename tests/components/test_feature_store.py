"""Feature groups from their definitions: encrypted online and offline stores, registered in Glue."""

from __future__ import annotations

from infra.definitions import load_feature_groups
from pipelines.offline import plan_stack
from tests.plans import policy, settings_of, stack_plan

GROUP = "aws:sagemaker/featureGroup:FeatureGroup"


def groups(plan) -> dict:
    return {r.inputs["featureGroupName"]: r for r in plan.of_type(GROUP)}


def test_each_declared_group_exists_with_encrypted_stores(any_plan):
    env, data_key = any_plan.stack, any_plan.outputs["kmsKeyArns"]["data"]
    settings = settings_of(env)
    curated = any_plan.outputs["buckets"]["curated"]
    found = groups(any_plan)
    assert set(found) == {f"mlplatform-{env}-{g}" for g in settings.feature_store.feature_groups}
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
        assert g.options["protect"] is settings.protect
    for d in load_feature_groups(settings.feature_store.feature_groups):
        g = found[f"mlplatform-{env}-{d.name}"].inputs
        assert g["recordIdentifierFeatureName"] == d.record_identifier
        assert g["eventTimeFeatureName"] == d.event_time
        assert [(f["featureName"], f["featureType"]) for f in g["featureDefinitions"]] == [
            (f.name, f.type) for f in d.features
        ]
        online = g.get("onlineStoreConfig")
        assert bool(online) is (d.online_store.enabled and settings.feature_store.online_store), d.name
        if online:
            assert online["enableOnlineStore"] is True
            assert online["securityConfig"] == {"kmsKeyId": data_key}
            ttl = d.online_store.ttl
            assert online.get("ttlDuration") == ({"value": ttl.value, "unit": ttl.unit} if ttl else None), d.name


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
    region, groups_ = any_plan.outputs["region"], settings_of(env).feature_store.feature_groups
    arns = sorted(f"arn:aws:sagemaker:{region}:{acct}:feature-group/mlplatform-{env}-{g}" for g in groups_)
    ingest = {
        s["Sid"]: s
        for s in policy(any_plan.get("aws:iam/rolePolicy:RolePolicy", "identity-feature-ingestion"))["Statement"]
    }
    put = ingest["PutFeatureRecordsAllGroups"]
    assert put["Action"] == ["sagemaker:PutRecord", "sagemaker:DescribeFeatureGroup"]
    assert sorted(put["Resource"]) == arns
    for team in settings_of(env).training.teams:
        train = {
            s["Sid"]: s
            for s in policy(any_plan.get("aws:iam/rolePolicy:RolePolicy", f"identity-training-{team.name}"))[
                "Statement"
            ]
        }
        assert train["ReadOfflineFeatureTablesAllGroups"]["Resource"][2] == (
            f"arn:aws:glue:{region}:{acct}:table/mlplatform_{env}_features/*"
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
