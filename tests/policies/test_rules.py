"""Every rule passes on the real stacks; reviewed exceptions; the README's rule table. The failing side of
each check is in test_rule_checks.py."""

from __future__ import annotations

import json

import pytest

from infra.policies.rules import RULES
from pipelines.plan import Plan, Resource
from pipelines.policy_check import evaluate
from tests.plans import STACKS, stack_plan

RULES_BY_ID = {r.name: r for r in RULES}
PROVIDER = "urn:pulumi:{stack}::mlplatform::pulumi:providers:aws::aws"
TAGS = {"tags": {k: "x" for k in ("environment", "owner", "cost-center", "managed-by", "project")}}


def res(
    type_: str, props: dict, *, name: str = "bad", stack: str = "dev", protect: bool = False, provider=True
) -> Resource:
    return Resource(
        urn=f"urn:pulumi:{stack}::mlplatform::{type_}::{name}",
        type=type_,
        name=name,
        parent=None,
        custom=True,
        provider=PROVIDER.format(stack=stack) if provider else None,
        id=name,
        inputs=props,
        outputs=props,
        options={"protect": protect, "retainOnDelete": protect},
        dependencies=[],
    )


def plan_of(*resources: Resource, stack: str = "dev", provider_tags: dict = TAGS) -> Plan:
    provider = res(
        "pulumi:providers:aws", {"defaultTags": json.dumps(provider_tags)}, name="aws", stack=stack, provider=False
    )
    provider = Resource(**{**provider.__dict__, "urn": PROVIDER.format(stack=stack)})
    return Plan(project="mlplatform", stack=stack, resources=[provider, *resources], outputs={})


def doc(*statements: dict) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def test_the_pack_has_unique_rule_ids():
    assert len(RULES) >= 30
    assert len(RULES_BY_ID) == len(RULES)


@pytest.mark.parametrize("stack", STACKS)
def test_every_rule_passes_on_the_real_stack(stack):
    violations = evaluate(stack_plan(stack))
    assert violations == [], "\n".join(f"{v.rule}: {v.path}: {v.message}" for v in violations)


def test_an_unexpired_reviewed_exception_silences_exactly_its_rule_and_resource(tmp_path, monkeypatch):
    import datetime as dt

    from infra.policies import framework

    exceptions = tmp_path / "exceptions.yaml"
    exceptions.write_text(
        "- rule: ecr-scan-on-push\n  resource: 'aws:ecr/repository:Repository::bad'\n"
        "  reason: vendor image, scanned upstream\n  approved_by: security@example.com\n  expires: 2030-01-01\n"
        "- rule: ecr-immutable-tags\n  resource: 'aws:ecr/repository:Repository::bad'\n"
        "  reason: expired\n  approved_by: security@example.com\n  expires: 2020-01-01\n"
    )
    monkeypatch.setattr(framework, "_EXCEPTIONS", framework.load_exceptions(exceptions, today=dt.date(2026, 11, 28)))
    repo = res("aws:ecr/repository:Repository", {"imageTagMutability": "MUTABLE", "imageScanningConfiguration": {}})
    found = {
        v.rule for v in evaluate(plan_of(repo), [RULES_BY_ID["ecr-scan-on-push"], RULES_BY_ID["ecr-immutable-tags"]])
    }
    assert found == {"ecr-immutable-tags"}  # the expired exception no longer applies
    incomplete = tmp_path / "incomplete.yaml"
    incomplete.write_text("- rule: ecr-kms\n  resource: x\n")
    with pytest.raises(ValueError, match="lacks approved_by, expires, reason"):
        framework.load_exceptions(incomplete)


def test_readme_rule_table_is_the_packs():
    from infra.policies.rules import rules_markdown
    from pipelines.offline import REPO_ROOT

    assert rules_markdown() in (REPO_ROOT / "README.md").read_text()
