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
def project(tmp_path, no_aws_credentials) -> Path:
    """A copy of the repository's project files to promote in; no AWS credentials (a test that asks a
    registry brings moto's)."""
    shutil.copy(REPO_ROOT / "Pulumi.yaml", tmp_path)
    shutil.copytree(REPO_ROOT / "stacks", tmp_path / "stacks")
    return tmp_path


# What a test expects comes from the copy's own files (which it sets up), never from what the example
# stacks happen to hold: the tests hold for a fork with other families, datasets or versions.


def _config(project: Path, stack: str) -> dict:
    return yaml.safe_load((project / "stacks" / f"Pulumi.{stack}.yaml").read_text())["config"]


def _value(project: Path, stack: str, path: str):
    """A setting of one of the copy's stack files, as written (section.key); None when it is not set."""
    section, _, key = path.partition(".")
    return (_config(project, stack).get(f"mlplatform:{section}") or {}).get(key)


def _dev(project: Path, path: str):
    return _value(project, "dev", path)


def _set(project: Path, stack: str, values: dict) -> None:
    """Set settings (section.key) of one of the copy's stack files, whatever its layout: the tests say
    what they change, not which text the example file happens to have."""
    from pipelines.promotion import _edited

    path = project / "stacks" / f"Pulumi.{stack}.yaml"
    path.write_text(_edited(path.read_text(), values))


def _set_dev(project: Path, **values) -> None:
    """Set settings of the copy's dev stack file (section.key, dots as __)."""
    _set(project, "dev", {k.replace("__", "."): v for k, v in values.items()})


def _promotable(project: Path) -> list[str]:
    from pipelines.promotion import rules

    return rules(project)[1]


def _align(project: Path, source: str, target: str) -> None:
    """Give the source every promotable setting the target has: promoting it then moves nothing, until
    the test changes what it is about."""
    values = {path: _value(project, target, path) for path in _promotable(project)}
    _set(project, source, {path: v for path, v in values.items() if v is not None})


def _settings(project: Path, stack: str):
    """One of the copy's stacks as the program reads it (validated)."""
    from infra.settings import parse
    from pipelines.offline import read_stack_config

    config = read_stack_config(stack, project).values
    return parse(stack, {k.removeprefix("mlplatform:"): v for k, v in config.items() if k.startswith("mlplatform:")})


def _served(project: Path) -> tuple[dict, str, int]:
    """Staging's served versions, a family of them (or of its registry, when it serves none), and the
    version staging serves of it (0: none)."""
    versions = dict(_settings(project, "staging").serving.model_versions)
    family = next(iter(versions), None) or _registry(project).registry.model_families[0]
    return versions, family, versions.get(family, 0)


def _registry(project: Path):
    """The settings of the stack whose model registry staging serves from."""
    return _settings(project, _settings(project, "staging").serving.registry_stack or "staging")


NEW_IMAGE = "al2023@v20991231"  # a node image pin no example stack has
FAMILY = "promotion-test-family"  # a model family no example stack has


def _endpoint(family: str) -> dict:
    """An endpoint of a family, with the fewest settings the validation asks for."""
    return {"name": family[:30].strip("-"), "modelFamily": family, "instanceType": "ml.m5.large"}


