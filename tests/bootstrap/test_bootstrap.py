"""The account bootstrap: what each stack creates, and that it is created securely.

These hold for any valid bootstrap stack; the expected values come from the stack's own settings.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipelines.offline import read_stack_config
from pipelines.plan import Plan, Resource
from pipelines.semantics.iam import Principal
from pipelines.semantics.s3 import Setting, decide
from tests.access import catalogue
from tests.bootstrap.conftest import BOOTSTRAP, bootstrap_plan

STATEFUL = (
    "aws:s3/bucket:Bucket",
    "aws:kms/key:Key",
    "aws:iam/openIdConnectProvider:OpenIdConnectProvider",
)


def settings(plan: Plan) -> dict:
    values = read_stack_config(plan.stack, BOOTSTRAP).values
    return {k.removeprefix("bootstrap:"): v for k, v in values.items() if k.startswith("bootstrap:")}


def principals_of(plan: Plan, key: str) -> list[str]:
    return json.loads(settings(plan).get(key, "[]"))


def only(plan: Plan, type_: str) -> Resource:
    found = plan.of_type(type_)
    assert len(found) == 1, f"{len(found)} resources of type {type_}"
    return found[0]


def statements(resource: Resource, prop: str) -> list[dict]:
    return json.loads(resource.inputs[prop])["Statement"]


def test_every_resource_uses_the_one_provider_pinned_to_the_stack_account(plan):
    s = settings(plan)
    provider = only(plan, "pulumi:providers:aws")
    assert json.loads(provider.inputs["allowedAccountIds"]) == [s["accountId"]]
    assert provider.inputs["region"] == s["region"]
    tags = json.loads(provider.inputs["defaultTags"])["tags"]
    assert tags["environment"] == s["environment"] and tags["managed-by"] == "pulumi"
    for r in plan:
        if r.custom and r is not provider:
            assert r.provider == provider.urn, r.name
    assert read_stack_config(plan.stack, BOOTSTRAP).values["pulumi:disable-default-providers"] == '["*"]'


def test_state_bucket_is_versioned_private_and_encrypted_with_the_secrets_key(plan):
    s = settings(plan)
    bucket = only(plan, "aws:s3/bucket:Bucket")
    name = f"mlplatform-{s['environment']}-pulumi-state-{s['accountId']}-{s['region']}"
    assert bucket.inputs["bucket"] == name and len(name) <= 63
    assert not bucket.inputs.get("forceDestroy")
    block = only(plan, "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock").inputs
    assert all(
        block[k] is True for k in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
    )
    ownership = only(plan, "aws:s3/bucketOwnershipControls:BucketOwnershipControls").inputs
    assert ownership["rule"]["objectOwnership"] == "BucketOwnerEnforced"
    versioning = only(plan, "aws:s3/bucketVersioning:BucketVersioning").inputs
    assert versioning["versioningConfiguration"]["status"] == "Enabled"
    sse = only(plan, "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration")
    [rule] = sse.inputs["rules"]
    key = only(plan, "aws:kms/key:Key")
    assert rule["applyServerSideEncryptionByDefault"] == {
        "sseAlgorithm": "aws:kms",
        "kmsMasterKeyId": key.outputs["arn"],
    }
    assert rule["bucketKeyEnabled"] is True
    for sub in plan:
        if sub.type.startswith("aws:s3/bucket") and sub is not bucket:
            assert sub.inputs["bucket"] == name, sub.type


# The AWS managed policy AdministratorAccess (arn:aws:iam::aws:policy/AdministratorAccess): Allow * on *.
ADMINISTRATOR_ACCESS = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}


def state_bucket_setting(plan: Plan, identity=(ADMINISTRATOR_ACCESS,), boundary=None) -> Setting:
    key = only(plan, "aws:kms/key:Key")
    return Setting(
        region=settings(plan)["region"],
        bucket_policy=json.loads(only(plan, "aws:s3/bucketPolicy:BucketPolicy").inputs["policy"]),
        default_key=key.outputs["arn"],
        key_policies={key.outputs["arn"]: json.loads(key.inputs["policy"])},
        identity=tuple(identity),
        boundary=boundary,
        account=settings(plan)["accountId"],
    )


def test_the_pulumi_backend_reads_and_writes_its_state_and_nothing_else_gets_in(plan):
    """Every request the backend sends (with the bootstrap's backendUrl, and without its ssetype),
    as ml-platform-admins, passes the bucket and key policies; the refused shapes do not."""
    setting = state_bucket_setting(plan)
    bucket, key = only(plan, "aws:s3/bucket:Bucket").outputs["bucket"], setting.default_key
    admin = Principal(f"arn:aws:sts::{settings(plan)['accountId']}:assumed-role/ml-platform-admins/engineer")
    for shape in catalogue.PULUMI_STATE:
        for call in shape.at(bucket, ".pulumi/stacks/mlplatform/dev.json", key):
            decision = decide(call, admin, setting)
            assert decision, f"{shape.name}: {call.operation} refused: {decision.why}"
    for shape in catalogue.REFUSED:
        for call in shape.at(bucket, ".pulumi/stacks/mlplatform/dev.json", key):
            assert not decide(call, admin, setting), f"{shape.name}: {call.operation} let through"


def test_the_backend_url_names_the_state_key_so_every_write_says_so(plan):
    # gocloud.dev blob/s3blob accepts ssetype and kmskeyid and refuses unknown parameters.
    url = plan.outputs["backendUrl"]
    base, _, query = url.partition("?")
    params = dict(p.split("=", 1) for p in query.split("&"))
    assert base == f"s3://{only(plan, 'aws:s3/bucket:Bucket').outputs['bucket']}"
    assert params == {
        "region": settings(plan)["region"],
        "awssdk": "v2",
        "ssetype": "aws:kms",
        "kmskeyid": only(plan, "aws:kms/key:Key").outputs["arn"],
    }


def test_state_bucket_policy_grants_nothing_and_comes_after_the_public_access_block(plan):
    policy = only(plan, "aws:s3/bucketPolicy:BucketPolicy")
    assert all(st["Effect"] == "Deny" for st in statements(policy, "policy"))  # the policy grants nothing
    # applied after the public access block, so a window with a public bucket never exists
    block = only(plan, "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock")
    assert block.urn in policy.dependencies


def test_old_state_versions_expire_and_incomplete_uploads_are_aborted(plan):
    lifecycle = only(plan, "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration")
    [rule] = lifecycle.inputs["rules"]
    assert rule["status"] == "Enabled" and rule["filter"] == {"prefix": ""}
    assert rule["noncurrentVersionExpiration"] == {"noncurrentDays": 90}
    assert rule["abortIncompleteMultipartUpload"] == {"daysAfterInitiation": 7}
    assert "expiration" not in rule  # current state is never expired
    assert only(plan, "aws:s3/bucketVersioning:BucketVersioning").urn in lifecycle.dependencies


@pytest.mark.parametrize("stack", ["staging", "prod"])
def test_stateful_resources_are_protected_and_retained_outside_dev(stack):
    plan = bootstrap_plan(stack)
    for type_ in STATEFUL:
        options = only(plan, type_).options
        assert (options["protect"], options["retainOnDelete"]) == (True, True), type_


def test_dev_can_be_torn_down():
    plan = bootstrap_plan("dev")
    assert settings(plan)["protect"] == "false"
    assert not any(r.protected or r.options.get("retainOnDelete") for r in plan)


def test_secrets_key_rotates_and_only_the_account_administers_it(plan):
    s = settings(plan)
    key = only(plan, "aws:kms/key:Key").inputs
    assert key["enableKeyRotation"] is True
    assert key["deletionWindowInDays"] == (7 if s["environment"] == "dev" else 30)
    assert key["keyUsage"] == "ENCRYPT_DECRYPT" and key["multiRegion"] is False
    assert key["bypassPolicyLockoutSafetyCheck"] is False
    [root] = json.loads(key["policy"])["Statement"]
    assert root["Principal"] == {"AWS": f"arn:aws:iam::{s['accountId']}:root"}
    alias = only(plan, "aws:kms/alias:Alias")
    assert alias.inputs["name"] == f"alias/mlplatform-{s['environment']}-pulumi-secrets"
    assert alias.property_dependencies == {"targetKeyId": [only(plan, "aws:kms/key:Key").urn]}


def test_github_oidc_provider_trusts_github_actions_for_sts(plan):
    oidc = only(plan, "aws:iam/openIdConnectProvider:OpenIdConnectProvider").inputs
    assert oidc["url"] == "https://token.actions.githubusercontent.com"
    assert oidc["clientIdLists"] == ["sts.amazonaws.com"]
    assert not oidc.get("thumbprintLists")  # IAM uses its trusted root CAs for GitHub


def _trust(plan: Plan, role_name: str) -> dict:
    role = next(r for r in plan.of_type("aws:iam/role:Role") if r.inputs["name"] == role_name)
    assert role.inputs["maxSessionDuration"] == 3600
    [st] = statements(role, "assumeRolePolicy")
    assert st["Effect"] == "Allow" and st["Action"] == "sts:AssumeRole"
    assert st["Condition"] == {
        "Bool": {"aws:MultiFactorAuthPresent": "true"},
        "NumericLessThan": {"aws:MultiFactorAuthAge": "3600"},
    }
    principals = st["Principal"]["AWS"]
    return {"role": role, "principals": sorted([principals] if isinstance(principals, str) else principals)}


def test_admin_role_trusts_exactly_the_admin_principals_with_mfa_and_is_administrator(plan):
    trust = _trust(plan, "ml-platform-admins")
    assert trust["principals"] == sorted(principals_of(plan, "adminPrincipals"))
    [attachment] = plan.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment")
    assert attachment.inputs == {
        "role": "ml-platform-admins",
        "policyArn": "arn:aws:iam::aws:policy/AdministratorAccess",
    }


def test_approvers_role_trusts_the_approver_principals_or_the_account_with_mfa_and_may_do_nothing(plan):
    trust = _trust(plan, "ml-model-approvers")
    configured = principals_of(plan, "approverPrincipals")
    assert trust["principals"] == sorted(configured or [f"arn:aws:iam::{settings(plan)['accountId']}:root"])
    role_name = trust["role"].outputs["name"]
    assert not [r for r in plan if r.custom and r.inputs.get("role") == role_name]  # no policy of its own


def test_the_account_root_default_is_exercised():
    assert principals_of(bootstrap_plan("staging"), "approverPrincipals") == []


def test_outputs_are_what_the_platform_stacks_need(plan):
    s = settings(plan)
    out = plan.outputs
    bucket = only(plan, "aws:s3/bucket:Bucket").outputs["bucket"]
    assert out == {
        "backendUrl": f"s3://{bucket}?region={s['region']}&awssdk=v2&ssetype=aws:kms&kmskeyid={out['secretsKeyArn']}",
        "secretsProvider": f"awskms://alias/mlplatform-{s['environment']}-pulumi-secrets?region={s['region']}",
        "stateBucket": bucket,
        "secretsKeyArn": only(plan, "aws:kms/key:Key").outputs["arn"],
        "oidcProviderArn": f"arn:aws:iam::{s['accountId']}:oidc-provider/token.actions.githubusercontent.com",
        "codeConnectionArn": only(plan, "aws:codestarconnections/connection:Connection").outputs["arn"],
        "adminRoleArn": f"arn:aws:iam::{s['accountId']}:role/ml-platform-admins",
        "approversRoleArn": f"arn:aws:iam::{s['accountId']}:role/ml-model-approvers",
    }


def test_the_platform_stack_of_the_same_environment_names_the_roles_the_bootstrap_creates(plan):
    platform = read_stack_config(plan.stack).values
    assert settings(plan)["accountId"] == platform["mlplatform:accountId"]
    training = json.loads(platform["mlplatform:training"])
    identity = json.loads(platform["mlplatform:identity"])
    assert plan.outputs["adminRoleArn"] in training["adminPrincipals"]
    assert plan.outputs["approversRoleArn"] in identity["approverPrincipals"]
    ci = json.loads(platform["mlplatform:ci"])
    assert ci["oidcProviderArn"] == plan.outputs["oidcProviderArn"]
    # the connection's id is AWS's: the platform stack names one of this account, of the GitHub kind
    (connection,) = plan.of_type("aws:codestarconnections/connection:Connection")
    assert connection.inputs["providerType"] == "GitHub"
    assert f":{settings(plan)['accountId']}:connection/" in ci["codeConnectionArn"]


@pytest.mark.parametrize("stack", ["dev", "staging", "prod"])
def test_every_deployed_resource_keeps_its_identity(stack):
    """A deployed account's bootstrap state holds the URNs of deployed_urns.txt: each is still a
    resource of the program, or the alias of one of the same type and name, so a refactor moves
    nothing (the engine would otherwise delete the state bucket's resources and create new ones)."""
    lines = (Path(__file__).with_name("deployed_urns.txt")).read_text().splitlines()
    deployed = [u.format(stack=stack) for u in lines if u and not u.startswith("#")]
    plan = bootstrap_plan(stack)
    answers = {r.urn: r for r in plan} | {a: r for r in plan for a in r.options.get("aliases", [])}
    for urn in deployed:
        assert urn in answers, f"{urn} is neither a resource nor an alias: the engine would delete it"
        resource = answers[urn]
        # an alias keeps a resource's identity only for the same resource
        assert (resource.type, resource.name) == (urn.split("::")[2].split("$")[-1], urn.split("::")[3]), urn
    # and nothing new but the component that now holds the state bucket
    new = sorted(
        r.type for r in plan if r.urn not in deployed and not set(r.options.get("aliases", [])) & set(deployed)
    )
    assert new == ["mlplatform:storage:SecureBucket"]
