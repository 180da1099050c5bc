"""Promotion moves exactly the promotable settings, in stage order, and is guarded on the engine."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml

from pipelines import engine
from pipelines.cli import main
from pipelines.guard import drift_report, stateful_losses
from pipelines.offline import REPO_ROOT

PREVIEWS = Path(__file__).with_name("previews")


@pytest.fixture
def project(tmp_path) -> Path:
    """A copy of the repository's project files to promote in."""
    shutil.copy(REPO_ROOT / "Pulumi.yaml", tmp_path)
    shutil.copytree(REPO_ROOT / "stacks", tmp_path / "stacks")
    return tmp_path


def _config(project: Path, stack: str) -> dict:
    return yaml.safe_load((project / "stacks" / f"Pulumi.{stack}.yaml").read_text())["config"]


def _dev(project: Path, path: str):
    """A setting of the copy's dev stack file, as written (section.key)."""
    section, _, key = path.partition(".")
    return _config(project, "dev")[f"mlplatform:{section}"][key]


def _set_dev(project: Path, **values) -> None:
    """Set settings (section.key, dots as __) of the copy's dev stack file, whatever its layout: the
    tests say what they change, not which text the example file happens to have."""
    from pipelines.promotion import _edited

    path = project / "stacks" / "Pulumi.dev.yaml"
    path.write_text(_edited(path.read_text(), {k.replace("__", "."): v for k, v in values.items()}))


NEW_IMAGE = "al2023@v20991231"  # a node image pin no example stack has


def test_promote_moves_exactly_the_promotable_settings(project, capsys):
    families = [*_dev(project, "registry.modelFamilies"), "ranker"]
    nodes = {**_dev(project, "training.systemNodes")}
    nodes["minSize"] = nodes["desiredSize"] = nodes["maxSize"]
    old_image = _dev(project, "training.nodeImage")
    _set_dev(
        project,
        training__nodeImage=NEW_IMAGE,  # promotable (the node image pin)
        registry__modelFamilies=families,  # promotable
        monitoring__monthlyBudgetUsd=_dev(project, "monitoring.monthlyBudgetUsd") + 1,  # per environment
        training__systemNodes=nodes,  # per environment (sizes)
    )
    before = _config(project, "staging")
    assert main(["promote", "dev", "staging", "--project-dir", str(project), "--skip-preview"]) == 0
    after = _config(project, "staging")
    assert after["mlplatform:training"]["nodeImage"] == NEW_IMAGE
    assert after["mlplatform:registry"]["modelFamilies"] == families
    # everything else is as staging had it
    assert after["mlplatform:monitoring"]["monthlyBudgetUsd"] == before["mlplatform:monitoring"]["monthlyBudgetUsd"]
    assert after["mlplatform:training"]["systemNodes"] == before["mlplatform:training"]["systemNodes"]
    assert after["mlplatform:accountId"] == before["mlplatform:accountId"]
    changed = {k for k in after if after[k] != before[k]}
    assert changed == {"mlplatform:training", "mlplatform:registry"}
    out = capsys.readouterr().out
    assert f"-    nodeImage: {old_image}" in out and f"+    nodeImage: {NEW_IMAGE}" in out  # the diff is shown
    text = (project / "stacks" / "Pulumi.staging.yaml").read_text()
    assert "# staging: prod at small scale." in text and "# Served from dev's registry" in text