def test_promote_moves_exactly_the_promotable_settings(project, capsys):
    families = [*_dev(project, "registry.modelFamilies"), FAMILY]
    nodes = {**_dev(project, "training.systemNodes")}
    nodes["minSize"] = nodes["desiredSize"] = nodes["maxSize"]
    _set_dev(
        project,
        training__nodeImage=NEW_IMAGE,  # promotable (the node image pin)
        registry__modelFamilies=families,  # promotable
        monitoring__monthlyBudgetUsd=_dev(project, "monitoring.monthlyBudgetUsd") + 1,  # per environment
        training__systemNodes=nodes,  # per environment (sizes)
    )
    staging = project / "stacks" / "Pulumi.staging.yaml"
    before, old_text = _config(project, "staging"), staging.read_text()
    old_image = _value(project, "staging", "training.nodeImage")
    assert main(["promote", "dev", "staging", "--project-dir", str(project), "--skip-preview"]) == 0
    after = _config(project, "staging")
    assert after["mlplatform:training"]["nodeImage"] == NEW_IMAGE
    assert after["mlplatform:registry"]["modelFamilies"] == families
    # every promotable setting dev has is now staging's; everything else is as staging had it
    expected = json.loads(json.dumps(before))
    for path in _promotable(project):
        section, _, key = path.partition(".")
        if _dev(project, path) is not None:
            expected.setdefault(f"mlplatform:{section}", {})[key] = _dev(project, path)
    assert after == expected
    assert after["mlplatform:monitoring"]["monthlyBudgetUsd"] == before["mlplatform:monitoring"]["monthlyBudgetUsd"]
    assert after["mlplatform:training"]["systemNodes"] == before["mlplatform:training"]["systemNodes"]
    out = capsys.readouterr().out
    removed = [line for line in out.splitlines() if line.startswith("-") and not line.startswith("---")]
    added = [line for line in out.splitlines() if line.startswith("+") and not line.startswith("+++")]
    assert any(f"nodeImage: {old_image}" in line for line in removed)  # the diff is shown
    assert any(f"nodeImage: {NEW_IMAGE}" in line for line in added)
    comments = [line for line in old_text.splitlines() if line.lstrip().startswith("#")]
    assert all(line in staging.read_text().splitlines() for line in comments)  # comments kept


def test_promote_refuses_to_skip_a_stage_unless_forced_with_a_reason(project, capsys):
    _align(project, "dev", "prod")
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
    assert _value(project, "prod", "training.nodeImage") == NEW_IMAGE


def test_promote_validates_the_result_with_the_targets_settings(project, capsys):
    """A result the target's validation refuses is a refusal: it names the promoted setting that breaks
    the target and why, and says nothing was written (the target file is valid, and untouched)."""
    _align(project, "dev", "staging")
    other = f"{FAMILY}-b"
    families = [*(_value(project, "staging", "registry.modelFamilies") or []), FAMILY, other]
    versions, _, _ = _served(project)
    endpoints = _value(project, "staging", "serving.endpoints") or []
    # staging serves FAMILY from an endpoint; dev has dropped FAMILY for another family
    _set(
        project,
        "staging",
        {
            "registry.modelFamilies": families,
            "serving.modelVersions": {**versions, FAMILY: 1},
            "serving.endpoints": [*endpoints, _endpoint(FAMILY)],
        },
    )
    _set_dev(project, registry__modelFamilies=families, serving__modelVersions={**versions, other: 1})
    _settings(project, "staging")  # valid as it is
    staging = project / "stacks" / "Pulumi.staging.yaml"
    before = staging.read_text()
    assert main(["promote", "dev", "staging", "--project-dir", str(project), "--dry-run"]) == 2
    err = capsys.readouterr().err
    assert (
        "promotion refused: dev's serving.modelVersions would make stacks/Pulumi.staging.yaml invalid, nothing written:"
        in err
    )
    assert f"mlplatform:serving.endpoints[{len(endpoints)}].modelFamily: {FAMILY!r} has no version" in err
    assert "invalid setting" not in err  # not "stack 'staging' (...) has 1 invalid setting": the file is fine
    assert staging.read_text() == before  # nothing written
    assert main(["promote", "dev", "staging", "--project-dir", str(project)]) == 2
    assert staging.read_text() == before


def test_a_target_that_is_invalid_already_is_said_to_be(project, capsys):
    _align(project, "dev", "staging")
    endpoints = _value(project, "staging", "serving.endpoints") or []
    _set(project, "staging", {"serving.endpoints": [*endpoints, _endpoint(FAMILY)]})  # a family with no version
    _set_dev(project, training__nodeImage=NEW_IMAGE)
    staging = project / "stacks" / "Pulumi.staging.yaml"
    before = staging.read_text()
    assert main(["promote", "dev", "staging", "--project-dir", str(project), "--skip-preview"]) == 2
    err = capsys.readouterr().err
    assert (
        "promotion refused: stacks/Pulumi.staging.yaml is invalid as it is and would still be after promoting dev, "
        "nothing written:" in err
    )
    assert f"{FAMILY!r} has no version in serving.modelVersions" in err and "Fix stacks/Pulumi.staging.yaml" in err
    assert staging.read_text() == before


