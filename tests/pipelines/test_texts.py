"""What the guard, the drift check and the diff print, exactly, on small fixtures this file owns: these
texts are what a reviewer reads on a pull request or in an incident, so every word is pinned."""

from __future__ import annotations

import json

from pipelines.diff import MARKER, Change, PlanDiff, render_markdown, render_text
from pipelines.guard import Refusal, drift_report, stateful_losses

BUCKET = "aws:s3/bucket:Bucket"


def step(op: str, urn_type: str, name: str, **extra) -> dict:
    return {"op": op, "urn": f"urn:pulumi:prod::mlplatform::mlplatform:x:X${urn_type}::{name}", **extra}


def test_the_type_comes_from_the_new_state_then_the_old_then_the_urn():
    steps = [
        step("delete", "aws:s3/bucket:Bucket", "from-urn"),  # no state at all
        step("delete", "x:y:Z", "from-old", oldState={"type": BUCKET}, newState=None),
        step("replace", "x:y:Z", "from-new", oldState={"type": "x:y:Old"}, newState={"type": BUCKET}),
        step("replace", BUCKET, "typeless-states", oldState={}, newState={"type": ""}),
    ]
    losses = stateful_losses({"steps": steps})
    assert [(r.name, r.type) for r in losses] == [(s["urn"].rsplit("::", 1)[1], BUCKET) for s in steps]
    assert stateful_losses({}) == []  # a preview without steps changes nothing


def test_a_refusal_names_the_operation_the_resource_and_why():
    reasons = step("replace", BUCKET, "raw", replaceReasons=["bucket", "objectLockEnabled"], diffReasons=["tags"])
    only_diff = step("delete", BUCKET, "curated", diffReasons=["tags"])
    found = [str(r) for r in stateful_losses({"steps": [reasons, only_diff, step("delete", BUCKET, "logs")]})]
    assert found == [
        "replace of aws:s3/bucket:Bucket raw (changed: bucket, objectLockEnabled): it holds data, keys, identity or "
        "evidence",
        "delete of aws:s3/bucket:Bucket curated (changed: tags): it holds data, keys, identity or evidence",
        "delete of aws:s3/bucket:Bucket logs: it holds data, keys, identity or evidence",
    ]
    assert Refusal("delete", BUCKET, "b", ()).reasons == ()


def test_the_drift_report_lists_every_change_but_no_ops_and_the_stack():
    preview = {
        "steps": [
            step("same", BUCKET, "untouched"),
            step("refresh", BUCKET, "refreshed"),
            step("update", "pulumi:pulumi:Stack", "mlplatform-prod"),
            step("update", BUCKET, "raw", diffReasons=["tags", "versioning"]),
            step("delete", "aws:iam/role:Role", "gone"),
        ]
    }
    report = drift_report("prod", preview)
    assert not report.clean
    assert report.drifted == [
        ("update", BUCKET, "raw", ("tags", "versioning")),
        ("delete", "aws:iam/role:Role", "gone", ()),
    ]
    assert report.markdown() == "\n".join(
        [
            "Stack `prod` has drifted: 2 resource(s) differ from the program.",
            "",
            "| change | type | resource | properties |",
            "|---|---|---|---|",
            "| update | `aws:s3/bucket:Bucket` | raw | tags, versioning |",
            "| delete | `aws:iam/role:Role` | gone | - |",
            "",
            "Someone changed these outside Pulumi, or the program changed without a deploy. See docs/ci.md",
            "(When drift is reported) before running `pulumi up`.",
        ]
    )
    clean = drift_report("dev", {"steps": [step("same", BUCKET, "raw")]})
    assert clean.clean and clean.markdown() == "Stack `dev` matches its program: no drift."
    assert drift_report("dev", {}).clean


def _policy(*sids: str, changed: str = "") -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Sid": s, "Action": "x:" + (changed if s == "B" else s)} for s in sids],
        }
    )


DIFF = PlanDiff(
    "prod",
    added=[("aws:sns/topic:Topic", "alerts")],
    removed=[(BUCKET, "raw", True), ("aws:iam/role:Role", "old", False)],
    changed=[
        Change(
            "urn:x",
            "aws:iam/rolePolicy:RolePolicy",
            "grants",
            fields={"policy": (_policy("A", "B", "C"), _policy("B", "C", "D", changed="Put"))},
            options={"protect": (False, True)},
        ),
        Change(
            "urn:y",
            "aws:kms/key:Key",
            "data",
            fields={"deletionWindowInDays": (30, 7), "description": ("x" * 130, "y")},
        ),
    ],
)


