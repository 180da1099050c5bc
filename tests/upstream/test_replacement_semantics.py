"""The replacement model (pipelines/semantics/replacement.py) on the Pulumi engine's own tests:
pulumi/pulumi v3.259.0, pkg/engine/lifecycletest/delete_before_replace_test.go."""

from __future__ import annotations

import pytest

from pipelines.semantics.replacement import UNKNOWN, Diff, State, Step, changed_paths, terraform_provider, update


def _differs(state: State, inputs, key: str = "A") -> bool:
    old, new = state.inputs.get(key), inputs.get(key)
    return old is UNKNOWN or new is UNKNOWN or old != new


def test_delete_before_replace_replaces_the_dependents_the_engine_does():
    """TestDeleteBeforeReplace: A, C and D are providers whose config diff asks for a delete-before-
    replace when A changes; B, E and H use them; other resources depend on them through property A
    (a replacement-forcing property) or B; "the following resources should require replacement: A, B,
    C, E, F, and K"."""
    prov = {n: f"pulumi:providers:pkgA::{n}" for n in "ACD"}
    res = {n: f"pkgA:m:typA::{n}" for n in "BEFGHIJKL"}
    urn = {**prov, **res}

    def diff(state: State, inputs) -> Diff:
        changed = _differs(state, inputs)
        return Diff(
            replace_keys=frozenset({"A"} if changed else ()),
            changed=changed,
            delete_before_replace=changed and state.urn in prov.values(),
        )

    def node(name, inputs=None, provider=None, deps=(), props=None):
        return State(
            urn[name],
            inputs=inputs or {},
            provider=urn[provider] if provider else None,
            dependencies=tuple(urn[d] for d in deps),
            property_dependencies={k: tuple(urn[d] for d in v) for k, v in (props or {}).items()},
        )

    old = [
        node("A", {"A": "foo"}),
        node("B", provider="A"),
        node("C", {"A": "bar"}, deps="A", props={"A": "A"}),
        node("D", deps="A", props={"B": "A"}),
        node("E", provider="C"),
        node("F", deps="C", props={"A": "C"}),
        node("G", deps="C", props={"B": "C"}),
        node("H", provider="D"),
        node("I", deps="D", props={"A": "D"}),
        node("J", deps="D", props={"B": "D"}),
        node("K", deps="FG", props={"A": "FG"}),
        node("L", deps="FG", props={"B": "FG"}),
    ]
    new = [State(s.urn, inputs={"A": "bar"} if s.urn == urn["A"] else {}, provider=s.provider) for s in old]
    steps = update(old, new, diff)
    assert {s.urn for s in steps if s.op == "replace"} == {urn[n] for n in "ABCEFK"}
    deletes = [s.urn for s in steps if s.op == "delete-replaced"]
    assert deletes.index(urn["K"]) < deletes.index(urn["F"]) < deletes.index(urn["C"]) < deletes.index(urn["A"])


PROV, A, B = "pulumi:providers:pkgA::provA", "pkgA:index:typ::resA", "pkgA:index:typ::resB"


def _explicit(a_old, a_new, b_old="foo", b_new="foo", option=None, provider_dbr=False) -> list[Step]:
    def diff(state: State, inputs) -> Diff:
        changed = _differs(state, inputs)
        return Diff(frozenset({"A"} if changed else ()), changed, changed and provider_dbr)

    old = [
        State(PROV),
        State(A, inputs={"A": a_old}, provider=PROV),
        State(B, inputs={"A": b_old}, provider=PROV, dependencies=(A,), property_dependencies={"A": (A,)}),
    ]
    new = [
        State(PROV),
        State(A, inputs={"A": a_new}, provider=PROV, delete_before_replace=option),
        State(B, inputs={"A": b_new}, provider=PROV, dependencies=(A,), property_dependencies={"A": (A,)}),
    ]
    return update(old, new, diff)


# B depends on A: both replaced delete-first, dependents deleted before and created after.
BOTH_DELETE_FIRST = [
    ("same", PROV),
    ("delete-replaced", B),
    ("delete-replaced", A),
    ("replace", A),
    ("create-replacement", A),
    ("replace", B),
    ("create-replacement", B),
]


