"""`mlplatform diff`: what a change adds, removes and changes, as text and as a PR comment."""

from __future__ import annotations

import json

import pytest

from infra.policies.rules import RULES
from pipelines.cli import main
from pipelines.diff import COMMENT_LIMIT, MARKER, compare, render_markdown, render_text, to_json
from pipelines.plan import Plan
from tests.plans import STACKS, stack_plan


def _edited(plan: Plan, edit) -> Plan:
    data = json.loads(plan.to_json())
    edit(data["resources"])
    return Plan.from_dict(data)


def test_compare_finds_added_removed_and_changed_inputs():
    base = stack_plan("staging")

    def edit(resources):
        bucket = next(r for r in resources if r["type"] == "aws:s3/bucket:Bucket" and r["name"] == "lake-raw")
        resources.remove(bucket)  # the head no longer has the raw bucket: a protected removal
        key = next(r for r in resources if r["type"] == "aws:kms/key:Key" and r["name"] == "keys-data")
        key["inputs"]["deletionWindowInDays"] = 7
        boundary = next(r for r in resources if r["name"] == "boundaries-workload")
        doc = json.loads(boundary["inputs"]["policy"])
        doc["Statement"].append({"Sid": "Extra", "Effect": "Allow", "Action": "s3:ListAllMyBuckets", "Resource": "*"})
        boundary["inputs"]["policy"] = json.dumps(doc)
        resources.append({**key, "urn": key["urn"].replace("keys-data", "keys-extra"), "name": "keys-extra"})

    diff = compare(base, _edited(base, edit))
    assert diff.added == [("aws:kms/key:Key", "keys-extra")]
    assert diff.removed == [("aws:s3/bucket:Bucket", "lake-raw", True)]
    changed = {c.name: c for c in diff.changed}
    assert changed["keys-data"].fields == {"deletionWindowInDays": (30, 7)}
    text = render_text(diff)
    assert "- aws:s3/bucket:Bucket  lake-raw  [PROTECTED]" in text
    assert "deletionWindowInDays: 30 -> 7" in text
    assert "policy: statements +Extra" in text  # policy documents are compared by statement
    assert "!     policy: statements +Extra" in render_markdown([diff], {})


def test_identical_plans_have_an_empty_diff():
    plan = stack_plan("dev")
    assert compare(plan, plan).empty


def test_markdown_is_a_compact_comment_and_stays_under_githubs_limit():
    base = stack_plan("dev")
    empty = Plan(project=base.project, stack="dev", resources=[], outputs={})
    diff = compare(empty, base)  # everything is new: a very large diff
    md = render_markdown([diff], {"dev": "Policies: 42 rules, 0 mandatory and 0 advisory violations"}, limit=4000)
    assert md.startswith(MARKER)
    added = sum(1 for r in base if r.custom)  # every custom resource of the plan is new here
    assert f"| dev | {added} | 0 | 0 | 42 rules, 0 mandatory and 0 advisory violations |" in md
    assert len(md) <= 4000
    assert "The diff was cut to fit a GitHub comment" in md
    full = render_markdown([diff], {})
    assert len(full) <= COMMENT_LIMIT and "cut" not in full


POOL, QUOTA = "kubernetes:karpenter.sh/v1:NodePool", "kubernetes:core/v1:ResourceQuota"
ENDPOINT_CONFIG = "aws:sagemaker/endpointConfiguration:EndpointConfiguration"


def _decided(resource) -> dict:
    """The decided inputs an added node pool, quota or endpoint configuration must show, read from
    the resource's own inputs: {summary field: value}."""
    inputs = resource.inputs
    if resource.type == POOL:
        spec = inputs["spec"]
        requirements = {r["key"]: r["values"] for r in spec["template"]["spec"]["requirements"]}
        fields = {"limits": spec["limits"]}
        for key, field in (
            ("karpenter.sh/capacity-type", "capacityTypes"),
            ("karpenter.k8s.aws/instance-family", "instanceFamilies"),
            ("node.kubernetes.io/instance-type", "instanceTypes"),
        ):
            if key in requirements:
                fields[field] = requirements[key]
        return fields
    if resource.type == QUOTA:
        return {"hard": inputs["spec"]["hard"]}
    variants = inputs["productionVariants"]
    return {
        "instanceType": {v["variantName"]: v["instanceType"] for v in variants},
        "initialInstanceCount": {v["variantName"]: v["initialInstanceCount"] for v in variants},
    }


def _shown(value) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{k}={value[k]}" for k in sorted(value))
    return ", ".join(value) if isinstance(value, list) else str(value)