def test_the_text_diff():
    assert render_text(DIFF, "Policies: 0 violations") == "\n".join(
        [
            "Stack prod: +1 added, -2 removed, ~2 changed",
            "  + aws:sns/topic:Topic  alerts",
            "  - aws:s3/bucket:Bucket  raw  [PROTECTED]",
            "  - aws:iam/role:Role  old",
            "  ~ aws:iam/rolePolicy:RolePolicy  grants",
            "      policy: statements -A, ~B, +D",
            "      protect: false -> true",
            "  ~ aws:kms/key:Key  data",
            "      deletionWindowInDays: 30 -> 7",
            "      description: " + "x" * 119 + "… -> y",
            "",
            "Policies: 0 violations",
        ]
    )
    assert render_text(PlanDiff("dev", [], [], [])) == "Stack dev: +0 added, -0 removed, ~0 changed"


def test_the_pull_request_comment():
    empty = PlanDiff("dev", [], [], [])
    text = render_markdown([DIFF, empty], {"prod": "Policies: 0 violations\n42 rules"})
    assert text == "\n".join(
        [
            MARKER,
            "### Offline plan of this pull request",
            "",
            "| stack | added | removed | changed | policy |",
            "|---|---|---|---|---|",
            "| prod | 1 | 2 ⚠ protected | 2 | 0 violations |",
            "| dev | 0 | 0 | 0 |  |",
            "",
            "<details><summary><b>prod</b></summary>",
            "",
            "```diff",
            "+ aws:sns/topic:Topic alerts",
            "- aws:s3/bucket:Bucket raw (protected)",
            "- aws:iam/role:Role old",
            "! aws:iam/rolePolicy:RolePolicy grants",
            "!     policy: statements -A, ~B, +D",
            "!     protect: false -> true",
            "! aws:kms/key:Key data",
            "!     deletionWindowInDays: 30 -> 7",
            "!     description: " + "x" * 79 + "… -> y",
            "```",
            "",
            "```",
            "Policies: 0 violations\n42 rules",
            "```",
            "</details>",
            "",
            "<details><summary><b>dev</b></summary>",
            "",
            "```diff",
            "  no changes",
            "```",
            "</details>",
            "",
            "",
        ]
    )


def test_a_long_comment_is_cut_on_whole_lines_with_a_note():
    big = PlanDiff("prod", added=[("aws:sns/topic:Topic", f"topic-{i:03}") for i in range(200)], removed=[], changed=[])
    full = render_markdown([big], {})
    limit = len(full) // 2
    cut = render_markdown([big], {}, limit=limit)
    assert len(cut) <= limit
    assert cut.startswith(MARKER) and cut.endswith(
        "> ✂ The diff was cut to fit a GitHub comment; run `mlplatform diff <stack> --base <ref>` for all of it.\n"
    )
    kept = [line for line in cut.splitlines() if line.startswith("+ ")]
    assert 0 < len(kept) < 200 and all(line in full.splitlines() for line in kept)  # whole lines only
    assert "```\n</details>" in cut  # the open block is closed
    assert render_markdown([big], {}, limit=len(full)) == full


def test_the_type_of_a_nested_resource_is_the_last_of_its_urn_type_chain():
    urn = "urn:pulumi:prod::mlplatform::mlplatform:a:Lake$mlplatform:b:Zone$aws:s3/bucket:Bucket::raw"
    (loss,) = stateful_losses({"steps": [{"op": "delete", "urn": urn}]})
    assert (loss.type, loss.name) == (BUCKET, "raw")


def test_compare_reports_every_changed_input_and_option_with_its_resource():
    from pipelines.diff import compare
    from tests.policies.test_rules import plan_of, res

    def key(props: dict, **options):
        r = res("aws:kms/key:Key", props, name="data", stack="prod")
        return type(r)(**{**r.__dict__, "options": {"protect": True, **options}})

    base = plan_of(key({"description": "d", "deletionWindowInDays": 30}), stack="prod")
    head = plan_of(key({"deletionWindowInDays": 7, "policy": "{}"}, ignoreChanges=["tags"]), stack="prod")
    (change,) = compare(base, head).changed
    assert (change.urn, change.type, change.name) == (
        "urn:pulumi:prod::mlplatform::aws:kms/key:Key::data",
        "aws:kms/key:Key",
        "data",
    )
    # inputs only before, only after, and in both: each with its two values
    assert change.fields == {"deletionWindowInDays": (30, 7), "description": ("d", None), "policy": (None, "{}")}
    assert change.options == {"ignoreChanges": (None, ["tags"])}
    assert compare(base, base).empty


