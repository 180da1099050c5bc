"""docs/configuration.md is the settings model's: current, one row per setting, each described, and
what it calls allowed is what the settings accept."""

from __future__ import annotations

import re
from typing import Annotated

import pytest
from pydantic import Field, TypeAdapter, ValidationError

from infra.settings import Settings, _Section
from pipelines.offline import REPO_ROOT
from pipelines.reference import REFERENCE_FILE, render, rows

RANGE = re.compile(r"^(-?\d+)–(-?\d+)$")
CHOICES = re.compile(r"^(`[^`]+`)(, `[^`]+`)*$")


def _leaf_fields(model=Settings, prefix=""):
    from pipelines.reference import _section

    for name, field in model.model_fields.items():
        path = prefix + (field.alias or name)
        inner, many = _section(field.annotation)
        if inner is None:
            yield path, field
        else:
            yield from _leaf_fields(inner, path + ("[]." if many else "."))


def test_the_committed_reference_is_current():
    assert (REPO_ROOT / REFERENCE_FILE).read_text() == render(), "run `make schema` and commit the result"


def test_every_setting_has_one_described_row():
    paths = [p for p, *_ in rows()]
    assert paths == [p for p, _ in _leaf_fields()]
    assert all(description.strip() for *_, description in rows())


def test_a_setting_without_a_docstring_is_refused():
    class Undocumented(_Section):
        documented: int = 1
        """What it is for."""
        forgotten: int = 2

    with pytest.raises(ValueError, match=r"setting x\.forgotten has no docstring"):
        list(rows(Undocumented, "x."))
    # the documented one alone is fine
    assert next(rows(Undocumented, "x.")) == ("x.documented", "`1`", "an integer", "What it is for.")


@pytest.mark.parametrize(("path", "field"), list(_leaf_fields()), ids=lambda v: v if isinstance(v, str) else "")
def test_what_the_reference_allows_is_what_the_settings_accept(path, field):
    """Each range's ends are accepted and the values just past them refused; each listed choice is
    accepted and another refused (the field's own type and validators, in isolation)."""
    (allowed,) = [a for p, _, a, _ in rows() if p == path]
    check = TypeAdapter(Annotated[field.annotation, *field.metadata, Field()])

    def accepts(value) -> bool:
        try:
            check.validate_python(value)
        except ValidationError:
            return False
        return True

    if match := RANGE.match(allowed):
        low, high = map(int, match.groups())
        assert accepts(low) and accepts(high), (path, allowed)
        assert not accepts(low - 1) and not accepts(high + 1), (path, allowed)
    elif CHOICES.match(allowed) and "a list" not in allowed:
        choices = re.findall(r"`([^`]+)`", allowed)
        typed = [True if c == "true" else False if c == "false" else c for c in choices]
        if all(isinstance(c, bool) for c in typed):
            assert all(accepts(c) for c in typed)
        else:
            converted = [int(c) if c.isdigit() else c for c in choices]
            assert all(accepts(c) for c in converted), (path, allowed)
            assert not accepts("not-a-choice"), (path, allowed)