@pytest.mark.parametrize("stack", STACKS)
def test_every_added_pool_quota_and_endpoint_shows_the_figures_of_its_plan(stack):
    """A stack created from nothing: under each node pool, quota and endpoint configuration, one line
    of its limits, capacity and instances, with the values its plan gives it, in every form."""
    plan = stack_plan(stack)
    diff = compare(Plan(project=plan.project, stack=stack, resources=[], outputs={}), plan)
    text = render_text(diff).splitlines()
    markdown = render_markdown([diff], {}, limit=10**9).splitlines()
    summaries = {(a["type"], a["name"]): a["summary"] for a in to_json(diff)["added"]}
    decided = [r for r in plan if r.custom and r.type in (POOL, QUOTA, ENDPOINT_CONFIG)]
    assert any(r.type == POOL for r in decided)
    for r in decided:
        line = text[text.index(f"  + {r.type}  {r.name}") + 1]
        assert line.startswith("      » ")
        assert markdown[markdown.index(f"+ {r.type} {r.name}") + 1] == "+     " + line.strip()
        for field, value in _decided(r).items():
            assert f"{field}: {_shown(value)}" in line, (r.name, field, line)
            assert summaries[(r.type, r.name)][field] == value, (r.name, field)


def test_diff_against_head_plans_the_base_in_a_worktree_once_per_tree(capsys, monkeypatch, tmp_path):
    import subprocess

    from pipelines import diff
    from pipelines.cli import main

    monkeypatch.setenv(diff.CACHE_DIR_ENV, str(tmp_path))
    assert main(["diff", "dev", "--base", "HEAD"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Stack dev: +")
    assert f"Policies: {len(RULES)} rules" in out
    (kept,) = (tmp_path / "plans").glob("dev-*.json")
    real = subprocess.run

    def no_worktree(cmd, *a, **kw):
        assert "worktree" not in cmd, "the base was planned again"
        return real(cmd, *a, **kw)

    monkeypatch.setattr(diff.subprocess, "run", no_worktree)
    assert diff.plan_at_ref("dev", "HEAD").to_json() == kept.read_text()  # the same tree: the kept plan
    kept.write_text("{not json")  # a damaged entry is dropped and planned again, never trusted
    with pytest.raises(AssertionError, match="the base was planned again"):
        diff.plan_at_ref("dev", "HEAD")
    assert not kept.exists()


def test_unknown_base_ref_is_a_user_error(capsys):
    from pipelines.cli import main

    assert main(["diff", "dev", "--base", "no-such-ref"]) == 2
    assert "cannot check out 'no-such-ref'" in capsys.readouterr().err


@pytest.mark.parametrize(("changed", "code"), [(False, 0), (True, 1)])
def test_exit_code_says_whether_anything_changes(monkeypatch, capsys, changed, code):
    from pipelines import diff, offline
    from tests.policies.test_rules import plan_of, res

    base = plan_of(res("aws:sns/topic:Topic", {"name": "t"}, name="alerts"))
    head = plan_of(res("aws:sns/topic:Topic", {"name": "t2" if changed else "t"}, name="alerts"))
    monkeypatch.setattr(diff, "plan_at_ref", lambda stack, ref, repo: base)
    monkeypatch.setattr(offline, "plan_stack", lambda stack, **kw: head)
    assert main(["diff", "dev", "--base", "HEAD", "--exit-code"]) == code
    assert main(["diff", "dev", "--base", "HEAD"]) == 0  # without the flag a diff is not a failure
    assert ("~1 changed" in capsys.readouterr().out) is changed


def test_diff_as_json_for_machines(monkeypatch, capsys):
    from pipelines import diff, offline
    from tests.policies.test_rules import plan_of, res

    base = plan_of(res("aws:sns/topic:Topic", {"name": "t"}, name="alerts"), res("aws:sqs/queue:Queue", {}, name="q"))
    head = plan_of(res("aws:sns/topic:Topic", {"name": "t2"}, name="alerts"), res("aws:kms/key:Key", {}, name="k"))
    monkeypatch.setattr(diff, "plan_at_ref", lambda stack, ref, repo: base)
    monkeypatch.setattr(offline, "plan_stack", lambda stack, **kw: head)
    assert main(["diff", "dev", "--base", "HEAD", "--format", "json"]) == 0
    out = capsys.readouterr().out
    (d,) = json.loads(out)  # only JSON on stdout
    assert d["stack"] == "dev"
    assert d["added"] == [{"type": "aws:kms/key:Key", "name": "k", "summary": {}}]  # keys decide nothing summed
    assert d["removed"] == [{"type": "aws:sqs/queue:Queue", "name": "q", "protected": False}]
    (changed,) = d["changed"]
    assert (changed["name"], changed["inputs"]) == ("alerts", {"name": {"before": "t", "after": "t2"}})
    assert changed["summary"] == {}
    assert d["policy"].startswith("Policies: ")
    assert "cost" not in d  # these plans have no region with prices: not estimated, and said on stderr


def test_diff_writes_any_format_to_a_file(monkeypatch, capsys, tmp_path):
    from pipelines import diff, offline
    from tests.policies.test_rules import plan_of, res

    base = plan_of(res("aws:sns/topic:Topic", {"name": "t"}, name="alerts"))
    head = plan_of(res("aws:sns/topic:Topic", {"name": "t2"}, name="alerts"))
    monkeypatch.setattr(diff, "plan_at_ref", lambda stack, ref, repo: base)
    monkeypatch.setattr(offline, "plan_stack", lambda stack, **kw: head)
    for fmt, expected in (("markdown", "### Offline plan of this pull request"), ("text", "Stack dev: +0 added")):
        out = tmp_path / f"diff.{fmt}"
        assert main(["diff", "dev", "--base", "HEAD", "--format", fmt, "-o", str(out)]) == 0
        assert expected in out.read_text()
        assert capsys.readouterr().out == ""  # the report went to the file
    missing = tmp_path / "no" / "diff.md"
    assert main(["diff", "dev", "--base", "HEAD", "-o", str(missing)]) == 2
    assert "does not exist" in capsys.readouterr().err and not missing.parent.exists()


def test_the_base_plan_is_kept_per_tree_stack_and_packages(tmp_path, monkeypatch):
    """The cache key of the base plan: the ref's tree (not its commit), the stack, the Plan schema and
    the installed Pulumi packages; no key for a ref git cannot name."""
    import subprocess
    from importlib import metadata

    from pipelines.diff import CACHE_DIR_ENV, _cached_plan_path

    monkeypatch.delenv(CACHE_DIR_ENV, raising=False)
    git = ["git", "-C", str(tmp_path), "-c", "user.name=t", "-c", "user.email=t@t", "-c", "commit.gpgsign=false"]
    subprocess.run([*git, "init", "-q"], check=True)
    (tmp_path / "f").write_text("one")
    subprocess.run([*git, "add", "f"], check=True)
    subprocess.run([*git, "commit", "-qm", "one"], check=True)
    first = _cached_plan_path("dev", "HEAD", tmp_path)
    assert first is not None and first.parent == tmp_path / ".mlplatform-cache" / "plans"
    assert first.name.startswith("dev-") and len(first.stem) == len("dev-") + 24
    subprocess.run([*git, "commit", "-q", "--allow-empty", "-m", "same tree"], check=True)
    assert _cached_plan_path("dev", "HEAD", tmp_path) == first  # another commit, the same tree
    assert _cached_plan_path("prod", "HEAD", tmp_path).name.startswith("prod-")
    assert _cached_plan_path("prod", "HEAD", tmp_path).stem[-24:] != first.stem[-24:]
    (tmp_path / "f").write_text("two")
    subprocess.run([*git, "commit", "-qam", "two"], check=True)
    second = _cached_plan_path("dev", "HEAD", tmp_path)
    assert second != first and _cached_plan_path("dev", "HEAD~1", tmp_path) == first
    assert _cached_plan_path("dev", "no-such-ref", tmp_path) is None
    monkeypatch.setattr(metadata, "version", lambda package: "0.0.1" if package == "pulumi-aws" else "1")
    other_packages = _cached_plan_path("dev", "HEAD", tmp_path)
    assert other_packages != second

    def missing(package):
        raise metadata.PackageNotFoundError(package)

    monkeypatch.setattr(metadata, "version", missing)
    assert _cached_plan_path("dev", "HEAD", tmp_path) not in (None, second, other_packages)
    monkeypatch.setenv(CACHE_DIR_ENV, str(tmp_path / "elsewhere"))
    assert _cached_plan_path("dev", "HEAD", tmp_path).parent == tmp_path / "elsewhere" / "plans"


def test_an_added_unpriced_resource_is_listed_and_an_already_unpriced_one_is_not():
    """On a real plan: everything the stack has without a price, added to an empty base, is listed;
    against itself, nothing."""
    from infra.cost import from_plan
    from pipelines.diff import priced_change
    from pipelines.plan import Plan
    from tests.plans import stack_plan

    head = stack_plan("dev")
    empty = Plan.from_dict({**head.to_dict(), "resources": []})
    _, added = priced_change(empty, head)
    unpriced = from_plan(head).unpriced
    assert unpriced and added == [f"{u.resource}: {u.why}" for u in unpriced]
    assert priced_change(head, head)[1] == []
