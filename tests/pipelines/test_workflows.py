"""The GitHub workflows: valid, least-privileged, pinned to verified commits, free of template
injection, running the engine only on the stack's own runner, deploying only from main, and calling
only commands that exist."""

from __future__ import annotations

import re
import shlex
import tomllib
from pathlib import Path

import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = sorted((REPO_ROOT / ".github" / "workflows").glob("*.yml"))
STACKS = ("dev", "staging", "prod")
SHELL_WORDS = {"cat", "cp", "gh", "git", "echo", "exit", "if", "then", "else", "fi", "[",
               "title=", "number=", "commit=", "code=", "files="}  # fmt: skip

# Every action the workflows may use, the commit its tag points to, and the inputs its action.yml
# declares at that commit. Each SHA was verified with `git rev-parse <tag>^{commit}` on a mirror of the
# action's own repository (github.com/<owner>/<repo>), and the inputs read from `git show <tag>:action.yml`
# there. actionlint checks the inputs of popular actions only when they are referenced by tag, not by
# SHA, so this table is what catches a misspelled input. Upgrading an action means verifying the new
# pair and its inputs the same way and updating this table.
VERIFIED_PINS = {
    "actions/checkout": (
        "11d5960a326750d5838078e36cf38b85af677262",
        "v4.4.0",
        "allow-unsafe-pr-checkout clean fetch-depth fetch-tags filter github-server-url lfs path persist-credentials"
        " ref repository set-safe-directory show-progress sparse-checkout sparse-checkout-cone-mode ssh-key"
        " ssh-known-hosts ssh-strict ssh-user submodules token",
    ),
    "actions/setup-python": (
        "a26af69be951a213d495a4c3e4e4022e16d87065",
        "v5.6.0",
        "allow-prereleases architecture cache cache-dependency-path check-latest freethreaded python-version"
        " python-version-file token update-environment",
    ),
    "actions/cache": (
        "0057852bfaa89a56745cba8c7296529d2fc39830",
        "v4.3.0",
        "enableCrossOsArchive fail-on-cache-miss key lookup-only path restore-keys save-always upload-chunk-size",
    ),
    "aws-actions/configure-aws-credentials": (
        "7474bc4690e29a8392af63c5b98e7449536d5c3a",
        "v4.3.1",
        "audience aws-access-key-id aws-region aws-secret-access-key aws-session-token disable-retry http-proxy"
        " inline-session-policy managed-session-policies mask-aws-account-id output-credentials"
        " output-env-credentials retry-max-attempts role-chaining role-duration-seconds role-external-id"
        " role-session-name role-skip-session-tagging role-to-assume special-characters-workaround"
        " unset-current-credentials use-existing-credentials web-identity-token-file",
    ),
    "pulumi/actions": (
        "8582a9e8cc630786854029b4e09281acd6794b58",
        "v6.6.1",
        "always-include-summary cloud-url color command comment-on-pr comment-on-pr-number comment-on-summary"
        " config-map continue-on-error debug diff edit-pr-comment exclude exclude-dependents exclude-protected"
        " expect-no-changes github-token log-flow log-verbosity message parallel plan policyPackConfigs"
        " policyPacks pulumi-version pulumi-version-file refresh remove replace secrets-provider stack-name"
        " suppress-outputs suppress-progress target target-dependents upsert work-dir",
    ),
    "marocchino/sticky-pull-request-comment": (
        "773744901bac0e8cbb5a0dc842800d45e9b2b405",
        "v2.9.4",
        "GITHUB_TOKEN append delete follow_symbolic_links header hide hide_and_recreate hide_classify hide_details"
        " ignore_empty message number only_create only_update owner path recreate repo skip_unchanged",
    ),
    # Code scanning's SARIF upload, an action in a subdirectory of github/codeql-action (v4.36.2 =
    # 8aad20d1..., `git rev-list -n1 v4.36.2`; inputs from `git show v4.36.2:upload-sarif/action.yml`).
    "github/codeql-action/upload-sarif": (
        "8aad20d150bbac5944a9f9d289da16a4b0d87c1e",
        "v4.36.2",
        "category checkout_path matrix ref sarif_file sha token wait-for-processing",
    ),
    "astral-sh/setup-uv": (
        "20cfd1bf945f4377ade1205e4dbc17946fc9a30d",
        "v10.0.1",
        "activate-environment add-problem-matchers cache-dependency-glob cache-local-path cache-python cache-suffix"
        " checksum download-from-astral-mirror enable-cache github-token ignore-empty-workdir"
        " ignore-nothing-to-cache manifest-file no-project prune-cache python-version quiet resolution-strategy"
        " restore-cache save-cache tool-bin-dir tool-dir venv-path version version-file working-directory",
    ),
}
USES_LINE = re.compile(r"^\s*(?:-\s+)?uses:\s*(\S+)(.*)$")
PINNED = re.compile(r"([\w.-]+/[\w.-]+(?:/[\w.-]+)?)@([0-9a-f]{40}) # (v\d+\.\d+\.\d+)")
RUNNER = "codebuild-mlplatform-{stack}-ci-runner-${{{{ github.run_id }}}}-${{{{ github.run_attempt }}}}"