def test_a_version_no_endpoint_of_the_target_serves_is_a_warning_that_strict_refuses(project, capsys):
    """A served version whose family has no endpoint in the target deploys nothing there: probably a
    missing endpoint or a misspelled family. Said on stderr; --strict refuses it."""
    _align(project, "dev", "staging")
    families = [*(_dev(project, "registry.modelFamilies") or []), FAMILY]
    versions, _, _ = _served(project)
    _set_dev(project, registry__modelFamilies=families, serving__modelVersions={**versions, FAMILY: 7})
    staging = project / "stacks" / "Pulumi.staging.yaml"
    before = staging.read_text()
    warning = (
        f"warning: staging would serve {FAMILY} v7 from no endpoint: stacks/Pulumi.staging.yaml has no "
        f"serving.endpoints entry with modelFamily {FAMILY}"
    )
    args = ["promote", "dev", "staging", "--project-dir", str(project), "--skip-preview"]
    assert main([*args, "--strict"]) == 1
    err = capsys.readouterr().err
    assert warning in err and "Refused: 1 warning(s) and --strict; nothing written." in err
    assert "Model check" not in err  # refused before asking the registry
    assert staging.read_text() == before
    assert main([*args, "--dry-run"]) == 0 and warning in capsys.readouterr().err
    assert main(args) == 0  # a warning only: the version is written
    assert warning in capsys.readouterr().err
    assert _value(project, "staging", "serving.modelVersions")[FAMILY] == 7
    # with an endpoint of the family in staging, a new version moves without a word, --strict too
    endpoints = _value(project, "staging", "serving.endpoints") or []
    _set(project, "staging", {"serving.endpoints": [*endpoints, _endpoint(FAMILY)]})
    _set_dev(project, serving__modelVersions={**versions, FAMILY: 8})
    assert main([*args, "--strict"]) == 0
    assert "warning:" not in capsys.readouterr().err
    assert _value(project, "staging", "serving.modelVersions")[FAMILY] == 8


def test_dry_run_writes_nothing_and_no_change_is_said(project, capsys):
    _align(project, "staging", "prod")
    prod = project / "stacks" / "Pulumi.prod.yaml"
    before = prod.read_text()
    assert main(["promote", "staging", "prod", "--project-dir", str(project), "--dry-run"]) == 0
    assert capsys.readouterr().out.strip() == "prod already has every promotable setting of staging; nothing to do."
    _set(project, "staging", {"training.nodeImage": NEW_IMAGE})
    assert main(["promote", "staging", "prod", "--project-dir", str(project), "--dry-run"]) == 0
    assert f"nodeImage: {NEW_IMAGE}" in capsys.readouterr().out  # the change is shown
    assert prod.read_text() == before  # and not written


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
    staging = project / "stacks" / "Pulumi.staging.yaml"
    before = staging.read_text()
    assert main(["promote", "dev", "staging", "--project-dir", str(project), "--skip-preview"]) == 2
    err = capsys.readouterr().err
    assert "promotion refused: dev's training.charts would make stacks/Pulumi.staging.yaml invalid" in err
    assert "mlplatform:training.charts.karpenter: 1.12.1 has no verified upstream facts (verified: 1.11.1)" in err
    assert "controller IAM policy" in err and "foundation/upstream/karpenter.py" in err
    assert staging.read_text() == before  # nothing written


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

    registry = _registry(project)
    monkeypatch.setenv("MOTO_ACCOUNT_ID", registry.account_id)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    _align(project, "dev", "staging")
    versions, family, served = _served(project)
    group = f"mlplatform-{registry.environment}-{family}"
    new = served + 1
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


