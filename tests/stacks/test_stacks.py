"""What every stack gets from the conventions: one explicit provider, account pinning, tags."""

from __future__ import annotations

import json

from foundation.conventions import REQUIRED_TAG_KEYS, STATEFUL_TYPES
from tests.plans import settings_of


def test_one_explicit_provider_pinned_to_the_stacks_account(any_plan):
    (provider,) = any_plan.of_type("pulumi:providers:aws")
    settings = settings_of(any_plan.stack)
    assert json.loads(provider.inputs["allowedAccountIds"]) == [settings.account_id]
    assert provider.inputs["region"] == settings.region
    tags = json.loads(provider.inputs["defaultTags"])["tags"]
    assert set(tags) == set(REQUIRED_TAG_KEYS)
    assert tags["environment"] == any_plan.stack
    assert tags["managed-by"] == "pulumi"
    assert (tags["cost-center"], tags["owner"]) == (settings.cost_center, settings.owner)


def test_every_aws_resource_uses_the_explicit_provider(any_plan):
    (provider,) = any_plan.of_type("pulumi:providers:aws")
    aws = [r for r in any_plan if r.custom and r.type.startswith("aws:")]
    assert aws, "the stack has AWS resources"
    assert {r.provider for r in aws} == {provider.urn}
    # ...so every ARN is in the stack's own account (S3 ARNs carry no account: the name does)
    arns = [r.outputs["arn"] for r in aws if "arn" in r.outputs]
    assert arns
    account = settings_of(any_plan.stack).account_id
    assert all(f":{account}:" in a or a.startswith("arn:aws:s3:::") for a in arns)


def test_stateful_resources_are_protected_outside_dev(any_plan):
    stateful = [r for r in any_plan if r.type in STATEFUL_TYPES]
    # The account's GitHub OIDC provider is the bootstrap's (ci.oidcProviderArn), not the stack's.
    assert {r.type for r in stateful} <= STATEFUL_TYPES - {"aws:iam/openIdConnectProvider:OpenIdConnectProvider"}
    assert {"aws:kms/key:Key", "aws:s3/bucket:Bucket", "aws:cloudtrail/trail:Trail"} <= {r.type for r in stateful}
    expected = settings_of(any_plan.stack).protect
    for r in stateful:
        assert r.options["protect"] is expected, r.urn
        assert r.options["retainOnDelete"] is expected, r.urn
    # ...and nothing else is: configuration, aliases, roles and the provider can be replaced freely
    assert all(not r.protected for r in any_plan if r.type not in STATEFUL_TYPES)


def test_stack_outputs_describe_the_environment(any_plan):
    out = any_plan.outputs
    assert out["environment"] == any_plan.stack
    assert out["accountId"] == settings_of(any_plan.stack).account_id
    assert set(out["kmsAliases"]) == set(out["kmsKeyArns"])


def test_every_stack_disables_default_providers():
    from pipelines.offline import available_stacks, read_stack_config

    for stack in available_stacks():
        # a resource that forgets the explicit provider fails on a real `pulumi up`
        assert read_stack_config(stack).values["pulumi:disable-default-providers"] == '["*"]'
