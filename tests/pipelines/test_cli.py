"""`mlplatform plan`: what a newcomer and CI see, and how user mistakes are reported."""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from infra.policies.rules import RULES
from pipelines.cli import main
from pipelines.offline import REPO_ROOT
from tests.plans import stack_plan


def test_plan_prints_the_component_tree_counts_and_outputs(capsys):
    from tests.plans import settings_of

    assert main(["plan", "dev"]) == 0
    out = capsys.readouterr().out
    plan, s = stack_plan("dev"), settings_of("dev")
    keys = plan.get("mlplatform:encryption:Encryption", "keys")
    assert f"├─ keys  mlplatform:encryption:Encryption ({len(plan.children(keys.urn))})" in out
    assert "│  ├─ keys-data  aws:kms/key:Key" in out
    assert re.search(r"^[│ ]+├─ lake-raw  aws:s3/bucket:Bucket$", out, re.MULTILINE)
    assert re.search(rf"^  aws:kms/key:Key +{len(s.encryption.domains)}$", out, re.MULTILINE)
    assert "kmsKeyArns:" in out and f"arn:aws:kms:{s.region}:{s.account_id}:key/" in out
    custom = sum(1 for r in plan if r.custom)
    assert f"Planned stack 'dev' offline: {custom} resources" in out


def test_plan_json_files_of_two_runs_are_identical(tmp_path, capsys):
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    assert main(["plan", "prod", "--json", str(a), "--quiet"]) == 0
    assert main(["plan", "prod", "--json", str(b), "--quiet"]) == 0
    assert a.read_bytes() == b.read_bytes()
    assert '"schema_version": 1' in a.read_text()


def _project_with(tmp_path: Path, stack: str, changes: dict) -> Path:
    shutil.copy(REPO_ROOT / "Pulumi.yaml", tmp_path / "Pulumi.yaml")
    (tmp_path / "stacks").mkdir()
    for folder in ("features", "datasets"):
        shutil.copytree(REPO_ROOT / "stacks" / folder, tmp_path / "stacks" / folder)
    doc = yaml.safe_load((REPO_ROOT / "stacks" / "Pulumi.dev.yaml").read_text())
    doc["config"].update(changes)
    (tmp_path / "stacks" / f"Pulumi.{stack}.yaml").write_text(yaml.safe_dump(doc))
    return tmp_path