def test_promote_without_credentials_says_it_could_not_check_the_models(project, capsys):
    _align(project, "dev", "staging")
    versions, family, served = _served(project)
    _set_dev(project, serving__modelVersions={**versions, family: served + 1})
    assert main(["promote", "dev", "staging", "--project-dir", str(project), "--skip-preview"]) == 0
    err = capsys.readouterr().err
    assert "Model check skipped: could not check that arn:aws:sagemaker:" in err and "no AWS credentials" in err
    assert _config(project, "staging")["mlplatform:serving"]["modelVersions"][family] == served + 1


def test_promote_changes_only_the_promoted_lines_and_keeps_quoting_and_comments(project):
    """The target keeps its comments, quoting and layout; only the lines of the promoted values differ."""
    import difflib
    import re

    _align(project, "dev", "staging")
    staging = project / "stacks" / "Pulumi.staging.yaml"
    text = staging.read_text()
    # quoting and comments the promotion was not asked to touch, in and around the promoted section
    version = _config(project, "staging")["mlplatform:training"]["kubernetesVersion"]
    text = re.sub(r"kubernetesVersion: .*", f"kubernetesVersion: '{version}'  # single quotes stay", text, count=1)
    staging.write_text(text)
    old_image = _value(project, "staging", "training.nodeImage")
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


# --- the layout of the target file: what is not promoted stays byte for byte ---------------------------------


def _node(text: str, path: str):
    """The YAML node of a setting (section.key) in a stack file's text; None when it is not set."""

    def child(node, key):
        if isinstance(node, yaml.MappingNode):
            return next((v for k, v in node.value if k.value == key), None)
        return None

    section, _, key = path.partition(".")
    return child(child(child(yaml.compose(text), "config"), f"mlplatform:{section}"), key)


def _scalars(node):
    """The scalar values in a node (mapping keys left out)."""
    if isinstance(node, yaml.ScalarNode):
        yield node
    for item in node.value if isinstance(node, yaml.SequenceNode) else ():
        yield from _scalars(item)
    for _, value in node.value if isinstance(node, yaml.MappingNode) else ():
        yield from _scalars(value)


def _content_end(node) -> int:
    """Where a node's text ends (a block collection's end mark lies past the comments after it)."""
    if isinstance(node, yaml.ScalarNode) or node.flow_style or not node.value:
        return node.end_mark.index
    last = node.value[-1]
    return _content_end(last[1] if isinstance(node, yaml.MappingNode) else last)


def _outside(text: str, paths) -> str:
    """A stack file's text with the values of these settings cut out: what must stay byte for byte."""
    spans = sorted(
        (node.start_mark.index, _content_end(node)) for node in (_node(text, p) for p in paths) if node is not None
    )
    kept, at = [], 0
    for start, end in spans:
        kept += [text[at:start], "<value>"]
        at = end
    return "".join([*kept, text[at:]])


def _scrambled(text: str, paths) -> tuple[str, set[int]]:
    """The text with every scalar of these settings changed in place, in its own quoting (text gets
    "-old", a number 1 more, a boolean the other), and the numbers of the lines changed."""
    edits = []
    for path in paths:
        for scalar in _scalars(_node(text, path)) if _node(text, path) is not None else ():
            start, end, kind = scalar.start_mark.index, scalar.end_mark.index, scalar.tag.rsplit(":", 1)[-1]
            if kind == "str" and scalar.style in ("'", '"'):
                edits.append((end - 1, end - 1, "-old", scalar.start_mark.line))
            elif kind == "str" and scalar.style is None and "\n" not in text[start:end]:
                edits.append((end, end, "-old", scalar.start_mark.line))
            elif kind == "int":
                edits.append((start, end, str(int(scalar.value) + 1), scalar.start_mark.line))
            elif kind == "bool" and scalar.value in ("true", "false"):
                edits.append((start, end, "false" if scalar.value == "true" else "true", scalar.start_mark.line))
    for start, end, new, _ in sorted(edits, reverse=True):
        text = text[:start] + new + text[end:]
    return text, {line for *_, line in edits}


