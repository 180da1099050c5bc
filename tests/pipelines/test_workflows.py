"""The GitHub workflows: valid, least-privileged, pinned, and calling only commands that exist."""

from __future__ import annotations

import re
import shlex

import pytest
import yaml

from pipelines.offline import REPO_ROOT

WORKFLOWS = sorted((REPO_ROOT / ".github" / "workflows").glob("*.yml"))
SHELL_WORDS = {"cat", "gh", "git", "echo", "exit", "if", "then", "else", "fi", "[", "title=", "number="}


def _make_targets() -> set[str]:
    text = (REPO_ROOT / "Makefile").read_text()
    return set(re.findall(r"^([A-Za-z0-9_./-]+):", text, re.MULTILINE))


def _steps(workflow: dict):
    for job in workflow["jobs"].values():
        yield from job["steps"]


def test_there_are_the_four_workflows():
    assert {w.stem for w in WORKFLOWS} == {"pull-request", "deploy", "promote", "drift"}


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.stem)
def test_workflow_is_valid_least_privileged_and_pinned(path):
    wf = yaml.safe_load(path.read_text())
    assert wf.get(True) or wf.get("on")  # YAML reads the key `on` as True
    assert wf["permissions"] == {"contents": "read"}  # the default for every job
    for name, job in wf["jobs"].items():
        assert "permissions" in job, f"{name} must state its permissions"
        assert "write-all" not in str(job["permissions"])
        for step in job["steps"]:
            if "uses" in step:
                assert re.fullmatch(r"[\w.-]+/[\w.-]+@v\d+\.\d+\.\d+", step["uses"]), step["uses"]
            assert ("uses" in step) != ("run" in step)
    needs_oidc = any("configure-aws-credentials" in s.get("uses", "") for s in _steps(wf))
    granted = any(job["permissions"].get("id-token") == "write" for job in wf["jobs"].values())
    assert needs_oidc == granted, "id-token: write exactly where AWS roles are assumed"


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.stem)
def test_every_run_step_calls_a_command_of_this_repository(path):
    commands = set(re.findall(r'sub\.add_parser\("([a-z-]+)"', (REPO_ROOT / "pipelines" / "cli.py").read_text()))
    targets = _make_targets()
    for step in _steps(yaml.safe_load(path.read_text())):
        for line in step.get("run", "").splitlines():
            words = shlex.split(line.replace(";", " ; "), posix=True)
            if not words:
                continue
            first = words[0]
            if first == "make":
                assert words[1] in targets, f"{path.name}: make {words[1]} is not a Makefile target"
            elif first == ".venv/bin/mlplatform":
                assert words[1] in commands, f"{path.name}: mlplatform {words[1]} does not exist"
            else:
                assert first in SHELL_WORDS or first.split("=")[0] + "=" in SHELL_WORDS, f"{path.name}: {line}"
