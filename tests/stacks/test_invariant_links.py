"""The invariant table of docs/security.md points at tests and rules that exist: renaming one breaks here, not
silently in the documentation."""

from __future__ import annotations

import ast
import re

from pipelines.offline import REPO_ROOT


def test_every_invariant_links_an_existing_test_or_rule():
    page = (REPO_ROOT / "docs" / "security.md").read_text()
    table = page[page.index("## Invariants") : page.index("## How it is proven")]
    rows = [line for line in table.splitlines() if line.startswith("| ") and "](" in line]
    assert len(rows) >= 10
    for row in rows:
        for names, path in re.findall(r"\[([^\]]+)\]\(([^)]+)\)", row):
            file = (REPO_ROOT / "docs" / path).resolve()
            assert file.is_file(), f"{path} does not exist"
            tree = ast.parse(file.read_text())
            defined = {n.name for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)}
            strings = {n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)}
            for name in re.findall(r"`([^`]+)`", names):
                if name.endswith(".py"):
                    continue
                assert name in defined or name in strings, f"{path} has no test or rule {name!r}"
