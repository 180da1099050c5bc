"""Every rule passes on the real stacks; reviewed exceptions; the documented rule table. The failing side of
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
def test_every_mandatory_rule_passes_on_the_real_stack(stack):
    """A stack may carry advice (an advisory rule, such as a GPU ceiling above its budget outside prod:
    a fork that adds capacity gets it); it must pass every mandatory rule."""
    violations = [v for v in evaluate(stack_plan(stack)) if v.mandatory]
    assert violations == [], "\n".join(f"{v.rule}: {v.path}: {v.message}" for v in violations)


def test_an_unexpired_reviewed_exception_silences_exactly_its_rule_and_resource(tmp_path, monkeypatch):
    import datetime as dt

    from infra.policies import framework

    exceptions = tmp_path / "exceptions.yaml"
    exceptions.write_text(
        "- rule: ecr-scan-on-push\n  resource: 'aws:ecr/repository:Repository::bad'\n"
        "  reason: vendor image, scanned upstream\n  approved_by: security@example.com\n  expires: 2030-01-01\n"
        "- rule: ecr-immutable-tags\n  resource: 'aws:ecr/repository:Repository::bad'\n"
        "  reason: expired migration window of INC-2\n  approved_by: security@example.com\n  expires: 2020-01-01\n"
    )
    monkeypatch.setattr(framework, "_EXCEPTIONS", framework.load_exceptions(exceptions, today=dt.date(2026, 11, 28)))
    repo = res("aws:ecr/repository:Repository", {"imageTagMutability": "MUTABLE", "imageScanningConfiguration": {}})
    found = {
        v.rule for v in evaluate(plan_of(repo), [RULES_BY_ID["ecr-scan-on-push"], RULES_BY_ID["ecr-immutable-tags"]])
    }
    assert found == {"ecr-immutable-tags"}  # the expired exception no longer applies
    # in force on its last day; a stack rule is silenced for the excepted resource only
    today = dt.date(2026, 11, 28)
    exceptions.write_text(
        "- rule: s3-access-logging\n  resource: 'aws:s3/bucket:Bucket::scratch'\n"
        "  reason: a scratch bucket for INC-3\n  approved_by: security@example.com\n  expires: 2026-11-28\n"
    )
    monkeypatch.setattr(framework, "_EXCEPTIONS", framework.load_exceptions(exceptions, today=today))
    buckets = [res("aws:s3/bucket:Bucket", {"bucket": n}, name=n) for n in ("scratch", "raw")]
    (v,) = evaluate(plan_of(*buckets), [RULES_BY_ID["s3-access-logging"]])
    assert v.urn.endswith("::raw")
    assert framework.load_exceptions(exceptions, today=today + dt.timedelta(days=1)) == []
    assert framework.load_exceptions(tmp_path / "missing.yaml") == []
    incomplete = tmp_path / "incomplete.yaml"
    incomplete.write_text("- rule: ecr-kms\n  resource: x\n")
    with pytest.raises(framework.ExceptionsFileError, match="lacks approved_by, expires, reason"):
        framework.load_exceptions(incomplete)


def test_the_documented_rule_table_is_the_packs():
    from infra.policies.rules import rules_markdown
    from pipelines.offline import REPO_ROOT

    assert rules_markdown() in (REPO_ROOT / "docs" / "policy-pack.md").read_text()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("rule: x\n", "must be a list of exceptions"),
        ("- just a string\n", "entry 1: must be a mapping with rule, resource, reason, approved_by, expires"),
        (
            "- {rule: ecr-kms, resource: 'aws:ecr/repository:Repository::r', reason: the migration window of INC-1, "
            "approved_by: security@example.com, expires: next week}\n",
            "entry 1 (ecr-kms): expires 'next week' is not a date (YYYY-MM-DD)",
        ),
        (
            "- {rule: ecr-kms, resource: 'aws:ecr/repository:Repository::r', reason: the migration window of INC-1, "
            "approved_by: security@example.com, expires: 2030-01-01}\n"
            "- {rule: ecr-kms, resource: 'aws:ecr/repository:Repository::r', reason: the migration window of INC-1, "
            "approved_by: security@example.com}\n",
            "entry 2 (ecr-kms): lacks expires",
        ),
        (
            "- {rule: ecr-kmz, resource: 'aws:ecr/repository:Repository::r', reason: the migration window of INC-1, "
            "approved_by: security@example.com, expires: 2030-01-01}\n",
            "entry 1: rule 'ecr-kmz' is not a rule of the pack",
        ),
        ("- {rule: [unclosed\n", "is not valid YAML at line"),
    ],
)
def test_a_malformed_exceptions_file_stops_check_before_planning(tmp_path, monkeypatch, capsys, text, message):
    from infra.policies import framework
    from pipelines.cli import main

    bad = tmp_path / "exceptions.yaml"
    bad.write_text(text)
    monkeypatch.setattr(framework, "EXCEPTIONS_FILE", bad)
    monkeypatch.setattr(framework, "_EXCEPTIONS", None)
    monkeypatch.setattr("pipelines.offline.plan_stack", lambda *a, **k: pytest.fail("planned despite a bad file"))
    assert main(["check", "dev"]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_an_expired_exception_is_announced(tmp_path, monkeypatch):
    import datetime as dt

    from infra.policies import framework
    from infra.policies.rules import check_exceptions

    file = tmp_path / "exceptions.yaml"
    monkeypatch.setattr(framework, "EXCEPTIONS_FILE", file)
    file.write_text(
        "- {rule: ecr-kmz, resource: '::repo', reason: the migration window of INC-1, "
        "approved_by: security@example.com, expires: 2030-01-01}\n"
    )
    with pytest.raises(framework.ExceptionsFileError) as caught:
        check_exceptions()
    assert str(caught.value).splitlines() == [
        "infra/policies/exceptions.yaml names unknown rules:",
        "entry 1: rule 'ecr-kmz' is not a rule of the pack",
    ]
    file.write_text(
        "- {rule: ecr-kms, resource: '::repo', reason: the migration window of INC-1, "
        "approved_by: security@example.com, expires: 2026-11-27}\n"
    )
    (notice,) = check_exceptions(today=dt.date(2026, 11, 28))
    assert "ecr-kms on ::repo expired on 2026-11-27: the rule applies again" in notice
    assert check_exceptions(today=dt.date(2026, 11, 27)) == []  # in force on its last day


def test_an_expired_exception_notice_names_the_file_and_entry(tmp_path, monkeypatch):
    from infra.policies import framework
    from infra.policies.rules import check_exceptions

    file = tmp_path / "exceptions.yaml"
    monkeypatch.setattr(framework, "EXCEPTIONS_FILE", file)
    file.write_text(
        "- {rule: ecr-kms, resource: 'aws:ecr/repository:Repository::r', reason: the migration window of INC-1,"
        " approved_by: security@example.com, expires: 2020-01-01}\n"
    )
    (notice,) = check_exceptions()
    assert notice.endswith(
        "(infra/policies/exceptions.yaml, entry 1: remove it, or renew it with a new expiry and approval)"
    )