def _load(path: Path) -> dict:
    return yaml.safe_load(path.read_text())


def _triggers(workflow: dict) -> dict:
    on = workflow.get(True, workflow.get("on"))  # YAML reads the key `on` as True
    return {on: None} if isinstance(on, str) else on


def _steps(workflow: dict):
    for job in workflow["jobs"].values():
        yield from job.get("steps", [])  # a job that calls a reusable workflow has none


def _reusable(job: dict) -> Path | None:
    """The local reusable workflow a job calls (``uses: ./.github/workflows/x.yml``), if any."""
    uses = job.get("uses", "")
    return REPO_ROOT / uses.removeprefix("./") if uses.startswith("./.github/workflows/") else None


def _make_targets() -> set[str]:
    text = (REPO_ROOT / "Makefile").read_text()
    return set(re.findall(r"^([A-Za-z0-9_./-]+):", text, re.MULTILINE))


def _runs_engine(step: dict) -> bool:
    """pulumi/actions with a command, or `mlplatform drift` (a refresh preview through the CLI)."""
    uses = step.get("uses", "")
    if uses.startswith("pulumi/actions@"):
        return "command" in step.get("with", {})
    return ".venv/bin/mlplatform drift" in step.get("run", "")


def _engine_stacks(job: dict) -> list[str]:
    """The stacks a job runs the engine for: its matrix's stacks, or the stack-name it passes."""
    include = job.get("strategy", {}).get("matrix", {}).get("include")
    if include:
        return [entry["stack"] for entry in include]
    return list(
        dict.fromkeys(s["with"]["stack-name"] for s in job.get("steps", []) if "stack-name" in s.get("with", {}))
    )


def test_there_are_the_five_workflows():
    assert {w.stem for w in WORKFLOWS} == {"pull-request", "deploy", "deploy-stack", "promote", "drift"}
    # The CI roles trust these files by name (components/identity.CI_WORKFLOWS).
    from foundation.iam.github import CI_WORKFLOWS

    assert set(CI_WORKFLOWS.values()) <= {w.name for w in WORKFLOWS}


def test_the_pulumi_cli_version_file_matches_the_sdk_pin():
    pyproject = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())
    (pin,) = [d.split("==")[1] for d in pyproject["project"]["dependencies"] if d.startswith("pulumi==")]
    assert (REPO_ROOT / ".pulumi-version").read_text().strip() == pin


