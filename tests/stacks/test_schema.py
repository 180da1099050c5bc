"""The committed JSON Schema of stack files is the settings model's, and it accepts every stack and
refuses what the program refuses by name and type (so an editor shows the mistake as it is typed)."""

from __future__ import annotations

import copy

import jsonschema
import pytest

from infra import yamlfile
from pipelines.offline import REPO_ROOT
from pipelines.schema import SCHEMA_FILE, render, stack_file_schema
from tests.plans import STACKS


def test_the_committed_schema_is_current():
    assert (REPO_ROOT / SCHEMA_FILE).read_text() == render(), "run `make schema` and commit the result"


@pytest.mark.parametrize("stack", STACKS)
def test_every_stack_file_matches_the_schema(stack):
    doc = yamlfile.load((REPO_ROOT / "stacks" / f"Pulumi.{stack}.yaml").read_text())
    jsonschema.validate(doc, stack_file_schema())


@pytest.mark.parametrize(
    ("edit", "words"),
    [
        (lambda c: c.update({"mlplatform:costCentre": "x"}), "costCentre"),  # misspelled setting
        (lambda c: c.update({"mlplatfrom:protect": True}), "mlplatfrom:protect"),  # misspelled namespace
        (lambda c: c["mlplatform:network"].update({"natGateways": "two"}), "'two'"),  # not a choice
        (lambda c: c["mlplatform:training"].update({"systemNodes": {"minSize": 99}}), "99"),  # out of range
        (lambda c: c["mlplatform:training"].update({"teams": "recsys"}), "'recsys'"),  # wrong type
        (lambda c: c.pop("mlplatform:accountId"), "accountId"),  # required
    ],
)
def test_the_schema_refuses_what_the_program_refuses(edit, words):
    doc = yamlfile.load((REPO_ROOT / "stacks" / "Pulumi.dev.yaml").read_text())
    bad = copy.deepcopy(doc)
    edit(bad["config"])
    with pytest.raises(jsonschema.ValidationError) as caught:
        jsonschema.validate(bad, stack_file_schema())
    assert words in str(caught.value.message), caught.value.message
