"""The promotion guard and the diff's flags, decided on both sides for every operation."""

from __future__ import annotations

import pytest

from foundation.conventions import STATEFUL_TYPES
from pipelines.diff import PlanDiff, render_markdown, render_text
from pipelines.guard import DESTRUCTIVE_OPS, NO_CHANGE_OPS, stateful_losses

STATELESS = "aws:iam/rolePolicy:RolePolicy"
# every op a PreviewDigest step may carry (pulumi/pulumi sdk/go/common/display/json.go, StepOp)
ALL_OPS = sorted(DESTRUCTIVE_OPS | NO_CHANGE_OPS | {"create", "update", "import", "import-replacement"})


def step(op: str, type_: str) -> dict:
    urn = f"urn:pulumi:prod::mlplatform::mlplatform:x:X${type_}::thing"
    state = {"type": type_}
    return {"op": op, "urn": urn, "oldState": state, "newState": state, "replaceReasons": ["bucket"]}


@pytest.mark.parametrize("op", ALL_OPS)
@pytest.mark.parametrize("type_", [*sorted(STATEFUL_TYPES), STATELESS])
def test_the_guard_refuses_exactly_destructive_ops_on_stateful_types(op, type_):
    refused = stateful_losses({"steps": [step(op, type_)]})
    should = op in {"delete", "replace", "create-replacement", "delete-replaced", "discard", "discard-replaced"}
    assert bool(refused) is (should and type_ in STATEFUL_TYPES), (op, type_)
    if refused:
        assert refused[0].op == op and refused[0].type == type_


def test_the_destructive_ops_are_the_ones_that_lose_a_resource():
    # a delete-before-replace shows as delete-replaced then create-replacement; both must be refused
    assert {"delete", "replace", "create-replacement", "delete-replaced"} <= DESTRUCTIVE_OPS
    assert not {"create", "update", "same", "read", "refresh"} & DESTRUCTIVE_OPS


@pytest.mark.parametrize("protected", [True, False])
def test_the_diff_flags_a_removed_protected_resource_and_only_that(protected):
    diff = PlanDiff("prod", added=[], removed=[("aws:s3/bucket:Bucket", "lake-raw", protected)], changed=[])
    text, md = render_text(diff), render_markdown([diff], {})
    assert ("[PROTECTED]" in text) is protected
    assert ("⚠ protected" in md) is protected and ("(protected)" in md) is protected
    assert "lake-raw" in text and "lake-raw" in md


@pytest.mark.parametrize("protected", [True, False])
def test_comparing_plans_keeps_whether_a_removed_resource_was_protected(protected):
    from pipelines.diff import compare
    from tests.policies.test_rules import plan_of, res

    bucket = res("aws:s3/bucket:Bucket", {"bucket": "b"}, name="lake-raw", stack="prod", protect=protected)
    role = res("aws:iam/role:Role", {"name": "r"}, name="role", stack="prod")
    diff = compare(plan_of(bucket, role, stack="prod"), plan_of(role, stack="prod"))
    assert diff.removed == [("aws:s3/bucket:Bucket", "lake-raw", protected)]
    assert ("[PROTECTED]" in render_text(diff)) is protected
