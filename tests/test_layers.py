"""The layers of docs/architecture.md, read from the imports of every module (at any depth, lazy
imports included): no import cycle, each package imports only the layers below it, and the policy
pack judges resources without importing the classes that build them."""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("functions", "foundation", "components", "infra", "cluster", "bootstrap", "pipelines", "tools")
# package -> the project packages its modules may import (besides its own)
MAY_IMPORT = {
    "functions": set(),  # deployed as they are: the standard library and the runtime's boto3
    "foundation": set(),
    "components": {"foundation"},
    "infra": {"foundation", "components"},
    "cluster": {"foundation", "infra"},
    "bootstrap": {"foundation", "components", "infra"},  # the settings vocabulary of infra/settings.py
    "pipelines": {"foundation", "components", "infra", "functions"},
    "tools": {"foundation", "components", "infra", "pipelines"},
}
POLICY_PACK = "infra.policies"
# The oracles the tests judge the platform with: checked on their sources' own examples, so they must
# not depend on the code they judge.
ORACLES = "pipelines.semantics"


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@cache
def modules() -> dict[str, Path]:
    return {_module_name(p): p for pkg in PACKAGES for p in sorted((ROOT / pkg).rglob("*.py"))}


def _resolve(name: str) -> str | None:
    """The project module an imported name is, or the module that defines it."""
    while name:
        if name in modules():
            return name
        name = name.rpartition(".")[0]
    return None


@cache
def imports(module: str) -> frozenset[str]:
    path = modules()[module]
    tree = ast.parse(path.read_text(), str(path))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            names = [f"{base}.{a.name}" for a in node.names]
        else:
            continue
        found |= {m for m in map(_resolve, names) if m and m != module}
    return frozenset(found)


def reachable(module: str) -> set[str]:
    seen, todo = set(), [module]
    while todo:
        for m in imports(todo.pop()):
            if m not in seen:
                seen.add(m)
                todo.append(m)
    return seen


def cycles() -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in sorted(imports(v)):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for m in sorted(modules()):
        if m not in index:
            visit(m)
    return found


def defines_component(module: str) -> bool:
    tree = ast.parse(modules()[module].read_text())
    return any(
        isinstance(node, ast.ClassDef) and any(ast.unparse(b).endswith("ComponentResource") for b in node.bases)
        for node in ast.walk(tree)
    )


def test_no_import_cycle():
    assert cycles() == []


@pytest.mark.parametrize("package", sorted(MAY_IMPORT))
def test_each_layer_imports_only_the_layers_below(package):
    wrong = sorted(
        f"{m} imports {i}"
        for m in modules()
        if m.split(".")[0] == package
        for i in imports(m)
        if i.split(".")[0] not in {package, *MAY_IMPORT[package]}
    )
    assert wrong == []


def test_the_policy_pack_imports_no_component():
    pack = [m for m in modules() if m.startswith(POLICY_PACK)]
    used = set().union(*(reachable(m) for m in pack))
    assert sorted(m for m in used if m.startswith("components") or defines_component(m)) == []


def test_the_test_oracles_import_nothing_they_judge():
    oracles = [m for m in modules() if m.startswith(ORACLES)]
    assert sorted(i for m in oracles for i in imports(m) if not i.startswith(ORACLES)) == []


def test_the_walk_sees_what_it_must():
    """The checks above are only as good as the import graph: it finds the known edges and flags a
    cycle, a layer break and a component import when they are there."""
    assert "foundation.iam.documents" in imports("components.storage")
    assert "infra.settings" in imports("infra.policies.compute")  # a `from X import name`
    assert "foundation.upstream" in imports("infra.settings")  # a lazy import inside a function
    assert defines_component("components.storage") and not defines_component("foundation.iam.roles")
    imports.cache_clear()
    original = imports
    try:
        globals()["imports"] = lambda m: (
            original(m) | ({"components.storage"} if m == "foundation.iam.documents" else frozenset())
        )
        assert any("foundation.iam.documents" in c for c in cycles())
    finally:
        globals()["imports"] = original