def test_promote_refuses_to_skip_a_stage_unless_forced_with_a_reason(project, capsys):
    _set_dev(project, training__nodeImage=NEW_IMAGE)
    assert main(["promote", "dev", "prod", "--project-dir", str(project), "--skip-preview"]) == 2
    assert "dev -> prod skips staging; promote through it, or pass --force with --reason" in capsys.readouterr().err
    assert main(["promote", "dev", "prod", "--project-dir", str(project), "--skip-preview", "--force"]) == 2
    assert main(["promote", "prod", "staging", "--project-dir", str(project)]) == 2
    assert "promotion goes forward" in capsys.readouterr().err
    reason = "CVE-2026-1234 hotfix of the node image, approved in CHG-88"
    assert (
        main(["promote", "dev", "prod", "--project-dir", str(project), "--skip-preview", "--force", "--reason", reason])
        == 0
    )
    (entry,) = [json.loads(line) for line in (project / "stacks" / "promotions.log").read_text().splitlines()]
    assert (entry["from"], entry["to"], entry["reason"], entry["settings"]) == (
        "dev",
        "prod",
        reason,
        ["training.nodeImage"],
    )


def test_promote_validates_the_result_with_the_targets_settings(project, capsys):
    # dev may stop serving a family, but staging's endpoint of that family then has no version to serve
    from tests.plans import settings_of

    served = settings_of("staging").serving.endpoints[0].model_family
    others = [f for f in _dev(project, "registry.modelFamilies") if f != served]
    endpoints = [{**e, "modelFamily": others[0]} for e in _dev(project, "serving.endpoints")]
    _set_dev(project, serving__modelVersions={others[0]: 1}, serving__endpoints=endpoints)
    before = (project / "stacks" / "Pulumi.staging.yaml").read_text()
    assert main(["promote", "dev", "staging", "--project-dir", str(project), "--dry-run"]) == 2
    err = capsys.readouterr().err
    assert f"mlplatform:serving.endpoints[0].modelFamily: {served!r} has no version in serving.modelVersions" in err
    assert (project / "stacks" / "Pulumi.staging.yaml").read_text() == before  # nothing written


def test_dry_run_writes_nothing_and_no_change_is_said(project, capsys):
    assert main(["promote", "staging", "prod", "--project-dir", str(project), "--dry-run"]) == 0
    assert capsys.readouterr().out.strip() == "prod already has every promotable setting of staging; nothing to do."


def test_guard_rejects_a_preview_that_replaces_a_protected_bucket():
    preview = json.loads((PREVIEWS / "replace-protected-bucket.json").read_text())
    (refusal,) = stateful_losses(preview)
    assert (refusal.op, refusal.type, refusal.name) == ("replace", "aws:s3/bucket:Bucket", "lake-raw")
    assert "changed: bucket" in str(refusal)
    # a chart upgrade and a launch-template replacement lose nothing
    assert stateful_losses(json.loads((PREVIEWS / "chart-upgrade.json").read_text())) == []


def test_promotion_is_undone_when_the_engine_preview_would_lose_data(project, monkeypatch, capsys):
    _set_dev(project, training__nodeImage=NEW_IMAGE)
    before = (project / "stacks" / "Pulumi.staging.yaml").read_text()
    recorded = json.loads((PREVIEWS / "replace-protected-bucket.json").read_text())
    monkeypatch.setattr(engine, "preview", lambda stack, **_: recorded)
    assert main(["promote", "dev", "staging", "--project-dir", str(project)]) == 1
    err = capsys.readouterr().err
    assert "replace of aws:s3/bucket:Bucket lake-raw (changed: bucket)" in err
    assert (project / "stacks" / "Pulumi.staging.yaml").read_text() == before


def test_drift_report_lists_what_changed_outside_pulumi():
    report = drift_report("prod", json.loads((PREVIEWS / "refresh-drift.json").read_text()))
    assert not report.clean
    assert report.drifted == [("update", "aws:kms/key:Key", "keys-data", ("enableKeyRotation",))]
    assert "| update | `aws:kms/key:Key` | keys-data | enableKeyRotation |" in report.markdown()
    assert drift_report("prod", {"steps": []}).clean


def test_drift_without_the_cli_says_what_to_run(monkeypatch, capsys):
    monkeypatch.setattr(engine.shutil, "which", lambda _: None)
    assert main(["drift", "prod"]) == 2
    assert "run `pulumi preview --stack prod --refresh` where it is" in capsys.readouterr().err


