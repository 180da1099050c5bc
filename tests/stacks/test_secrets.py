"""Settings that hold credentials come only from secret config, and stay secret through the program."""

from __future__ import annotations

import json

import pytest

from infra.settings import OFFLINE_SECRET, SECRET_SETTINGS, SettingsError, parse
from pipelines.cli import main
from pipelines.offline import SECRET_PLACEHOLDER, engine_config, plan_stack, read_stack_config
from tests.stacks.test_settings import values_of


def test_the_offline_placeholder_is_the_one_settings_accept():
    assert SECRET_PLACEHOLDER == OFFLINE_SECRET


def test_a_plain_webhook_in_a_stack_file_is_refused_with_the_command_to_use():
    values = values_of(
        "dev",
        monitoring={**json.loads(values_of("dev")["monitoring"]), "chatWebhooks": ["https://hooks.example.com/x"]},
    )
    with pytest.raises(SettingsError) as caught:
        parse("dev", values, secret=frozenset())
    (problem,) = caught.value.problems
    assert problem[0] == "mlplatform:monitoring.chatWebhooks"
    assert "pulumi config set --secret --path 'mlplatform:monitoring.chatWebhooks[0]'" in problem[1]
    # the same value from secret config is accepted
    assert parse("dev", values, secret=frozenset({"mlplatform:monitoring"})).monitoring.chat_webhooks


def test_every_secret_setting_is_a_setting():
    from infra.settings import Settings
    from tests.stacks.test_settings import _setting_paths

    assert set(SECRET_SETTINGS) <= set(_setting_paths(Settings))


def test_secure_values_nested_in_a_section_make_the_section_a_secret_key():
    config = engine_config("mlplatform", "prod", {"mlplatform:monitoring": {"chatWebhooks": [{"secure": "v1:abc"}]}})
    assert config.secret_keys == {"mlplatform:monitoring"}
    assert json.loads(config.values["mlplatform:monitoring"]) == {"chatWebhooks": [SECRET_PLACEHOLDER]}


def test_a_secret_webhook_stays_secret_in_the_plan():
    assert "mlplatform:monitoring" in read_stack_config("prod").secret_keys  # prod has one, encrypted
    plan = plan_stack("prod")
    (chat,) = [
        r for r in plan.of_type("aws:sns/topicSubscription:TopicSubscription") if r.inputs["protocol"] == "https"
    ]
    assert chat.inputs["endpoint"] == "[secret]"
    assert "hooks." not in plan.to_json() and OFFLINE_SECRET not in plan.to_json()


def test_the_cli_names_the_plain_secret_and_exits_2(tmp_path, capsys):
    import shutil

    from pipelines.offline import REPO_ROOT

    shutil.copy(REPO_ROOT / "Pulumi.yaml", tmp_path)
    shutil.copytree(REPO_ROOT / "stacks", tmp_path / "stacks")
    path = tmp_path / "stacks" / "Pulumi.dev.yaml"
    path.write_text(path.read_text().replace("chatWebhooks: []", 'chatWebhooks: ["https://hooks.example.com/x"]'))
    assert main(["plan", "dev", "--project-dir", str(tmp_path), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "mlplatform:monitoring.chatWebhooks: holds credentials and must be a secret" in err
    assert "Traceback" not in err
