"""promtool and amtool, run by the tests: the ecosystem's own rule evaluator and router.

`make test` installs them (pipelines/alert_tools.py). Without them a test says what is missing and
how to get it; with MLPLATFORM_REQUIRE_TOOLS set (CI, `.ci/run`) it fails instead of skipping.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from pipelines.alert_tools import BIN


def tool(name: str) -> str:
    found = BIN / name if (BIN / name).exists() else shutil.which(name)
    if found:
        return str(found)
    message = (
        f"{name} is missing: `make test` installs it into {BIN} (pipelines/alert_tools.py, Debian 12's "
        f"{'prometheus' if name == 'promtool' else 'prometheus-alertmanager'} package), or put one on PATH"
    )
    if os.environ.get("MLPLATFORM_REQUIRE_TOOLS"):
        pytest.fail(message)
    pytest.skip(message)


def promtool_test(directory: Path, groups: list[dict], tests: list[dict], interval: str = "1m") -> str:
    """`promtool test rules` of ``groups`` on ``tests`` (alert_rule_test / promql_expr_test entries
    with their input_series); the failures promtool prints, or "" when every case holds."""
    rules, spec = directory / "rules.yaml", directory / "tests.yaml"
    rules.write_text(yaml.safe_dump({"groups": groups}, sort_keys=False))
    spec.write_text(
        yaml.safe_dump(
            # each group's series one sample per `interval` (promtool's own default is not one minute)
            {
                "rule_files": [rules.name],
                "evaluation_interval": interval,
                "tests": [{"interval": interval, **t} for t in tests],
            },
            sort_keys=False,
            width=1000,
        )
    )
    done = subprocess.run(
        [tool("promtool"), "test", "rules", spec.name], cwd=directory, capture_output=True, text=True, check=False
    )
    return "" if done.returncode == 0 else done.stdout + done.stderr


def promtool_check(directory: Path, groups: list[dict]) -> str:
    """`promtool check rules`: "" when the rule file is valid."""
    rules = directory / "check.yaml"
    rules.write_text(yaml.safe_dump({"groups": groups}, sort_keys=False))
    done = subprocess.run([tool("promtool"), "check", "rules", str(rules)], capture_output=True, text=True, check=False)
    return "" if done.returncode == 0 else done.stdout + done.stderr


def amtool_routes(directory: Path, config: dict, labels: dict[str, str]) -> list[str]:
    """The receivers Alertmanager routes an alert with ``labels`` to (`amtool config routes test`)."""
    path = directory / "alertmanager.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    args = [f"{k}={json.dumps(v)}" for k, v in sorted(labels.items())]
    done = subprocess.run(
        [tool("amtool"), "config", "routes", "test", f"--config.file={path}", *args],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode not in (0, 1) or not done.stdout.strip():
        raise AssertionError(f"amtool failed: {done.stdout}{done.stderr}")
    return sorted(done.stdout.strip().split(","))


def amtool_check(directory: Path, config: dict) -> str:
    path = directory / "alertmanager.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    done = subprocess.run([tool("amtool"), "check-config", str(path)], capture_output=True, text=True, check=False)
    return "" if done.returncode == 0 else done.stdout + done.stderr