def test_automation_api_events_become_steps_the_guard_reads():
    from pulumi.automation import events as ev

    def state(type_: str, urn: str):
        return ev.StepEventStateMetadata(type=type_, urn=urn, id="x", parent="", provider="")

    urn = "urn:pulumi:staging::mlplatform::mlplatform:storage:SecureBucket$aws:s3/bucket:Bucket::lake-raw"
    replace = ev.StepEventMetadata(
        op=ev.OpType.REPLACE, urn=urn, type="aws:s3/bucket:Bucket", provider="p",
        old=state("aws:s3/bucket:Bucket", urn), new=state("aws:s3/bucket:Bucket", urn),
        keys=["bucket"], diffs=["bucket"],
    )  # fmt: skip
    same = ev.StepEventMetadata(
        op=ev.OpType.SAME, urn=urn.replace("lake-raw", "lake-curated"), type="aws:s3/bucket:Bucket", provider="p"
    )
    events = [
        ev.EngineEvent(sequence=1, timestamp=0, resource_pre_event=ev.ResourcePreEvent(replace)),
        ev.EngineEvent(sequence=2, timestamp=0, resource_pre_event=ev.ResourcePreEvent(same)),
        ev.EngineEvent(sequence=3, timestamp=0, summary_event=None),
    ]
    steps = engine.steps_from_events(events)
    assert [s["op"] for s in steps] == ["replace", "same"]
    (refusal,) = stateful_losses({"steps": steps})
    assert str(refusal).startswith("replace of aws:s3/bucket:Bucket lake-raw (changed: bucket)")


def test_promote_refuses_a_chart_pin_whose_upstream_facts_were_not_verified(project, capsys):
    # The version-bump guard: a chart bump must come with re-read upstream facts (foundation/upstream).
    _set_dev(project, training__charts={**_dev(project, "training.charts"), "karpenter": "1.12.1"})
    assert main(["promote", "dev", "staging", "--project-dir", str(project), "--skip-preview"]) == 2
    err = capsys.readouterr().err
    assert "mlplatform:training.charts.karpenter: 1.12.1 has no verified upstream facts (verified: 1.11.1)" in err
    assert "controller IAM policy" in err and "foundation/upstream/karpenter.py" in err
    assert '"1.11.1"' in (project / "stacks" / "Pulumi.staging.yaml").read_text()  # nothing written