def test_describe_policies_by_statement_and_values_by_a_cut_at_the_limit():
    from pipelines.diff import _describe, _short

    unnamed = json.dumps({"Statement": [{"Action": "a"}, {"Action": "b"}]})
    renamed = json.dumps({"Statement": [{"Action": "a"}, {"Action": "c"}]})
    assert _describe(unnamed, renamed, 80) == "statements ~1"  # statements without Sid: by position
    single = json.dumps({"Statement": {"Sid": "Only", "Action": "a"}})
    assert _describe(single, json.dumps({"Statement": []}), 80) == "statements -Only"
    assert _describe("{not json", '{"Statement": []}', 80) == '{not json -> {"Statement": []}'
    assert _short("x" * 10, 10) == "x" * 10 and _short("x" * 11, 10) == "x" * 9 + "…"
    assert _short({"b": 1, "a": [2]}) == '{"a": [2], "b": 1}'
    assert _short("y" * 120) == "y" * 120 and _short("y" * 121) == "y" * 119 + "…"  # the default limit


def test_a_cut_comment_keeps_every_line_that_fits_and_not_one_more():
    first = PlanDiff("dev", added=[("aws:sns/topic:Topic", "kept-whole")], removed=[], changed=[])
    second = PlanDiff("prod", added=[("aws:sns/topic:Topic", f"t{i:02}") for i in range(30)], removed=[], changed=[])
    full = render_markdown([first, second], {})
    note = (
        "\n\n> ✂ The diff was cut to fit a GitHub comment; run `mlplatform diff <stack> --base <ref>` for all of it.\n"
    )
    closing = "\n```\n</details>" + note
    prod_starts = full.index("<details><summary><b>prod")
    for limit in range(prod_starts + len(closing) + 40, len(full)):
        cut = render_markdown([first, second], {}, limit=limit)
        assert len(cut) <= limit, limit
        assert "kept-whole" in cut  # the section that fits is whole
        assert cut.endswith(closing), limit
        prefix = cut[: -len(closing)]
        assert full.startswith(prefix) and full[len(prefix)] == "\n", limit  # whole lines of the full comment
        following = full[len(prefix) + 1 :].split("\n", 1)[0]
        assert len(prefix) + 1 + len(following) + len(closing) > limit, limit  # the next line would not fit


def test_an_option_changed_on_both_sides_and_a_long_new_value_in_the_comment():
    from pipelines.diff import compare
    from tests.policies.test_rules import plan_of, res

    def bucket(protect: bool, description: str):
        r = res("aws:s3/bucket:Bucket", {"description": description}, name="raw", stack="dev")
        return type(r)(**{**r.__dict__, "options": {"protect": protect, "retainOnDelete": True}})

    diff = compare(plan_of(bucket(True, "a"), stack="dev"), plan_of(bucket(False, "b" * 100), stack="dev"))
    (change,) = diff.changed
    assert change.options == {"protect": (True, False)}
    md = render_markdown([diff], {})
    assert "!     description: a -> " + "b" * 79 + "…" in md  # cut at the comment's 80, not the text's 120


def test_a_section_that_fits_exactly_is_kept_whole_and_the_next_is_only_announced():
    first = PlanDiff("dev", added=[("aws:sns/topic:Topic", "a")], removed=[], changed=[])
    second = PlanDiff("prod", added=[("aws:sns/topic:Topic", f"b{i}") for i in range(20)], removed=[], changed=[])
    verdicts = {"dev": "Policies: 42 rules, 0 mandatory and 0 advisory violations"}
    full = render_markdown([first, second], verdicts)
    note = (
        "\n\n> ✂ The diff was cut to fit a GitHub comment; run `mlplatform diff <stack> --base <ref>` for all of it.\n"
    )
    upto_first = full[: full.index("<details><summary><b>prod")]
    cut = render_markdown([first, second], verdicts, limit=len(upto_first) + len(note))
    assert cut == upto_first + note.lstrip("\n")  # the first section whole, nothing of the second, the note


