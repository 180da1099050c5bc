"""What every stack gets from the conventions: one explicit provider, account pinning, tags."""

from __future__ import annotations

import json

from components.conventions import REQUIRED_TAG_KEYS, STATEFUL_TYPES

ACCOUNTS = {"dev": "111111111111", "staging": "222222222222", "prod": "333333333333"}


def test_one_explicit_provider_pinned_to_the_stacks_account(any_plan):
    (provider,) = any_plan.of_type("pulumi:providers:aws")
    account = ACCOUNTS[any_plan.stack]
    assert json.loads(provider.inputs["allowedAccountIds"]) == [account]
    assert provider.inputs["region"] == "eu-west-1"
    tags = json.loads(provider.inputs["defaultTags"])["tags"]
    assert set(tags) == set(REQUIRED_TAG_KEYS)
    assert tags["environment"] == any_plan.stack
    assert tags["managed-by"] == "pulumi"
    assert tags["cost-center"] == f"ml-platform-{any_plan.stack}"


def test_every_aws_resource_uses_the_explicit_provider(any_plan):
    (provider,) = any_plan.of_type("pulumi:providers:aws")
    aws = [r for r in any_plan if r.custom and r.type.startswith("aws:")]
    assert aws, "the stack has AWS resources"
    assert {r.provider for r in aws} == {provider.urn}
    # ...so every ARN is in the stack's own account (S3 ARNs carry no account: the name does)
    arns = [r.outputs["arn"] for r in aws if "arn" in r.outputs]
    assert arns
    assert all(f":{ACCOUNTS[any_plan.stack]}:" in a or a.startswith("arn:aws:s3:::") for a in arns)


def test_stateful_resources_are_protected_outside_dev(any_plan):
    stateful = [r for r in any_plan if r.type in STATEFUL_TYPES]
    # The account's GitHub OIDC provider is the bootstrap's (ci.oidcProviderArn), not the stack's.
    assert {r.type for r in stateful} == STATEFUL_TYPES - {"aws:iam/openIdConnectProvider:OpenIdConnectProvider"}
    expected = any_plan.stack != "dev"
    for r in stateful:
        assert r.options["protect"] is expected, r.urn
        assert r.options["retainOnDelete"] is expected, r.urn
    # ...and nothing else is: configuration, aliases, roles and the provider can be replaced freely
    assert all(not r.protected for r in any_plan if r.type not in STATEFUL_TYPES)


def test_stack_outputs_describe_the_environment(any_plan):
    out = any_plan.outputs
    assert out["environment"] == any_plan.stack
    assert out["accountId"] == ACCOUNTS[any_plan.stack]
    assert set(out["kmsAliases"]) == set(out["kmsKeyArns"])


def test_the_repository_has_the_three_environments_and_they_disable_default_providers():
    from pipelines.offline import available_stacks, read_stack_config

    assert available_stacks() == sorted(ACCOUNTS)
    for stack in ACCOUNTS:
        # a resource that forgets the explicit provider fails on a real `pulumi up`
        assert read_stack_config(stack).values["pulumi:disable-default-providers"] == '["*"]'