@pytest.mark.parametrize(
    ("case", "expected", "ordered"),
    [
        # "Only resA should be replaced, and the replacement should be create-before-delete."
        (
            {"a_old": "foo", "a_new": "bar"},
            [("same", PROV), ("create-replacement", A), ("replace", A), ("same", B), ("delete-replaced", A)],
            False,
        ),
        # "Both resA and resB should be replaced, and the replacements should be delete-before-replace."
        (
            {"a_old": "bar", "a_new": "baz", "option": True},
            BOTH_DELETE_FIRST,
            True,
        ),
        # "Change the value of resB.A. Only resB should be replaced ... create-before-delete."
        (
            {"a_old": "baz", "a_new": "baz", "b_new": "qux", "option": True},
            [("same", PROV), ("same", A), ("create-replacement", B), ("replace", B), ("delete-replaced", B)],
            True,
        ),
        # the provider's diff asks for delete-before-replace: both replaced, delete-before-replace
        (
            {"a_old": "zam", "a_new": "foo", "provider_dbr": True},
            BOTH_DELETE_FIRST,
            True,
        ),
        # "disables delete-before-replace": the option wins over the provider's diff
        (
            {"a_old": "foo", "a_new": "bar", "provider_dbr": True, "option": False},
            [("same", PROV), ("create-replacement", A), ("replace", A), ("same", B), ("delete-replaced", A)],
            False,
        ),
    ],
)
def test_explicit_delete_before_replace_takes_the_engines_steps(case, expected, ordered):
    """TestExplicitDeleteBeforeReplace, its five updates."""
    steps = [(s.op, s.urn) for s in _explicit(**case)]
    assert steps == expected if ordered else sorted(steps) == sorted(expected)


def test_replace_on_changes_makes_a_dependent_go_first():
    """TestDBRReplaceOnChanges: resA is always replaced delete-before-replace; resB takes its value
    and has replaceOnChanges ["value"]: "resB should have replaced before resA was created"."""
    a, b = "pkgA:index:typA::resA", "pkgA:index:typA::resB"

    def diff(state: State, inputs) -> Diff:
        if state.urn == a:
            return Diff(frozenset({"value"}), True, True)
        return Diff()

    old = [
        State(a, inputs={"value": "foo"}),
        State(b, inputs={"value": "foo"}, dependencies=(a,), property_dependencies={"value": (a,)},
              replace_on_changes=("value",)),
    ]  # fmt: skip
    new = [
        State(a, inputs={"value": "bar"}),
        State(b, inputs={"value": "bar"}, dependencies=(a,), property_dependencies={"value": (a,)},
              replace_on_changes=("value",)),
    ]  # fmt: skip
    steps = [(s.op, s.urn) for s in update(old, new, diff)]
    assert steps.index(("delete-replaced", b)) < steps.index(("delete-replaced", a))
    assert ("replace", b) in steps


def test_the_bridge_replaces_on_force_new_paths_only():
    """SDKv2 semantics: a ForceNew block replaces when it appears or disappears, a leaf inside it only
    when the leaf is ForceNew; a map or a list of scalars changes as a whole; Pulumi pluralises lists."""
    force_new = {"t": ["vpc_config", "vpc_config.subnets", "container", "container.image", "environment"]}
    diff = terraform_provider(force_new, named=lambda s: True)
    old = State("u", "t", {"vpcConfig": {"subnets": ["a"], "other": 1}, "containers": [{"image": "x", "mode": "m"}]})

    def replaces(inputs) -> bool:
        return bool(diff(old, inputs).replace_keys)

    assert replaces({**old.inputs, "vpcConfig": {"subnets": ["a", "b"], "other": 1}})
    assert not replaces({**old.inputs, "vpcConfig": {"subnets": ["a"], "other": 2}})
    assert replaces({"containers": old.inputs["containers"]})  # the block disappears
    assert replaces({**old.inputs, "containers": [{"image": "y", "mode": "m"}]})
    assert not replaces({**old.inputs, "containers": [{"image": "x", "mode": "n"}]})
    assert replaces({**old.inputs, "environment": {"K": "v"}})
    assert diff(old, {**old.inputs, "vpcConfig": UNKNOWN}).delete_before_replace  # named: the bridge's DBR
    assert changed_paths({"a": [1, 2]}, {"a": [1, 3]}) == {"a"}