def test_the_workflows_name_the_versions_the_makefile_and_repository_pin():
    uv_version = re.search(r"^UV_VERSION := (\S+)$", (REPO_ROOT / "Makefile").read_text(), re.MULTILINE)[1]
    for path in WORKFLOWS:
        for step in _steps(_load(path)):
            uses = step.get("uses", "")
            if uses.startswith("astral-sh/setup-uv@"):
                assert str(step["with"]["version"]) == uv_version, path.name
            if uses.startswith("pulumi/actions@"):
                assert step["with"]["pulumi-version-file"] == ".pulumi-version", path.name


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.stem)
def test_every_action_is_pinned_to_a_verified_commit(path):
    lines = [m for m in map(USES_LINE.match, path.read_text().splitlines()) if m]
    assert lines, f"{path.name} uses no action"
    for m in lines:
        if m[1].startswith("./.github/workflows/"):  # a reusable workflow of this repository, this commit
            called = REPO_ROOT / m[1].removeprefix("./")
            assert "workflow_call" in _triggers(_load(called)), f"{path.name}: {m[1]} is not a reusable workflow"
            continue
        text = f"{m[1]}{m[2]}".strip()
        pinned = PINNED.fullmatch(text)
        assert pinned, f"{path.name}: `{text}` is not owner/repo@<40 hex> # vX.Y.Z"
        action, sha, tag = pinned.groups()
        assert VERIFIED_PINS.get(action, ())[:2] == (sha, tag), f"{path.name}: {action}@{sha} # {tag} is not verified"


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.stem)
def test_every_action_input_exists_in_the_pinned_version(path):
    for step in _steps(_load(path)):
        if "uses" in step and not step["uses"].startswith("./"):
            action = step["uses"].split("@")[0]
            unknown = set(step.get("with", {})) - set(VERIFIED_PINS[action][2].split())
            assert not unknown, f"{path.name}: {action} has no input {sorted(unknown)}"


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.stem)
def test_workflow_is_valid_and_least_privileged(path):
    wf = _load(path)
    assert _triggers(wf)
    assert wf["permissions"] == {"contents": "read"}  # the default for every job
    for name, job in wf["jobs"].items():
        assert "permissions" in job, f"{name} must state its permissions"
        assert "write-all" not in str(job["permissions"])
        for step in job.get("steps", []):
            assert ("uses" in step) != ("run" in step)
        called = _reusable(job)
        steps = job.get("steps", []) if called is None else _steps(_load(called))
        assumes_role = any("configure-aws-credentials" in s.get("uses", "") for s in steps)
        granted = job["permissions"].get("id-token") == "write"
        assert assumes_role == granted, f"{path.name}/{name}: id-token: write exactly where AWS roles are assumed"


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.stem)
def test_no_expression_is_interpolated_into_a_script(path):
    for step in _steps(_load(path)):
        assert "${{" not in step.get("run", ""), f"{path.name}: pass `{step.get('name')}` values through env:"


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.stem)
def test_checkouts_do_not_persist_credentials_except_to_push(path):
    for name, job in _load(path)["jobs"].items():
        pushes = any("git push" in s.get("run", "") for s in job.get("steps", []))
        for step in job.get("steps", []):
            if step.get("uses", "").startswith("actions/checkout@"):
                assert step["with"]["persist-credentials"] is pushes, f"{path.name}/{name}"


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.stem)
def test_the_engine_runs_only_on_the_stacks_own_runner(path):
    """Every job that runs the engine on a stack's projects (the in-cluster one needs the private API)
    runs on that stack's runner; the others on GitHub's. (`mlplatform promote` previews only the
    platform project, which calls AWS APIs only, so it may run on GitHub's runner.)"""
    wf = _load(path)
    for name, job in wf["jobs"].items():
        if "uses" in job:  # a call of a reusable workflow: checked in that file, with its inputs below
            continue
        if not any(_runs_engine(s) for s in job["steps"]):
            assert job["runs-on"] == "ubuntu-24.04", f"{path.name}/{name}: offline jobs run on GitHub's runner"
            continue
        if "workflow_call" in _triggers(wf):
            assert job["runs-on"] == RUNNER.format(stack="${{ inputs.stack }}"), f"{path.name}/{name}"
            assert job["env"]["PULUMI_BACKEND_URL"] == "${{ inputs.backend }}", f"{path.name}/{name}"
            for caller in WORKFLOWS:
                for job_name, call in _load(caller)["jobs"].items():
                    if _reusable(call) == path:
                        stack = call["with"]["stack"]
                        assert call["with"]["backend"] == f"${{{{ vars.PULUMI_BACKEND_URL_{stack.upper()} }}}}", (
                            job_name
                        )
            continue
        stacks = _engine_stacks(job)
        assert stacks, f"{path.name}/{name}: cannot tell which stack the engine runs for"
        if len(stacks) > 1:  # a matrix: the label is built from matrix.stack
            assert job["runs-on"] == RUNNER.format(stack="${{ matrix.stack }}"), f"{path.name}/{name}"
        else:
            assert job["runs-on"] == RUNNER.format(stack=stacks[0]), f"{path.name}/{name}"
        # each account has its own state bucket (the bootstrap's): PULUMI_BACKEND_URL_<STACK>
        expected = (
            "${{ vars[matrix.backend] }}"
            if len(stacks) > 1
            else f"${{{{ vars.PULUMI_BACKEND_URL_{stacks[0].upper()} }}}}"
        )
        assert job["env"]["PULUMI_BACKEND_URL"] == expected, f"{path.name}/{name}"
        if len(stacks) > 1:
            for row in job["strategy"]["matrix"]["include"]:
                assert row["backend"] == f"PULUMI_BACKEND_URL_{row['stack'].upper()}", f"{path.name}/{name}"
        assert "PULUMI_ACCESS_TOKEN" not in str(job), f"{path.name}/{name}: the state is in the S3 backend"
        steps = [s.get("uses", "") for s in job["steps"]]
        assert any(u.startswith("pulumi/actions@") for u in steps), f"{path.name}/{name}: install the CLI"
        assert any(u.startswith("astral-sh/setup-uv@") for u in steps), f"{path.name}/{name}: uv on PATH"


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.stem)
def test_every_job_that_runs_make_puts_uv_on_path_first(path):
    for name, job in _load(path)["jobs"].items():
        uses = [s.get("uses", "") for s in job.get("steps", [])]
        makes = [i for i, s in enumerate(job.get("steps", [])) if s.get("run", "").startswith("make ")]
        if makes:
            setup = [i for i, u in enumerate(uses) if u.startswith("astral-sh/setup-uv@")]
            assert setup and setup[0] < makes[0], f"{path.name}/{name}"


