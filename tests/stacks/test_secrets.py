"""Settings that hold credentials come only from secret config and stay secret; secret config that the
program would use in plain text is refused instead of leaked."""

from __future__ import annotations

import json

import pytest

from infra import settings as settings_module
from infra.settings import SettingsError, parse
from infra.stackfile import SECRET_PLACEHOLDER
from pipelines.cli import main
from pipelines.offline import engine_config
from tests.stacks.test_settings import values_of


def test_a_credential_setting_in_plain_text_is_refused_with_the_command_to_use(monkeypatch):
    # No setting is a credential today (chat goes through AWS Chatbot); the rule is shown on one.
    monkeypatch.setattr(settings_module, "SECRET_SETTINGS", {"monitoring.alertEmails": "oncall@example.com"})
    values = values_of("dev")
    with pytest.raises(SettingsError) as caught:
        parse("dev", values, secret=frozenset())
    (problem,) = caught.value.problems
    assert problem[0] == "mlplatform:monitoring.alertEmails"
    assert "pulumi config set --secret --path 'mlplatform:monitoring.alertEmails[0]'" in problem[1]
    assert parse("dev", values, secret=frozenset({"mlplatform:monitoring"}))  # from secret config: fine


def test_secret_config_the_program_would_write_in_plain_text_is_refused():
    with pytest.raises(SettingsError) as caught:
        parse("dev", values_of("dev"), secret=frozenset({"mlplatform:owner"}))
    (problem,) = caught.value.problems
    assert problem[0] == "mlplatform:owner"
    assert "is set as a secret, but it is not a credential setting" in problem[1]
    assert "set it without --secret" in problem[1]


def test_secure_values_nested_in_a_section_make_the_section_a_secret_key():
    config = engine_config("mlplatform", "prod", {"mlplatform:monitoring": {"alertEmails": [{"secure": "v1:abc"}]}})
    assert config.secret_keys == {"mlplatform:monitoring"}
    assert json.loads(config.values["mlplatform:monitoring"]) == {"alertEmails": [SECRET_PLACEHOLDER]}


def test_the_cli_refuses_a_secret_owner_and_exits_2_without_a_traceback(tmp_path, capsys):
    import shutil

    from pipelines.offline import REPO_ROOT

    shutil.copy(REPO_ROOT / "Pulumi.yaml", tmp_path)
    shutil.copytree(REPO_ROOT / "stacks", tmp_path / "stacks")
    path = tmp_path / "stacks" / "Pulumi.dev.yaml"
    path.write_text(path.read_text().replace("mlplatform:owner: ml-platform", "mlplatform:owner:\n    secure: v1:abc"))
    assert main(["plan", "dev", "--project-dir", str(tmp_path), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "mlplatform:owner: is set as a secret" in err and "Traceback" not in err


def test_every_reader_of_a_stack_file_sees_what_the_program_gets(tmp_path):
    """The registry check and promotion read stack files themselves; they get each setting exactly as
    the engine passes it to the program, secure values included (the placeholder, never the
    ``{secure: ...}`` mapping)."""
    import shutil

    from infra.definitions import stack_settings
    from infra.stackfile import config_of, namespace_values
    from pipelines.offline import REPO_ROOT, available_stacks, read_stack_config

    for stack in available_stacks():
        config = config_of((REPO_ROOT / "stacks" / f"Pulumi.{stack}.yaml").read_text())
        given = {f"mlplatform:{k}": v for k, v in namespace_values(config, "mlplatform").items()}
        assert given == {k: v for k, v in read_stack_config(stack).values.items() if k in given}, stack
    shutil.copytree(REPO_ROOT / "stacks", tmp_path / "stacks")
    path = tmp_path / "stacks" / "Pulumi.dev.yaml"
    text = path.read_text()
    plain = "    alertEmails: [ml-platform-dev@example.com]\n"
    assert text.count(plain) == 1
    path.write_text(text.replace(plain, "    alertEmails:\n      - secure: v1:abc\n"))
    assert config_of(path.read_text()) != config_of(text)
    assert stack_settings("dev", tmp_path / "stacks").monitoring.alert_emails == [SECRET_PLACEHOLDER]
