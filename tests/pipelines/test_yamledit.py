"""The stack-file editor of `mlplatform promote`: the values asked for change, and no other byte."""

from __future__ import annotations

import copy
import random

import pytest
import yaml

from pipelines.yamledit import edit

TEXT = """\
# a comment at the top
config:
  section:
    # a comment above a flow mapping
    versions: {a: 3, b: 7}   # and after it
    names: [x, 'y', "z"]
    pins:
      one: "1.0.0"
      two: '2.0.0'
    items:
      - {name: p, size: 1}
      - {name: q, size: 2}
    blocks:
      - name: m
        size: 1
      - name: n
        size: 2
    plain: value  # kept
    empty:
  other: 1
"""


def _changed(change) -> tuple[str, list[tuple[str, str]]]:
    """The edited text, and its changed lines as (-old, +new) pairs of a line diff."""
    import difflib

    new = copy.deepcopy(yaml.safe_load(TEXT))
    change(new["config"]["section"])
    out = edit(TEXT, new)
    assert yaml.safe_load(out) == new
    diff = [
        line
        for line in difflib.unified_diff(TEXT.splitlines(), out.splitlines(), lineterm="", n=0)
        if line[:1] in "+-" and not line.startswith(("+++", "---"))
    ]
    return out, diff


@pytest.mark.parametrize(
    ("change", "diff"),
    [
        # a flow mapping stays flow: a value changed, a key added, a key removed; its comment stays
        (
            lambda s: s.update(versions={"a": 4, "c": 1}),
            ["-    versions: {a: 3, b: 7}   # and after it", "+    versions: {a: 4, c: 1}   # and after it"],
        ),
        # each item of a flow list keeps its quoting, a changed one too; a new one is quoted like its
        # siblings when they agree (pins), plain when they do not (names)
        (lambda s: s.update(names=["x", "y", "w"]), ["-    names: [x, 'y', \"z\"]", "+    names: [x, 'y', \"w\"]"]),
        (lambda s: s["names"].append("v"), ["-    names: [x, 'y', \"z\"]", "+    names: [x, 'y', \"z\", v]"]),
        (lambda s: s["pins"].update(one="1.1.0"), ['-      one: "1.0.0"', '+      one: "1.1.0"']),
        (lambda s: s["pins"].update(two="2.1.0"), ["-      two: '2.0.0'", "+      two: '2.1.0'"]),
        (lambda s: s["pins"].pop("one"), ['-      one: "1.0.0"']),
        (lambda s: s["pins"].update(three="3.0.0"), ["+      three: 3.0.0"]),  # "1.0.0" and '2.0.0' disagree
        (
            lambda s: s.update(pins={"one": "1.0.0", "three": "3.0.0"}),  # quoted like the one that stays
            ["-      two: '2.0.0'", '+      three: "3.0.0"'],
        ),
        # a list of flow mappings, one per line: an item changed in place, one added in the same style
        (lambda s: s["items"][1].update(size=3), ["-      - {name: q, size: 2}", "+      - {name: q, size: 3}"]),
        (lambda s: s["items"].append({"name": "r", "size": 4}), ["+      - {name: r, size: 4}"]),
        (lambda s: s["items"].pop(0), ["-      - {name: p, size: 1}"]),
        # a list of block mappings: a new item is a block too; a first key after the dash goes
        (
            lambda s: s["blocks"].append({"name": "o", "size": 3}),
            ["+      - name: o", "+        size: 3"],
        ),
        (lambda s: s["blocks"][1].pop("name"), ["-      - name: n", "-        size: 2", "+      - size: 2"]),
        (lambda s: s.update(plain="other"), ["-    plain: value  # kept", "+    plain: other  # kept"]),
        (lambda s: s.update(empty=[1, 2]), ["-    empty:", "+    empty: [1, 2]"]),
        # a text that would read as something else is quoted; a new setting goes after the last
        (lambda s: s.update(plain="1.10"), ["-    plain: value  # kept", "+    plain: '1.10'  # kept"]),
        (lambda s: s.update(added={"k": [{"x": 1}]}), ["+    added:", "+      k:", "+        - {x: 1}"]),
    ],
)
def test_only_the_changed_values_change_in_their_own_style(change, diff):
    assert _changed(change)[1] == diff


def test_a_block_collection_can_become_empty_and_keeps_the_comment_on_its_key():
    text = "config:\n  s:\n    pins:   # the chart pins\n      # the first\n      one: 1\n    after: 2\n"
    new = {"config": {"s": {"pins": {}, "after": 2}}}
    assert edit(text, new) == "config:\n  s:\n    pins: {}  # the chart pins\n    after: 2\n"


def test_windows_line_endings_stay():
    text = "config:\r\n  s:\r\n    a: 1\r\n"
    assert edit(text, {"config": {"s": {"a": 1, "b": [{"c": 1}]}}}) == (
        "config:\r\n  s:\r\n    a: 1\r\n    b:\r\n      - {c: 1}\r\n"
    )


def test_a_new_section_goes_at_the_end_of_its_mapping_in_the_files_indentation():
    text = "config:\n    s:\n        a: 1\n"  # four spaces a level
    assert edit(text, {"config": {"s": {"a": 1}, "t": {"b": {"c": 2}}}}) == (
        "config:\n    s:\n        a: 1\n    t:\n        b:\n            c: 2\n"
    )


def _mutated(value, rng: random.Random):
    """A random change of a value: scalars changed, keys and items removed and added, kinds swapped."""
    if isinstance(value, dict):
        out = {k: _mutated(v, rng) if rng.random() < 0.4 else v for k, v in value.items() if rng.random() > 0.1}
        if rng.random() < 0.2:
            out[f"new{rng.randrange(100)}"] = rng.choice([1, "a", [1, 2], {"k": "v"}, [{"a": 1}]])
        return out or {"only": 1}
    if isinstance(value, list):
        out = [_mutated(v, rng) if rng.random() < 0.4 else v for v in value if rng.random() > 0.2]
        for _ in range(rng.randrange(3)):
            out.insert(rng.randint(0, len(out)), copy.deepcopy(rng.choice(value)) if value else "x")
        return out
    return rng.choice([value, 1, "yes", "1.5", "text: colon", "it's", None, True, [], {}, [{"a": 1}], {"b": [1]}])


@pytest.mark.parametrize("seed", range(40))
def test_any_change_reads_back_and_keeps_what_did_not_change(seed):
    """The editor reads its result back and refuses a wrong one: any change at all comes out right, and
    the comments of the parts left alone stay."""
    rng = random.Random(seed)
    new = yaml.safe_load(TEXT)
    new["config"]["section"] = _mutated(new["config"]["section"], rng)
    out = edit(TEXT, new)
    assert yaml.safe_load(out) == new
    assert out.startswith("# a comment at the top\nconfig:\n") and out.endswith("  other: 1\n")