def test_the_preview_comments_on_the_pull_request_for_every_stack_in_its_preview_environment():
    job = _load(REPO_ROOT / ".github" / "workflows" / "pull-request.yml")["jobs"]["preview"]
    assert _engine_stacks(job) == list(STACKS)
    assert "github.event.pull_request.head.repo.full_name == github.repository" in job["if"]
    # ci-preview trusts this file's jobs only in the stack's preview environment (components/identity.py)
    assert job["environment"] == "preview-${{ matrix.stack }}"
    assert job["permissions"]["pull-requests"] == "write"
    platform, in_cluster = [s for s in job["steps"] if s.get("uses", "").startswith("pulumi/actions@")]
    for step in (platform, in_cluster):
        assert step["with"]["command"] == "preview"
        assert step["with"]["refresh"] is True
        assert step["with"]["comment-on-pr"] is True
        assert step["with"]["comment-on-summary"] is True
    assert platform["with"]["policyPacks"] == "infra/policies"
    assert (in_cluster["with"]["work-dir"], in_cluster["with"]["policyPacks"]) == ("cluster", "../infra/policies")


def test_deploys_run_only_from_main_behind_their_environment_with_the_code_the_stack_pins():
    wf = _load(REPO_ROOT / ".github" / "workflows" / "deploy.yml")
    triggers = _triggers(wf)
    assert set(triggers) == {"push", "workflow_dispatch"}
    assert triggers["push"] == {"branches": ["main"]}
    environments = {"dev": "dev", "staging": "staging", "prod": "production"}
    deployed = set()
    for name, job in wf["jobs"].items():
        if _reusable(job) is None:
            continue
        assert _reusable(job).name == "deploy-stack.yml"
        stack = job["with"]["stack"]
        deployed.add(stack)
        assert "github.ref == 'refs/heads/main'" in job["if"], f"{name}: a dispatch from another branch must not deploy"
        assert job["with"]["environment"] == environments[stack]
        assert job["with"]["role"] == f"${{{{ vars.AWS_DEPLOY_ROLE_{stack.upper()} }}}}"
    assert deployed == set(STACKS)
    (job,) = _load(REPO_ROOT / ".github" / "workflows" / "deploy-stack.yml")["jobs"].values()
    assert job["environment"] == "${{ inputs.environment }}"
    assert job["concurrency"] == {"group": "deploy-${{ inputs.stack }}", "cancel-in-progress": False}
    steps = job["steps"]
    runs = [s.get("run", "") for s in steps]
    release = next(i for i, r in enumerate(runs) if '.venv/bin/mlplatform release "$STACK"' in r)
    checkout = next(i for i, r in enumerate(runs) if 'git checkout --detach "$CODE"' in r)
    assert runs.index("make install") < release < checkout < runs.index('.venv/bin/mlplatform check "$STACK"')
    assert runs[checkout + 1] == "make install", "the code's own locked packages"
    platform, in_cluster = [s for s in steps if s.get("uses", "").startswith("pulumi/actions@")]
    for up in (platform, in_cluster):
        assert up["with"]["command"] == "up"
        assert up["env"]["MLPLATFORM_COMMIT"] == "${{ steps.release.outputs.commit }}"
    assert platform["with"]["policyPacks"] == "infra/policies"
    assert (in_cluster["with"]["work-dir"], in_cluster["with"]["policyPacks"]) == ("cluster", "../infra/policies")
    assert not any(s.get("uses", "").startswith("actions/cache@") for s in steps)
    (uv,) = [s for s in steps if s.get("uses", "").startswith("astral-sh/setup-uv@")]
    assert uv["with"]["enable-cache"] is False, "no cache in a deploy (cache poisoning)"


