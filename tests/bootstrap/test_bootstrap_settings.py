"""Bad bootstrap settings: exit 2 from `mlplatform plan <stack> --project-dir bootstrap`, one message
naming each setting, and nothing registered."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from bootstrap.settings import BootstrapSettingsError
from pipelines.cli import main
from pipelines.offline import RecordingMonitor, program_of, read_stack_config, run
from tests.bootstrap.conftest import BOOTSTRAP


def _bootstrap_with(tmp_path: Path, stack: str, changes: dict, removed: tuple[str, ...] = ()) -> Path:
    """A copy of the bootstrap project (program included) with one stack file changed."""
    project = tmp_path / "bootstrap"
    shutil.copytree(BOOTSTRAP, project, ignore=shutil.ignore_patterns("__pycache__"))
    stack_file = project / "stacks" / f"Pulumi.{stack}.yaml"
    doc = yaml.safe_load(stack_file.read_text())
    doc["config"].update(changes)
    for key in removed:
        del doc["config"][key]
    stack_file.write_text(yaml.safe_dump(doc))
    return project


CASES = {
    "unknown key": (
        "dev",
        {"bootstrap:githubRepo": "example-org/mlplatform"},
        (),
        "bootstrap:githubRepo: unknown setting; did you mean 'githubRepository'?",
    ),
    "protect off in prod": (
        "prod",
        {"bootstrap:protect": False},
        (),
        "bootstrap:protect: must be true in prod",
    ),
    "no admin principals": (
        "staging",
        {},
        ("bootstrap:adminPrincipals",),
        "bootstrap:adminPrincipals: is required but not set",
    ),
    "empty admin principals": (
        "staging",
        {"bootstrap:adminPrincipals": []},
        (),
        "bootstrap:adminPrincipals: List should have at least 1 item",
    ),
    "bad account id": (
        "dev",
        {"bootstrap:accountId": "1111-1111-1111"},
        (),
        "bootstrap:accountId: '1111-1111-1111' is not valid; expected a 12-digit AWS account id",
    ),
}


@pytest.mark.parametrize("case", CASES)
def test_bad_settings_exit_2_naming_the_setting_and_register_nothing(case, tmp_path, capsys):
    stack, changes, removed, message = CASES[case]
    project = _bootstrap_with(tmp_path, stack, changes, removed)
    assert main(["plan", stack, "--project-dir", str(project)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert f"bootstrap stack '{stack}' (bootstrap/stacks/Pulumi.{stack}.yaml) has 1 invalid setting:" in captured.err
    assert message in captured.err
    assert "Traceback" not in captured.err

    monitor = RecordingMonitor()
    with pytest.raises(BootstrapSettingsError):
        run(read_stack_config(stack, project), monitor=monitor, program=program_of(project))
    assert monitor.records == {}


def test_every_problem_is_listed_at_once(tmp_path, capsys):
    project = _bootstrap_with(
        tmp_path, "prod", {"bootstrap:accountId": "42", "bootstrap:region": "moon-1", "bootstrap:owner": "me"}
    )
    assert main(["plan", "prod", "--project-dir", str(project)]) == 2
    err = capsys.readouterr().err
    assert "has 3 invalid settings" in err
    assert "bootstrap:accountId: '42' is not valid" in err and "bootstrap:region: 'moon-1' is not valid" in err
    assert "bootstrap:owner: unknown setting" in err
