"""What `pulumi up` does when a stack's inputs change: which resources are updated or replaced, and
the order of their deletes and creates, as the engine and the Terraform bridge decide it.

Sources:
- The engine, pulumi/pulumi v3.259.0, pkg/resource/deploy/step_generator.go:
  ``continueStepsFromDiff``: a replacement is delete-before-replace when the provider's diff says so,
  unless the program set the option (``if goal.DeleteBeforeReplace != nil``); ``applyReplaceOnChanges``
  turns a change of a ``replaceOnChanges`` property into a replacement. A delete-before-replace of R
  first deletes, in reverse order, the dependents ``calculateDependentReplacements`` finds: walking
  R's transitive dependents in snapshot order (``DependingOn``), a dependent is replaced when its
  provider is, or when the provider's diff of its old inputs, those that depend on a replaced
  resource set to unknown, asks for a replacement; a dependent tied only by ``dependsOn`` is not.
  A dependent deleted that way is created again, without a diff, when the program registers it.
  A create-before-delete replacement deletes the old resource at the end of the update.
  The engine's own tests are the model's tests (pkg/engine/lifecycletest/delete_before_replace_test.go).
- The bridge, pulumi/pulumi-terraform-bridge pkg/tfbridge/provider.go ``Diff``: the replacement
  keys are the changed ForceNew attributes (foundation/upstream/force_new.json); and
  ``DeleteBeforeReplace: len(replaces) > 0 && (... || nameRequiresDeleteBeforeReplace(...))``, true
  when an auto-named property (a resource's name) was given by the program rather than the
  autonamer, which is how every platform resource is named.

The model takes the resources in the order the program registers them, which is the order of their
dependencies; the step list is sequential (the engine runs independent steps in parallel, never one
before a step it depends on).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any


class _Unknown:
    def __repr__(self) -> str:
        return "<unknown>"


UNKNOWN: Any = _Unknown()  # an input computed from a resource being replaced


@dataclass(frozen=True)
class State:
    urn: str
    type: str = ""
    inputs: Mapping[str, Any] = field(default_factory=dict)
    dependencies: tuple[str, ...] = ()
    property_dependencies: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    provider: str | None = None
    delete_before_replace: bool | None = None  # the resource option; None: the provider decides
    replace_on_changes: tuple[str, ...] = ()

    def depends_on(self) -> set[str]:
        found = set(self.dependencies) | {self.provider or ""}
        for urns in self.property_dependencies.values():
            found |= set(urns)
        return found - {""}


@dataclass(frozen=True)
class Diff:
    replace_keys: frozenset[str] = frozenset()
    changed: bool = False
    delete_before_replace: bool = False


# (old state, new inputs) -> the provider's answer
Provider = Callable[[State, Mapping[str, Any]], Diff]


@dataclass(frozen=True)
class Step:
    op: str  # same, update, create, create-replacement, replace, delete-replaced, delete
    urn: str


def _top_changes(old: Mapping[str, Any], new: Mapping[str, Any]) -> set[str]:
    return {
        k for k in set(old) | set(new) if old.get(k) is UNKNOWN or new.get(k) is UNKNOWN or old.get(k) != new.get(k)
    }


def _replace_keys(state: State, inputs: Mapping[str, Any], provider: Provider) -> tuple[Diff, set[str]]:
    diff = provider(state, inputs)
    keys = set(diff.replace_keys)
    if state.replace_on_changes:
        changed = _top_changes(state.inputs, inputs)
        keys |= {k for k in changed if "*" in state.replace_on_changes or k in state.replace_on_changes}
    return diff, keys


def _dependents_to_replace(root: State, old: Sequence[State], provider: Provider) -> list[str]:
    """calculateDependentReplacements: the dependents of ``root`` deleted before it, in snapshot order."""
    replaced = {root.urn}
    reached = {root.urn}
    found = []
    start = next(i for i, s in enumerate(old) if s.urn == root.urn)
    for state in old[start + 1 :]:
        if not state.depends_on() & reached:
            continue
        reached.add(state.urn)
        if state.provider in replaced:
            replaced.add(state.urn)
            found.append(state.urn)
            continue
        unknown = [k for k, urns in state.property_dependencies.items() if set(urns) & replaced]
        if not unknown:
            continue
        inputs = {**state.inputs, **dict.fromkeys(unknown, UNKNOWN)}
        _, keys = _replace_keys(state, inputs, provider)
        if keys:
            replaced.add(state.urn)
            found.append(state.urn)
    return found


def update(old: Sequence[State], new: Sequence[State], provider: Provider) -> list[Step]:
    """The steps of `pulumi up` from the ``old`` snapshot (in its order) to the program registering
    ``new`` (in registration order)."""
    by_urn = {s.urn: s for s in old}
    steps: list[Step] = []
    replaced: set[str] = set()
    recreate: set[str] = set()
    deleted_at_end: list[str] = []
    for goal in new:
        before = by_urn.get(goal.urn)
        if before is None:
            steps.append(Step("create", goal.urn))
            continue
        if goal.urn in recreate:
            steps += [Step("replace", goal.urn), Step("create-replacement", goal.urn)]
            replaced.add(goal.urn)
            continue
        current = State(**{**before.__dict__, "replace_on_changes": goal.replace_on_changes})
        diff, keys = _replace_keys(current, goal.inputs, provider)
        if keys or (before.provider and before.provider in replaced):
            dbr = diff.delete_before_replace if goal.delete_before_replace is None else goal.delete_before_replace
            replaced.add(goal.urn)
            if dbr:
                dependents = _dependents_to_replace(before, old, provider)
                steps += [Step("delete-replaced", urn) for urn in reversed(dependents)]
                recreate |= set(dependents)
                steps += [Step("delete-replaced", goal.urn), Step("replace", goal.urn)]
                steps.append(Step("create-replacement", goal.urn))
            else:
                steps += [Step("create-replacement", goal.urn), Step("replace", goal.urn)]
                deleted_at_end.append(goal.urn)
        elif diff.changed or _top_changes(before.inputs, goal.inputs):
            steps.append(Step("update", goal.urn))
        else:
            steps.append(Step("same", goal.urn))
    registered = {s.urn for s in new}
    for state in reversed(old):
        if state.urn not in registered:
            steps.append(Step("delete", state.urn))
        elif state.urn in deleted_at_end:
            steps.append(Step("delete-replaced", state.urn))
    return steps


# --- the Terraform bridge's diff -------------------------------------------------------------------


def changed_paths(old: Any, new: Any, prefix: str = "") -> set[str]:
    """The deepest paths at which two input values differ, list indices left out (Terraform's
    ForceNew paths name attributes, not elements). A list of another length, or a value that
    appears or disappears, differs at its own path."""
    if old is UNKNOWN or new is UNKNOWN:
        return {prefix} if prefix else {"*"}
    if isinstance(old, dict) and isinstance(new, dict):
        found: set[str] = set()
        for key in set(old) | set(new):
            path = f"{prefix}.{key}" if prefix else key
            if key not in old or key not in new:
                if old.get(key) != new.get(key):
                    found.add(path)
                continue
            found |= changed_paths(old[key], new[key], path)
        return found
    if isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        found = set()
        for a, b in zip(old, new, strict=True):
            found |= changed_paths(a, b, prefix)
        return found
    return set() if old == new else {prefix}


def _snake(name: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in name)


def _matches(path: str, attribute: str, block: bool, renamed: Mapping[str, str]) -> bool:
    """A changed Pulumi input path (camelCase; list properties pluralised by the bridge) falls under
    a Terraform attribute path (snake_case, singular blocks): exactly for a block (SDKv2: a ForceNew
    block replaces when it appears or disappears, a leaf inside it only when the leaf is ForceNew),
    or anywhere under a leaf (a map or a list of scalars changes as a whole)."""
    ours, theirs = [_snake(p) for p in path.split(".")], attribute.split(".")
    if len(ours) < len(theirs) or (block and len(ours) != len(theirs)):
        return False
    return all(o in (t, f"{t}s", f"{t}es", renamed.get(t)) for o, t in zip(ours, theirs, strict=False))


def terraform_provider(
    force_new: Mapping[str, Sequence[str]],
    named: Callable[[State], bool],
    renamed: Mapping[str, Mapping[str, str]] | None = None,
) -> Provider:
    """The bridge's Diff for resources of the types in ``force_new`` (type -> ForceNew attribute
    paths); ``named`` says whether the program gave the resource its name (then a replacement is
    delete-before-replace); ``renamed``: type -> Terraform attribute -> the SDK's name for it, where
    it is not the attribute or its plural. Types not in the table never need a replacement."""
    renamed = renamed or {}

    blocks = {t: {a for a in attrs if any(b.startswith(f"{a}.") for b in attrs)} for t, attrs in force_new.items()}

    def diff(state: State, inputs: Mapping[str, Any]) -> Diff:
        paths = changed_paths(dict(state.inputs), dict(inputs))
        attributes, block = force_new.get(state.type, ()), blocks.get(state.type, set())
        names = renamed.get(state.type, {})
        keys = frozenset(p.split(".")[0] for p in paths if any(_matches(p, a, a in block, names) for a in attributes))
        return Diff(replace_keys=keys, changed=bool(paths), delete_before_replace=bool(keys) and named(state))

    return diff