EXAMPLES = sorted(
    p.name.removeprefix("Pulumi.").removesuffix(".yaml") for p in (REPO_ROOT / "stacks").glob("Pulumi.*.yaml")
)


@pytest.mark.parametrize("stack", EXAMPLES)
def test_promote_keeps_the_layout_of_every_promotable_setting(project, stack, capsys):
    """Every promotable setting of a stack file, in the file's own style (flow or block, quoting,
    comments): an upstream stage holding the file's own values promotes them back over a copy whose
    values were all changed in place, and the file comes back byte for byte."""
    promotable = _promotable(project)
    target = project / "stacks" / f"Pulumi.{stack}.yaml"
    original = target.read_text()
    (project / "stacks" / "promotion.yaml").write_text(
        yaml.safe_dump({"order": ["upstream", stack], "promotable": promotable})
    )
    (project / "stacks" / "Pulumi.upstream.yaml").write_text(original)
    scrambled, lines = _scrambled(original, promotable)
    assert lines, "no promotable value to change"
    target.write_text(scrambled)
    assert main(["promote", "upstream", stack, "--project-dir", str(project), "--skip-preview"]) == 0
    after = target.read_text()
    # only the lines of the changed values changed, and back to what they were
    old_lines, new_lines = scrambled.splitlines(keepends=True), after.splitlines(keepends=True)
    assert len(new_lines) == len(old_lines)
    assert {i for i, (a, b) in enumerate(zip(old_lines, new_lines, strict=True)) if a != b} == lines
    assert after == original
    for path in promotable:  # a flow mapping or list stays flow, a block one block
        before_node, after_node = _node(scrambled, path), _node(after, path)
        if isinstance(before_node, yaml.MappingNode | yaml.SequenceNode):
            assert after_node.flow_style == before_node.flow_style, path


def test_a_flow_mapping_stays_a_flow_mapping_with_the_new_values(project):
    """The served versions, new ones and a new family: they change in place, in the style the target
    writes them (the issue: `modelVersions: {churn: 3, fraud-detector: 7}` was rewritten as a block)."""
    _align(project, "dev", "staging")
    versions, _, _ = _served(project)
    new = {**{family: version + 1 for family, version in versions.items()}, FAMILY: 1}
    _set_dev(project, registry__modelFamilies=[*(_dev(project, "registry.modelFamilies") or []), FAMILY])
    _set_dev(project, serving__modelVersions=new)
    staging = project / "stacks" / "Pulumi.staging.yaml"
    before = staging.read_text()
    moved = [p for p in _promotable(project) if _dev(project, p) != _value(project, "staging", p)]
    assert main(["promote", "dev", "staging", "--project-dir", str(project), "--skip-preview"]) == 0
    after = staging.read_text()
    assert _value(project, "staging", "serving.modelVersions") == new
    assert _outside(after, moved) == _outside(before, moved)  # every byte outside the moved values
    was = _node(before, "serving.modelVersions")
    if was is not None:
        assert _node(after, "serving.modelVersions").flow_style == was.flow_style


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

    registry = _registry(project)
    monkeypatch.setenv("MOTO_ACCOUNT_ID", registry.account_id)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setattr(engine, "preview", lambda stack, **_: CLEAN_PREVIEW)
    monkeypatch.chdir(tmp_path)  # the report lands here
    _align(project, "dev", "staging")
    versions, family, served = _served(project)
    group, new = f"mlplatform-{registry.environment}-{family}", served + 1
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
    monkeypatch.chdir(tmp_path)
    _align(project, "dev", "staging")
    staging = project / "stacks" / "Pulumi.staging.yaml"
    before = staging.read_text()
    args = [*_workflow_promote_args("dev", "staging", RELEASE), "--project-dir", str(project)]
    versions, family, served = _served(project)
    _set_dev(project, serving__modelVersions={**versions, family: served + 1})
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