@pytest.mark.parametrize(
    ("promotion", "message"),
    [
        # a misspelled path would make promote say "nothing to do"
        (
            "order: [dev, staging, prod]\npromotable: [training.nodeImg]\n",
            "promotable[0]: 'training.nodeImg' is not a setting; did you mean training.nodeImage?",
        ),
        ("order: dev, staging, prod\npromotable: []\n", "`order` must be a list of names"),
        ("order: [dev, staging, prod]\n", "must be a mapping with `order` and `promotable`"),
        ("order: [dev, staging, prod\n", "stacks/promotion.yaml is not valid YAML at line"),
    ],
)
def test_a_wrong_promotion_file_is_named_exit_2(project, capsys, promotion, message):
    (project / "stacks" / "promotion.yaml").write_text(promotion)
    assert main(["promote", "dev", "staging", "--project-dir", str(project), "--dry-run"]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_a_stack_file_that_is_not_yaml_stops_promote_with_its_line(project, capsys):
    target = project / "stacks" / "Pulumi.staging.yaml"
    target.write_text(target.read_text() + "  mlplatform:owner: [unclosed\n")
    assert main(["promote", "dev", "staging", "--project-dir", str(project), "--dry-run"]) == 2
    assert "stacks/Pulumi.staging.yaml is not valid YAML at line" in capsys.readouterr().err


def _register(account: str, group: str, statuses: list[str]) -> None:
    """Versions 1..n of a model package group in moto's SageMaker, with these approval statuses."""
    import boto3

    sagemaker = boto3.client("sagemaker", region_name="eu-west-1")
    sagemaker.create_model_package_group(ModelPackageGroupName=group)
    for status in statuses:
        sagemaker.create_model_package(
            ModelPackageGroupName=group,
            ModelApprovalStatus=status,
            InferenceSpecification={
                "Containers": [{"Image": f"{account}.dkr.ecr.eu-west-1.amazonaws.com/mlplatform-dev/inference:1"}],
                "SupportedContentTypes": ["text/csv"],
                "SupportedResponseMIMETypes": ["text/csv"],
            },
        )


def test_promote_refuses_a_model_version_the_registry_has_not_approved(project, capsys, monkeypatch):
    """The versions move only if SageMaker says Approved, in the registry the target serves from
    (staging serves dev's: the package ARNs are dev's account and group names)."""
    from moto import mock_aws

    from tests.plans import settings_of

    registry = settings_of(settings_of("staging").serving.registry_stack or "staging")
    monkeypatch.setenv("MOTO_ACCOUNT_ID", registry.account_id)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    versions = settings_of("dev").serving.model_versions
    family = next(iter(versions))
    group = f"mlplatform-{registry.environment}-{family}"
    new = versions[family] + 1
    _set_dev(project, serving__modelVersions={**versions, family: new})
    staging = project / "stacks" / "Pulumi.staging.yaml"
    before = staging.read_text()
    with mock_aws():
        _register(registry.account_id, group, ["Approved"] * (new - 1) + ["PendingManualApproval"])
        assert main(["promote", "dev", "staging", "--project-dir", str(project), "--skip-preview"]) == 1
        err = capsys.readouterr().err
        arn = f"arn:aws:sagemaker:eu-west-1:{registry.account_id}:model-package/{group}/{new}"
        assert f"{family} version {new}: {arn} is PendingManualApproval, not Approved" in err
        assert staging.read_text() == before  # nothing written

        import boto3

        boto3.client("sagemaker", region_name="eu-west-1").update_model_package(
            ModelPackageArn=arn, ModelApprovalStatus="Approved"
        )
        assert main(["promote", "dev", "staging", "--project-dir", str(project), "--skip-preview"]) == 0
        assert _config(project, "staging")["mlplatform:serving"]["modelVersions"][family] == new
        _set_dev(project, serving__modelVersions={**versions, family: new + 5})  # a version never registered
        capsys.readouterr()
        assert main(["promote", "dev", "staging", "--project-dir", str(project), "--skip-preview"]) == 1
        missing = f"arn:aws:sagemaker:eu-west-1:{registry.account_id}:model-package/{group}/{new + 5}"
        assert f"{family} version {new + 5}: {missing} does not exist" in capsys.readouterr().err


def _no_credentials(monkeypatch, tmp_path):
    """No credential anywhere boto3 looks (environment, files, instance metadata)."""
    for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


def test_promote_without_credentials_says_it_could_not_check_the_models(project, capsys, monkeypatch, tmp_path):
    _no_credentials(monkeypatch, tmp_path)
    from tests.plans import settings_of

    versions = settings_of("dev").serving.model_versions
    family = next(iter(versions))
    _set_dev(project, serving__modelVersions={**versions, family: versions[family] + 1})
    assert main(["promote", "dev", "staging", "--project-dir", str(project), "--skip-preview"]) == 0
    err = capsys.readouterr().err
    assert "Model check skipped: could not check that arn:aws:sagemaker:" in err and "no AWS credentials" in err
    assert _config(project, "staging")["mlplatform:serving"]["modelVersions"][family] == versions[family] + 1


def test_promote_changes_only_the_promoted_lines_and_keeps_quoting_and_comments(project):
    """Round-trip editing (ruamel.yaml): the target keeps its comments, quoting and layout; only the
    lines of the promoted values differ."""
    import difflib

    staging = project / "stacks" / "Pulumi.staging.yaml"
    text = staging.read_text()
    # quoting and comments the promotion was not asked to touch, in and around the promoted section
    import re

    version = _config(project, "staging")["mlplatform:training"]["kubernetesVersion"]
    text = re.sub(r"kubernetesVersion: .*", f"kubernetesVersion: '{version}'  # single quotes stay", text, count=1)
    staging.write_text(text)
    old_image = _dev(project, "training.nodeImage")
    _set_dev(project, training__nodeImage=NEW_IMAGE)
    assert main(["promote", "dev", "staging", "--project-dir", str(project), "--skip-preview"]) == 0
    after = staging.read_text()
    changed = [
        line
        for line in difflib.unified_diff(text.splitlines(), after.splitlines(), lineterm="", n=0)
        if line[:1] in "+-" and not line.startswith(("+++", "---"))
    ]
    assert [line[0] + line[1:].strip() for line in changed] == [f"-nodeImage: {old_image}", f"+nodeImage: {NEW_IMAGE}"]
    assert f"kubernetesVersion: '{version}'  # single quotes stay" in after


# --- promotion in CI: the workflow's own command, every guard required ------------------------------------

RELEASE = "0123456789abcdef0123456789abcdef01234567"


def _workflow_promote_args(source: str, target: str, release: str) -> list[str]:
    """The `mlplatform promote` line of promote.yml, as the job runs it (its variables filled in)."""
    import shlex

    workflow = yaml.safe_load((REPO_ROOT / ".github" / "workflows" / "promote.yml").read_text())
    (job,) = workflow["jobs"].values()
    (line,) = [s["run"] for s in job["steps"] if s.get("run", "").startswith(".venv/bin/mlplatform promote ")]
    filled = line.replace('"$FROM"', source).replace('"$TO"', target).replace('"$RELEASE"', release)
    return shlex.split(filled)[1:]


CLEAN_PREVIEW = {"steps": [], "changeSummary": {"same": 3}}


def test_the_ci_promotion_refuses_an_unapproved_model_and_writes_nothing(project, capsys, monkeypatch, tmp_path):
    from moto import mock_aws

    from tests.plans import settings_of

    registry = settings_of(settings_of("staging").serving.registry_stack or "staging")
    monkeypatch.setenv("MOTO_ACCOUNT_ID", registry.account_id)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setattr(engine, "preview", lambda stack, **_: CLEAN_PREVIEW)
    monkeypatch.chdir(tmp_path)  # the report lands here
    versions = settings_of("dev").serving.model_versions
    family = next(iter(versions))
    group, new = f"mlplatform-{registry.environment}-{family}", versions[family] + 1
    _set_dev(project, serving__modelVersions={**versions, family: new})
    staging = project / "stacks" / "Pulumi.staging.yaml"
    before = staging.read_text()
    args = [*_workflow_promote_args("dev", "staging", RELEASE), "--project-dir", str(project)]
    with mock_aws():
        _register(registry.account_id, group, ["Approved"] * (new - 1) + ["PendingManualApproval"])
        assert main(args) == 1
        assert "is PendingManualApproval, not Approved" in capsys.readouterr().err
        assert staging.read_text() == before
        import boto3

        arn = f"arn:aws:sagemaker:eu-west-1:{registry.account_id}:model-package/{group}/{new}"
        boto3.client("sagemaker", region_name="eu-west-1").update_model_package(
            ModelPackageArn=arn, ModelApprovalStatus="Approved"
        )
        assert main(args) == 0
    promoted = _config(project, "staging")
    assert promoted["mlplatform:serving"]["modelVersions"][family] == new
    assert promoted["mlplatform:ci"]["release"] == RELEASE  # staging will run the code dev runs
    report = (tmp_path / "checks.md").read_text()
    assert f"{arn} is Approved" in report and f"staging will run {RELEASE}" in report
    assert "preview of staging (platform project): same 3; no stateful resource lost" in report


def test_a_guard_that_cannot_check_fails_the_ci_promotion(project, capsys, monkeypatch, tmp_path):
    _no_credentials(monkeypatch, tmp_path)
    monkeypatch.chdir(tmp_path)
    from tests.plans import settings_of

    staging = project / "stacks" / "Pulumi.staging.yaml"
    before = staging.read_text()
    args = [*_workflow_promote_args("dev", "staging", RELEASE), "--project-dir", str(project)]
    versions = settings_of("dev").serving.model_versions
    family = next(iter(versions))
    _set_dev(project, serving__modelVersions={**versions, family: versions[family] + 1})
    assert main(args) == 1  # the registry cannot be asked
    assert "a guard could not check (--require-checks); nothing written" in capsys.readouterr().err
    assert staging.read_text() == before
    _set_dev(project, serving__modelVersions=versions, training__nodeImage=NEW_IMAGE)
    monkeypatch.setattr(engine.shutil, "which", lambda _: None)  # no Pulumi CLI: no preview
    assert main(args) == 1
    assert "the preview could not run (--require-checks); the stack file restored" in capsys.readouterr().err
    assert staging.read_text() == before


def test_promotion_moves_the_code_the_source_runs_and_never_other_code(project, capsys):
    assert (
        main(["promote", "dev", "staging", "--release", RELEASE, "--skip-preview", "--project-dir", str(project)]) == 0
    )
    assert _config(project, "staging")["mlplatform:ci"]["release"] == RELEASE
    # prod gets what staging pins; a staging that runs another commit (not yet deployed) is refused
    assert (
        main(["promote", "staging", "prod", "--release", RELEASE, "--skip-preview", "--project-dir", str(project)]) == 0
    )
    assert _config(project, "prod")["mlplatform:ci"]["release"] == RELEASE
    other = "f" * 40
    capsys.readouterr()
    assert (
        main(["promote", "staging", "prod", "--release", other, "--skip-preview", "--project-dir", str(project)]) == 2
    )
    assert f"staging pins ci.release {RELEASE} but runs {other}: deploy staging before promoting it" in (
        capsys.readouterr().err
    )
    assert (
        main(["promote", "dev", "staging", "--release", "main", "--skip-preview", "--project-dir", str(project)]) == 2
    )
    assert "is not a full commit id" in capsys.readouterr().err


def test_release_prints_the_pinned_commit_or_the_checkout(project, capsys):
    import subprocess

    head = subprocess.run(
        ["git", "-C", str(REPO_ROOT), "rev-parse", "HEAD"], check=True, capture_output=True, text=True
    )
    head = head.stdout
    assert main(["release", "dev"]) == 0
    assert capsys.readouterr().out == head
    assert (
        main(["promote", "dev", "staging", "--release", RELEASE, "--skip-preview", "--project-dir", str(project)]) == 0
    )
    capsys.readouterr()
    assert main(["release", "staging", "--project-dir", str(project)]) == 0
    assert capsys.readouterr().out.strip() == RELEASE


def test_a_stack_refuses_to_deploy_code_other_than_its_release(monkeypatch):
    """The deploy workflow checks out the pinned commit; the program itself refuses another one."""
    from infra.settings import SettingsError
    from pipelines.offline import plan_stack, read_stack_config

    ci = json.loads(read_stack_config("staging").values["mlplatform:ci"]) | {"release": RELEASE}
    monkeypatch.setenv("MLPLATFORM_COMMIT", "f" * 40)
    with pytest.raises(SettingsError, match=f"ci.release: pins commit {RELEASE}, but this run deploys f+"):
        plan_stack("staging", overrides={"mlplatform:ci": ci})
    monkeypatch.setenv("MLPLATFORM_COMMIT", RELEASE)
    assert plan_stack("staging", overrides={"mlplatform:ci": ci}).outputs["deployedCommit"] == RELEASE