def test_json_text_inputs_are_shown_by_the_paths_that_changed():
    from pipelines.diff import _describe

    pattern = {"source": ["aws.glue-dataquality"], "detail": {"state": ["FAILED"], "rulesetNames": ["a", "b"]}}
    moved = {"source": ["aws.glue-dataquality"], "detail": {"state": ["FAILED", "ERROR"], "rulesetNames": ["a", "c"]}}
    assert _describe(json.dumps(pattern), json.dumps(moved), 120) == "changed detail.rulesetNames[1], detail.state"
    values = {"prometheus": {"retention": "3d"}, "grafana": {"enabled": True}}
    later = {"prometheus": {"retention": "7d", "replicas": 2}}
    assert _describe(values, later, 120) == "changed -grafana, +prometheus.replicas, prometheus.retention"
    assert _describe('{"a": 1}', '{ "a" : 1 }', 120) == "reformatted (same document)"
    assert _describe("[1, 2]", "[3]", 120) == "changed (whole document)"
    assert _describe("plain", "text", 120) == "plain -> text"  # not JSON: both values


def test_json_documents_of_different_shapes_and_long_change_lists():
    from pipelines.diff import _describe

    assert _describe(' {"a": 1}', "[1]", 120) == "changed (whole document)"  # leading blanks; object to array
    wide = {f"key{i:02}": i for i in range(30)}
    text = _describe(json.dumps(wide), json.dumps({k: v + 1 for k, v in wide.items()}), 40)
    assert len(text) == 40 and text.endswith("…") and text.startswith("changed key00, key01")


COSTED = PlanDiff(
    "dev", [("aws:kms/key:Key", "k")], [], [], cost=((189.83, 29650.11, 13226.92), (190.03, 29650.11, 1000.5))
)
SHRUNK = PlanDiff(
    "prod", [], [("aws:kms/key:Key", "k", False)], [], cost=((1200.0, 1300.0, 1250.0), (1196.0, 1296.0, 1246.0))
)


def test_the_comment_shows_each_stacks_cost_before_and_after():
    text = render_markdown([COSTED, SHRUNK, PlanDiff("staging", [], [], [])], {})
    head = text.split("<details>")[0]
    assert head == "\n".join(
        [
            MARKER,
            "### Offline plan of this pull request",
            "",
            "| stack | added | removed | changed | policy |",
            "|---|---|---|---|---|",
            "| dev | 1 | 0 | 0 |  |",
            "| prod | 0 | 1 | 0 |  |",
            "| staging | 0 | 0 | 0 |  |",
            "",
            "Monthly cost (USD, `mlplatform cost`; before → after):",
            "",
            "| stack | idle | ceiling on-demand | ceiling spot |",
            "|---|---|---|---|",
            "| dev | 189.83 → 190.03 (+0.20) | 29,650.11 → 29,650.11 (+0.00) | 13,226.92 → 1,000.50 (-12,226.42) |",
            "| prod | 1,200.00 → 1,196.00 (-4.00) | 1,300.00 → 1,296.00 (-4.00) | 1,250.00 → 1,246.00 (-4.00) |",
            "",
            "",
        ]
    )
    assert render_text(COSTED).splitlines()[1] == (
        "  cost (USD a month): idle 189.83 → 190.03 (+0.20); ceiling on-demand 29,650.11 → 29,650.11 (+0.00); "
        "spot 13,226.92 → 1,000.50 (-12,226.42)"
    )


def test_the_json_of_a_diff_is_every_field_for_machines():
    from pipelines.diff import to_json

    assert to_json(COSTED, "Policies: 52 rules\nmore") == {
        "stack": "dev",
        "added": [{"type": "aws:kms/key:Key", "name": "k"}],
        "removed": [],
        "changed": [],
        "policy": "Policies: 52 rules",
        "cost": {
            "before": {"idle": 189.83, "ceiling_on_demand": 29650.11, "ceiling_spot": 13226.92},
            "after": {"idle": 190.03, "ceiling_on_demand": 29650.11, "ceiling_spot": 1000.5},
        },
    }
    plain = to_json(DIFF)
    assert plain["policy"] is None and "cost" not in plain
    assert plain["removed"][0] == {"type": BUCKET, "name": "raw", "protected": True}
    assert (plain["changed"][0]["type"], plain["changed"][0]["name"]) == ("aws:iam/rolePolicy:RolePolicy", "grants")
    assert plain["changed"][0]["options"] == {"protect": {"before": False, "after": True}}
    assert plain["changed"][1]["inputs"]["deletionWindowInDays"] == {"before": 30, "after": 7}
