"""A fork edited the docs' way keeps its tests green: a copy of the repository gets each "Adding ..."
change of the docs (a dataset and a feature group, docs/data.md; a team and a GPU pool,
docs/training.md; a model family served from an endpoint, with drift alarms, docs/monitoring.md),
then a promotion dev -> staging, and the test modules those changes touch run on the copy. Tests
that named the examples' families, teams or datasets, or expected two stacks to be equal, fail
here."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

from pipelines.offline import REPO_ROOT

MODULES = [
    "tests/stacks/test_settings.py",
    "tests/stacks/test_definitions.py",
    "tests/components/test_model_registry.py",
    "tests/components/test_data_quality.py",
    "tests/components/test_feature_store.py",
    "tests/components/test_identity.py",
    "tests/components/test_experiment_tracking.py",
    "tests/pipelines/test_promotion.py",
    "tests/policies/test_rules.py",
]


def _copy(target: Path) -> None:
    files = subprocess.run(
        ["git", "-C", str(REPO_ROOT), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        capture_output=True,
        check=True,
    ).stdout.split(b"\0")
    for name in filter(None, (f.decode() for f in files)):
        source = REPO_ROOT / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    # a fork is a git checkout of its own (release, diff and the cache key read its commits)
    git = ["git", "-C", str(target), "-c", "user.name=fork", "-c", "user.email=fork@example.com"]
    for args in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "fork"]):
        subprocess.run([*git, *args], check=True, capture_output=True)


def _example(doc: str, heading: str) -> dict:
    """The first YAML block under a heading of a doc: what the docs tell a user to write."""
    text = (REPO_ROOT / "docs" / doc).read_text()
    section = text.split(f"## {heading}", 1)[1]
    block = re.search(r"```yaml\n(.*?)```", section, flags=re.S)
    assert block, f"docs/{doc}: no YAML example under {heading!r}"
    return yaml.safe_load(re.sub(r"^ {3}", "", block.group(1), flags=re.M))


def _edit_dev(fork: Path) -> None:
    stacks = fork / "stacks"
    dataset = {**_example("data.md", "Adding a dataset with quality rules"), "name": "payments"}
    dataset["prefix"] = "payments/"
    (stacks / "datasets" / "payments.yaml").write_text(yaml.safe_dump(dataset, sort_keys=False))
    group = {**_example("data.md", "Adding a feature group"), "name": "merchant-profile"}
    (stacks / "features" / "merchant-profile.yaml").write_text(yaml.safe_dump(group, sort_keys=False))
    path = stacks / "Pulumi.dev.yaml"
    doc = yaml.safe_load(path.read_text())
    c = doc["config"]
    c["mlplatform:dataQuality"]["datasets"].append("payments")
    c["mlplatform:featureStore"]["featureGroups"].append("merchant-profile")
    c["mlplatform:training"]["teams"] += _example("training.md", "Adding a team")["teams"]
    c["mlplatform:training"]["gpuPools"] += _example("training.md", "Adding a GPU pool")["gpuPools"]
    c["mlplatform:registry"]["modelFamilies"].append("ranker")
    c["mlplatform:serving"]["modelVersions"]["ranker"] = 1
    c["mlplatform:serving"]["endpoints"].append(
        {
            "name": "ranker",
            "modelFamily": "ranker",
            "instanceType": "ml.m5.large",
            "dataCapturePercent": 20,
            "monitor": {"baselinePrefix": "monitoring/ranker/baseline/"},
        }
    )
    drift = _example("monitoring.md", "Adding drift alarms for a model")["mlplatform:monitoring"]["drift"][0]
    c["mlplatform:monitoring"]["drift"].append({**drift, "modelFamily": "ranker"})
    path.write_text(yaml.safe_dump(doc, sort_keys=False))


def test_a_fork_edited_the_docs_way_and_promoted_passes_its_tests(tmp_path):
    fork = tmp_path / "fork"
    _copy(fork)
    _edit_dev(fork)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "MLPLATFORM_"))}
    env |= {"PYTHONPATH": str(fork), "MLPLATFORM_CACHE_DIR": str(tmp_path / "cache")}
    cli = [sys.executable, "-m", "pipelines.cli"]
    planned = subprocess.run(
        [*cli, "plan", "dev", "--quiet"], cwd=fork, env=env, capture_output=True, text=True, check=False
    )
    assert planned.returncode == 0, planned.stderr
    promoted = subprocess.run(
        [*cli, "promote", "dev", "staging", "--skip-preview"],
        cwd=fork,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert promoted.returncode == 0, promoted.stdout + promoted.stderr
    ran = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", "-n", "0", *MODULES],
        cwd=fork,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert ran.returncode == 0, ran.stdout[-6000:] + ran.stderr[-2000:]