def test_misspelled_wrong_type_and_out_of_range_in_one_message_exit_2(tmp_path, capsys):
    project = _project_with(
        tmp_path,
        "dev",
        {
            "mlplatform:costCentre": "ml",  # misspelled
            "mlplatform:protect": "sometimes",  # wrong type
            "mlplatform:encryption": {"keyDeletionWindowDays": 45},  # out of range
        },
    )
    assert main(["plan", "dev", "--project-dir", str(project)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""  # nothing planned, nothing printed as if it had been
    err = captured.err
    assert "stack 'dev' (stacks/Pulumi.dev.yaml) has 3 invalid settings" in err
    assert "mlplatform:costCentre: unknown setting; did you mean 'costCenter'?" in err
    assert "mlplatform:protect: must be true or false, got 'sometimes'" in err
    assert "mlplatform:encryption.keyDeletionWindowDays: must be less than or equal to 30, got 45" in err


def test_unknown_stack_lists_the_stacks(capsys):
    assert main(["plan", "qa"]) == 2
    err = capsys.readouterr().err
    assert "no stack 'qa'" in err
    assert "stacks: dev, prod, staging" in err


def test_console_script_reports_user_errors_without_traceback(tmp_path):
    project = _project_with(tmp_path, "dev", {"mlplatform:region": "moon-1"})
    script = Path(sys.executable).with_name("mlplatform")
    done = subprocess.run(
        [str(script), "plan", "dev", "--project-dir", str(project)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 2
    assert "mlplatform:region: 'moon-1' is not valid; expected an AWS region" in done.stderr
    assert "Traceback" not in done.stderr


def test_bad_definition_file_exits_2_naming_file_group_and_field(tmp_path, capsys):
    project = _project_with(tmp_path, "dev", {})
    bad = project / "stacks" / "features" / "transactions.yaml"
    bad.write_text(bad.read_text().replace("type: Integral", "type: Integer", 1))
    assert main(["plan", "dev", "--project-dir", str(project)]) == 2
    err = capsys.readouterr().err
    assert "stacks/features/transactions.yaml (feature group 'transactions'): features[2].type:" in err
    assert "'Integral', 'Fractional' or 'String'" in err
    # the project's own files are untouched and still plan
    assert main(["plan", "dev", "--quiet"]) == 0


def test_check_passes_the_real_stacks(capsys):
    assert main(["check", "dev", "staging", "prod"]) == 0
    out = capsys.readouterr().out
    assert f"prod: Policies: {len(RULES)} rules, 0 mandatory and 0 advisory violations" in out


def test_a_stack_file_copied_under_another_environments_name_is_refused(tmp_path, capsys):
    # prod-eu.yaml still saying `environment: dev` would be planned unprotected, with dev's names
    project = _project_with(tmp_path, "prod-eu", {})
    assert main(["check", "prod-eu", "--project-dir", str(project)]) == 2
    err = capsys.readouterr().err
    assert "mlplatform:environment: is 'dev' but the stack is 'prod-eu': they must agree" in err


@pytest.mark.parametrize(
    ("append", "message"),
    [
        # PyYAML keeps the last of two equal keys; Pulumi refuses them, and so do we
        ("  mlplatform:protect: true\n", "key 'mlplatform:protect' is given twice (first at line"),
        # a misspelled namespace is read by nothing: dev would silently keep its old value
        ("  mlplatfrom:protect: true\n", "did you mean mlplatform:protect?"),
    ],
)
def test_silent_stack_file_mistakes_are_refused(tmp_path, capsys, append, message):
    project = _project_with(tmp_path, "dev", {})
    stack_file = project / "stacks" / "Pulumi.dev.yaml"
    stack_file.write_text(stack_file.read_text() + append)
    assert main(["plan", "dev", "--project-dir", str(project)]) == 2
    captured = capsys.readouterr()
    assert message in captured.err and "Traceback" not in captured.err
    assert captured.out == ""


def test_a_duplicated_key_in_a_definition_file_is_located(tmp_path, capsys):
    project = _project_with(tmp_path, "dev", {})
    definition = project / "stacks" / "datasets" / "transactions.yaml"
    definition.write_text(definition.read_text() + "zone: curated\n")
    assert main(["plan", "dev", "--project-dir", str(project)]) == 2
    err = capsys.readouterr().err
    assert "stacks/datasets/transactions.yaml: not valid YAML at line" in err
    assert "key 'zone' is given twice" in err


def test_a_stack_file_that_is_not_yaml_is_named_with_its_line(tmp_path, capsys):
    project = _project_with(tmp_path, "dev", {})
    stack_file = project / "stacks" / "Pulumi.dev.yaml"
    stack_file.write_text(stack_file.read_text() + "  mlplatform:owner: [unclosed\n")
    assert main(["plan", "dev", "--project-dir", str(project)]) == 2
    err = capsys.readouterr().err
    assert "stacks/Pulumi.dev.yaml is not valid YAML at line" in err
    assert "Traceback" not in err


def test_plan_of_the_bootstrap_project_prints_its_tree_and_says_no_policy_pack_applies(capsys):
    assert main(["plan", "dev", "--project-dir", str(REPO_ROOT / "bootstrap")]) == 0
    out = capsys.readouterr().out
    assert "Stack mlplatform-bootstrap/dev" in out
    assert "└─ bootstrap  mlplatform:bootstrap:AccountBootstrap" in out
    assert "backendUrl: s3://mlplatform-dev-pulumi-state-111111111111-eu-west-1?region=eu-west-1&awssdk=v2" in out
    # the admin role holds AdministratorAccess by design: the platform's pack does not judge it
    assert "Policies: policy pack not applied to project mlplatform-bootstrap" in out
    assert "iam-no-admin-attachments" not in out


def test_check_refuses_a_project_the_policy_pack_does_not_guard(capsys):
    assert main(["check", "prod", "--project-dir", str(REPO_ROOT / "bootstrap")]) == 2
    assert "policy pack (infra/policies) is not applied to project mlplatform-bootstrap" in capsys.readouterr().err


def test_version_and_help_for_every_argument(capsys):
    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0 and capsys.readouterr().out.startswith("mlplatform ")
    for command in ("check", "diff", "promote", "drift"):
        with pytest.raises(SystemExit):
            main([command, "--help"])
        text = capsys.readouterr().out
        positional = text.split("positional arguments:")[1].split("options:")[0]
        # every positional argument says what it is (argparse prints a bare name otherwise)
        assert all(len(line.split(None, 1)) == 2 for line in positional.strip().splitlines()), (command, positional)


def test_every_command_documents_its_options_exit_status_and_project_dir(capsys):
    """Every option has help text; every command's --help ends with what its exit status means; every
    command that reads a project takes --project-dir (prices edits the checkout's own table)."""
    from pipelines.cli import build_parser

    parser = build_parser()
    (commands,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    assert set(commands.choices) > {"plan", "check", "diff", "promote", "drift", "cost", "release", "baseline"}
    for name, command in commands.choices.items():
        assert command.epilog and command.epilog.startswith("exit status: 0 "), name
        assert "2 a usage" in command.epilog, name
        options = {o for a in command._actions for o in a.option_strings}
        if name != "prices":
            assert "--project-dir" in options, name
        for action in command._actions:
            assert action.help, (name, action.dest)
    with pytest.raises(SystemExit):
        main(["--help"])
    assert "exit status: 0 success; 1 a check found something" in capsys.readouterr().out


def test_prices_alone_summarises_the_table(capsys):
    from infra.cost import prices

    assert main(["prices"]) == 0
    out = capsys.readouterr().out
    table = prices()
    assert f"prices as of {table.as_of}" in out
    for region, data in table.data["regions"].items():
        assert f"{region}: {len(data['ec2'])} EC2 instance types" in out


def test_the_project_is_found_from_the_working_directory_upward(tmp_path, monkeypatch, capsys):
    project = _project_with(tmp_path, "dev", {"mlplatform:region": "eu-wset-1"})
    monkeypatch.chdir(project / "stacks" / "datasets")
    assert main(["plan", "dev"]) == 2  # this project's stack file, not the checkout's
    assert "'eu-wset-1' is not an AWS region; did you mean eu-west-1?" in capsys.readouterr().err
    monkeypatch.chdir(tmp_path.parent)
    elsewhere = tmp_path.parent / "not-a-project"
    elsewhere.mkdir(exist_ok=True)
    for command in (["check", "dev"], ["drift", "dev"], ["diff", "dev", "--base", "HEAD"], ["cost", "dev"]):
        assert main([*command, "--project-dir", str(elsewhere)]) == 2, command
        assert "no Pulumi.yaml there" in capsys.readouterr().err, command


def test_drift_of_an_unknown_stack_names_the_stacks(capsys):
    assert main(["drift", "prdo"]) == 2
    err = capsys.readouterr().err
    assert "no stack 'prdo'" in err and "prod" in err


def test_an_unquoted_account_id_with_a_leading_zero_is_refused_as_written(tmp_path, capsys):
    # PyYAML would keep it as text, Pulumi's YAML 1.2 as the number 12345678901: neither is safe
    project = _project_with(tmp_path, "dev", {})
    stack_file = project / "stacks" / "Pulumi.dev.yaml"
    text = stack_file.read_text()
    account = yaml.safe_load(text)["config"]["mlplatform:accountId"]
    stack_file.write_text(text.replace(f"mlplatform:accountId: '{account}'", "mlplatform:accountId: 012345678901"))
    assert main(["plan", "dev", "--project-dir", str(project)]) == 2
    err = capsys.readouterr().err
    assert "012345678901 has a leading zero, which YAML drops or reads as octal: quote it ('012345678901')" in err
    assert "line" in err and "Traceback" not in err


def test_check_reports_as_json_markdown_and_sarif(tmp_path, monkeypatch, capsys):
    from tests.policies.test_rules import plan_of, res

    bad = plan_of(res("aws:ecr/repository:Repository", {"imageTagMutability": "MUTABLE"}, name="images"))
    monkeypatch.setattr("pipelines.offline.plan_stack", lambda stack, **kw: bad)
    assert main(["check", "dev", "--format", "json", "-o", str(tmp_path / "r.json")]) == 1
    report = json.loads((tmp_path / "r.json").read_text())
    found = {v["rule"] for v in report["stacks"]["dev"]}
    assert {"ecr-immutable-tags", "ecr-scan-on-push", "ecr-kms"} <= found
    assert all(v["mandatory"] for v in report["stacks"]["dev"]) and report["rules"] >= 42
    assert main(["check", "dev", "--format", "markdown"]) == 1
    assert "| dev | " in capsys.readouterr().out
    assert main(["check", "dev", "--format", "sarif", "-o", str(tmp_path / "r.sarif")]) == 1
    sarif = json.loads((tmp_path / "r.sarif").read_text())
    (run,) = sarif["runs"]
    assert sarif["version"] == "2.1.0" and run["tool"]["driver"]["name"] == "mlplatform"
    rule_ids = [r["id"] for r in run["tool"]["driver"]["rules"]]
    for result in run["results"]:
        assert rule_ids[result["ruleIndex"]] == result["ruleId"] and result["level"] == "error"
        assert result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "stacks/Pulumi.dev.yaml"
    assert {r["ruleId"] for r in run["results"]} == found
    assert main(["check", "dev", "-o", str(tmp_path / "missing" / "r.txt")]) == 2


def test_quiet_prints_one_line_and_progress_goes_only_to_a_terminal(monkeypatch, capsys):
    import io
    import sys

    from tests.policies.test_rules import plan_of, res

    monkeypatch.setattr("pipelines.offline.plan_stack", lambda stack, **kw: plan_of(res("aws:sns/topic:Topic", {})))
    assert main(["plan", "dev", "--quiet"]) == 0
    out, err = capsys.readouterr()
    assert out.count("\n") == 1 and out.startswith(
        "Planned stack 'dev' offline: 2 resources in "
    )  # the provider and the topic
    assert f"Policies: {len(RULES)} rules" in out and err == ""  # not a terminal: no progress

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    assert main(["plan", "dev", "--quiet"]) == 0
    shown = terminal.getvalue()
    assert "dev: planning offline" in shown and "dev: checking policies" in shown
    assert shown.endswith("\r\033[K")  # the line is cleared before the result is printed
