"""`make mutation` copies the tree mutmut needs file by file (copying all of infra/ would overwrite
the mutated infra/policies/): a module added to infra/ must be listed, or the run fails to import."""

from __future__ import annotations

import tomllib

import yaml

from pipelines.offline import REPO_ROOT
from tools.domain_mutants import MUTANTS, rule_mutants


def test_mutmut_copies_every_module_the_tests_import():
    config = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["tool"]["mutmut"]
    copied = set(config["also_copy"])
    modules = {f"infra/{p.name}" for p in (REPO_ROOT / "infra").glob("*.py")}
    assert modules <= copied, f"add to [tool.mutmut] also_copy: {sorted(modules - copied)}"
    assert {"components/", "stacks/", "bootstrap/"} <= copied


def test_every_domain_mutant_applies_to_the_current_code():
    """A mutant whose text is gone tests nothing: rewrite it against the code instead."""
    for m in [*MUTANTS, *rule_mutants(REPO_ROOT)]:
        source = (REPO_ROOT / m.file).read_text()
        assert source.count(m.old) == 1, f"{m.id}: its text is found {source.count(m.old)} times in {m.file}"
        assert m.new != m.old, m.id
        mutated = source.replace(m.old, m.new)  # a mutant is a plausible edit, not a syntax error
        if m.file.endswith(".py"):
            compile(mutated, m.file, "exec")
        else:
            yaml.safe_load(mutated)
    assert len({m.id for m in MUTANTS}) == len(MUTANTS)