def test_role_sessions_last_as_long_as_the_roles_allow():
    """configure-aws-credentials asks for 3600 s unless told (v4.3.1 DEFAULT_ROLE_DURATION); a deploy
    asks for the ci-deploy role's maximum, and never more (the request would fail)."""
    from foundation.iam.github import DEPLOY_SESSION_SECONDS
    from tests.plans import stack_plan

    (job,) = _load(REPO_ROOT / ".github" / "workflows" / "deploy-stack.yml")["jobs"].values()
    (creds,) = [s for s in job["steps"] if s.get("uses", "").startswith("aws-actions/configure-aws-credentials@")]
    asked = int(creds["with"]["role-duration-seconds"])
    assert asked == DEPLOY_SESSION_SECONDS >= 3 * 3600
    for stack in STACKS:
        (role,) = [r for r in stack_plan(stack).of_type("aws:iam/role:Role") if r.inputs["name"].endswith("-ci-deploy")]
        assert int(role.inputs["maxSessionDuration"]) >= asked, stack


def test_promotion_runs_from_main_with_every_guard_and_opens_a_pull_request():
    wf = _load(REPO_ROOT / ".github" / "workflows" / "promote.yml")
    (job,) = wf["jobs"].values()
    assert job["if"].startswith("github.ref == 'refs/heads/main'")
    assert job["runs-on"] == "ubuntu-24.04"
    assert job["permissions"] == {"contents": "write", "pull-requests": "write", "id-token": "write"}
    assert not any(
        s.get("uses", "").startswith("pulumi/actions@") and "command" in s.get("with", {}) for s in job["steps"]
    )
    script = "\n".join(s.get("run", "") for s in job["steps"])
    assert '.venv/bin/mlplatform release "$FROM" --deployed' in script
    assert (
        '.venv/bin/mlplatform promote "$FROM" "$TO" --release "$RELEASE" --require-checks --report checks.md' in script
    )
    assert "--skip-preview" not in script
    assert "gh pr create" in script and "--body-file promote.md" in script
    guarded = [s for s in job["steps"] if "gh pr create" in s.get("run", "")]
    assert guarded[0]["if"] == "steps.changes.outputs.changed == 'true'", "nothing to promote ends cleanly"


def test_the_drift_check_creates_its_label_and_compares_with_what_was_deployed():
    (job,) = _load(REPO_ROOT / ".github" / "workflows" / "drift.yml")["jobs"].values()
    script = "\n".join(s.get("run", "") for s in job["steps"])
    assert "gh label create drift --force" in script
    assert script.index("gh label create drift") < script.index("gh issue create")
    assert '.venv/bin/mlplatform release "$STACK" --deployed' in script
    assert script.index('git checkout --detach "$CODE"') < script.index(".venv/bin/mlplatform drift")


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.stem)
def test_every_run_step_calls_a_command_of_this_repository(path):
    commands = set(re.findall(r'sub\.add_parser\(\s*"([a-z-]+)"', (REPO_ROOT / "pipelines" / "cli.py").read_text()))
    targets = _make_targets()
    for step in _steps(_load(path)):
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
