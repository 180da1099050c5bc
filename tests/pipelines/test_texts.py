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


def test_what_a_change_adds_without_a_price_is_said_beside_the_figures():
    """A change adding an endpoint nobody can price must not read as +0.20."""
    from pipelines.diff import to_json

    added = "EndpointConfiguration::serving-ranker: no price for ml.m5.large in eu-west-1"
    diff = PlanDiff("dev", [("aws:kms/key:Key", "k")], [], [], cost=COSTED.cost, unpriced=[added])
    assert render_text(diff).splitlines()[2] == f"  not priced, not in the figures: {added}"
    head = render_markdown([diff], {}).split("<details>")[0]
    assert head.endswith(f"Added without a price (not in the figures above):\n\n- dev: {added}\n\n")
    assert to_json(diff)["cost"]["unpriced_added"] == [added]
    assert "without a price" not in render_markdown([COSTED], {})


def test_the_json_of_a_diff_is_every_field_for_machines():
    from pipelines.diff import to_json

    assert to_json(COSTED, "Policies: 52 rules\nmore") == {
        "stack": "dev",
        "added": [{"type": "aws:kms/key:Key", "name": "k", "summary": {}}],
        "removed": [],
        "changed": [],
        "policy": "Policies: 52 rules",
        "cost": {
            "before": {"idle": 189.83, "ceiling_on_demand": 29650.11, "ceiling_spot": 13226.92},
            "after": {"idle": 190.03, "ceiling_on_demand": 29650.11, "ceiling_spot": 1000.5},
            "unpriced_added": [],
        },
    }
    plain = to_json(DIFF)
    assert plain["policy"] is None and "cost" not in plain
    assert plain["removed"][0] == {"type": BUCKET, "name": "raw", "protected": True}
    assert (plain["changed"][0]["type"], plain["changed"][0]["name"]) == ("aws:iam/rolePolicy:RolePolicy", "grants")
    assert plain["changed"][0]["options"] == {"protect": {"before": False, "after": True}}
    assert plain["changed"][1]["inputs"]["deletionWindowInDays"] == {"before": 30, "after": 7}


POOL = "kubernetes:karpenter.sh/v1:NodePool"
QUOTA = "kubernetes:core/v1:ResourceQuota"
ENDPOINT_CONFIG = "aws:sagemaker/endpointConfiguration:EndpointConfiguration"
CLUSTER = "aws:eks/cluster:Cluster"
LIFECYCLE = "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration"
OBJECT_LOCK = "aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"


def _pool(limits: dict | None, *requirements: tuple[str, str, list]) -> dict:
    spec: dict = {
        "template": {"spec": {"requirements": [{"key": k, "operator": o, "values": v} for k, o, v in requirements]}}
    }
    if limits is not None:
        spec["limits"] = limits
    return {"kind": "NodePool", "spec": spec}


CAPACITY, FAMILY, INSTANCE_TYPE = (
    "karpenter.sh/capacity-type",
    "karpenter.k8s.aws/instance-family",
    ("node.kubernetes.io/instance-type"),
)

# (type, inputs, the summary line): every type of the table, and the shapes each reads
SUMMARY_LINES = [
    (
        POOL,
        _pool(
            {"nvidia.com/gpu": "4", "cpu": "64"},
            (CAPACITY, "In", ["on-demand"]),
            ("kubernetes.io/arch", "In", ["amd64"]),  # not a decision this line shows
            (FAMILY, "In", ["p4d", "p5e"]),
            (INSTANCE_TYPE, "In", ["p4d.24xlarge"]),
        ),
        "» limits: cpu=64, nvidia.com/gpu=4; capacityTypes: on-demand; instanceFamilies: p4d, p5e; "
        "instanceTypes: p4d.24xlarge",
    ),
    (
        POOL,
        _pool(None, (CAPACITY, "NotIn", ["spot"]), (FAMILY, "Exists", []), (INSTANCE_TYPE, "Gt", ["4"])),
        "» limits: unset; capacityTypes: not spot; instanceFamilies: any; instanceTypes: Gt 4",
    ),
    (POOL, {"spec": {}}, "» limits: unset; capacityTypes: unset"),  # no ceiling, Karpenter's default capacity
    (
        QUOTA,
        {"spec": {"hard": {"requests.nvidia.com/gpu": "2", "requests.cpu": "16", "requests.memory": "64Gi"}}},
        "» hard: requests.cpu=16, requests.memory=64Gi, requests.nvidia.com/gpu=2",
    ),
    (QUOTA, {"spec": {"hard": {}}}, "» hard: none"),
    (
        ENDPOINT_CONFIG,
        {
            "productionVariants": [
                {"variantName": "blue", "instanceType": "ml.g5.xlarge", "initialInstanceCount": 2},
                {"variantName": "green", "instanceType": "ml.m5.large", "initialInstanceCount": 1},
            ]
        },
        "» instanceType: blue=ml.g5.xlarge, green=ml.m5.large; initialInstanceCount: blue=2, green=1",
    ),
    (
        ENDPOINT_CONFIG,
        {"productionVariants": [{"serverlessConfig": {"maxConcurrency": 5, "memorySizeInMb": 2048}}]},
        "» instanceType: 0=unset; initialInstanceCount: 0=unset; serverless.maxConcurrency: 0=5; "
        "serverless.memorySizeInMb: 0=2048",
    ),
    ("aws:appautoscaling/target:Target", {"minCapacity": 1, "maxCapacity": 3}, "» minCapacity: 1; maxCapacity: 3"),
    (
        "aws:eks/nodeGroup:NodeGroup",
        {
            "instanceTypes": ["m7i.large", "m6i.large"],
            "capacityType": "SPOT",
            "scalingConfig": {"minSize": 2, "maxSize": 5},
        },
        "» instanceTypes: m7i.large, m6i.large; capacityType: SPOT; minSize: 2; maxSize: 5",
    ),
    (
        CLUSTER,
        {"version": "1.33", "vpcConfig": {"endpointPublicAccess": True, "publicAccessCidrs": ["203.0.113.0/24"]}},
        "» version: 1.33; endpointPublicAccess: true; publicAccessCidrs: 203.0.113.0/24",
    ),
    (
        CLUSTER,
        {"version": "1.33", "vpcConfig": {"endpointPublicAccess": False}},
        "» version: 1.33; endpointPublicAccess: false",
    ),
    (  # public without CIDRs is open to 0.0.0.0/0: the line says the CIDRs are unset
        CLUSTER,
        {"vpcConfig": {"endpointPublicAccess": True}},
        "» version: unset; endpointPublicAccess: true; publicAccessCidrs: unset",
    ),
    (BUCKET, {"forceDestroy": False, "objectLockEnabled": True}, "» forceDestroy: false; objectLockEnabled: true"),
    (
        LIFECYCLE,
        {
            "rules": [
                {
                    "id": "keep",
                    "status": "Enabled",
                    "expiration": {"days": 90},
                    "noncurrentVersionExpiration": {"noncurrentDays": 7},
                },
                {"id": "off", "status": "Disabled", "expiration": {"days": 1}},  # a disabled rule expires nothing
            ]
        },
        "» expirationDays: 90; noncurrentDays: 7",
    ),
    (
        LIFECYCLE,
        {
            "rules": [
                {"id": "logs", "status": "Enabled", "expiration": {"days": 30}},
                {"status": "Enabled", "noncurrentVersionExpiration": {"noncurrentDays": 5}},
            ]
        },
        "» expirationDays: 1=unset, logs=30; noncurrentDays: 1=5, logs=unset",
    ),
    (OBJECT_LOCK, {"rule": {"defaultRetention": {"mode": "COMPLIANCE", "days": 365}}}, "» mode: COMPLIANCE; days: 365"),
    (
        OBJECT_LOCK,
        {"rule": {"defaultRetention": {"mode": "GOVERNANCE", "years": 1}}},
        "» mode: GOVERNANCE; days: unset; years: 1",
    ),
    (LOG_GROUP, {"retentionInDays": 30}, "» retentionInDays: 30"),
    (LOG_GROUP, {}, "» retentionInDays: unset"),  # kept forever
]


def test_the_summary_line_of_each_type_shows_what_a_reviewer_decides_on():
    from pipelines.diff import SUMMARIES, summarize, summary_line

    assert {t for t, *_ in SUMMARY_LINES} == set(SUMMARIES)  # every type of the table is pinned here
    for type_, inputs, line in SUMMARY_LINES:
        assert summary_line({k: (v, v) for k, v in summarize(type_, inputs).items()}) == line, (type_, inputs)
    assert summarize("aws:sns/topic:Topic", {"name": "t"}) == {}  # a type not in the table: nothing extra
    assert summary_line({}) == ""


def test_a_summary_line_shows_before_and_after_where_a_field_changed():
    from pipelines.diff import SUMMARY_LIMIT, summary_line

    assert summary_line({"limits": (None, {"nvidia.com/gpu": "4"}), "capacityTypes": ([], ["spot"])}) == (
        "» limits: unset -> nvidia.com/gpu=4; capacityTypes: none -> spot"
    )
    assert (
        summary_line({"hard": ({"a": "1", "b": "2"}, {"b": "3", "c": "4"})})
        == "» hard: a=1 -> unset, b=2 -> 3, c=unset -> 4"
    )
    wide = summary_line({"hard": ({}, {f"requests.key{i:02}": "1" for i in range(20)})})
    assert len(wide) == len("» ") + SUMMARY_LIMIT and wide.endswith("…")  # one line, however many keys


def _summed_diff() -> PlanDiff:
    from pipelines.diff import compare
    from tests.policies.test_rules import plan_of, res

    base = plan_of(
        res(
            POOL,
            _pool({"nvidia.com/gpu": "4"}, (CAPACITY, "In", ["on-demand"]), (FAMILY, "In", ["p4d"])),
            name="pool-big",
        ),
        res(QUOTA, {"spec": {"hard": {"requests.cpu": "8", "requests.nvidia.com/gpu": "2"}}}, name="team-one"),
        res(LOG_GROUP, {"retentionInDays": 30}, name="logs"),
    )
    head = plan_of(
        res(
            POOL,
            _pool({"nvidia.com/gpu": "8"}, (CAPACITY, "In", ["spot", "on-demand"]), (FAMILY, "In", ["p4d"])),
            name="pool-big",
        ),
        res(QUOTA, {"spec": {"hard": {"limits.memory": "64Gi", "requests.nvidia.com/gpu": "4"}}}, name="team-one"),
        res(LOG_GROUP, {"retentionInDays": 30, "tags": {"team": "one"}}, name="logs"),  # decided inputs unchanged
        res(
            ENDPOINT_CONFIG,
            {
                "productionVariants": [
                    {"variantName": "main", "instanceType": "ml.g5.xlarge", "initialInstanceCount": 2}
                ]
            },
            name="endpoint-x",
        ),
        res("aws:sns/topic:Topic", {"name": "t"}, name="alerts"),  # not in the table: no summary line
    )
    return compare(base, head)


def test_added_and_changed_resources_show_their_decided_inputs_in_one_line():
    diff = _summed_diff()
    assert render_text(diff) == "\n".join(
        [
            "Stack dev: +2 added, -0 removed, ~3 changed",
            "  + aws:sagemaker/endpointConfiguration:EndpointConfiguration  endpoint-x",
            "      » instanceType: main=ml.g5.xlarge; initialInstanceCount: main=2",
            "  + aws:sns/topic:Topic  alerts",
            "  ~ aws:cloudwatch/logGroup:LogGroup  logs",  # only tags changed: no summary line
            '      tags: null -> {"team": "one"}',
            "  ~ kubernetes:core/v1:ResourceQuota  team-one",
            "      » hard: limits.memory=unset -> 64Gi, requests.cpu=8 -> unset, requests.nvidia.com/gpu=2 -> 4",
            "      spec: changed +hard.limits.memory, -hard.requests.cpu, hard.requests.nvidia.com/gpu",
            "  ~ kubernetes:karpenter.sh/v1:NodePool  pool-big",
            "      » limits: nvidia.com/gpu=4 -> 8; capacityTypes: on-demand -> spot, on-demand; instanceFamilies: p4d",
            "      spec: changed limits.nvidia.com/gpu, template.spec.requirements[0].values",
        ]
    )
    details = render_markdown([diff], {}).split("```diff\n", 1)[1].split("\n```", 1)[0]
    assert details == "\n".join(
        [
            "+ aws:sagemaker/endpointConfiguration:EndpointConfiguration endpoint-x",
            "+     » instanceType: main=ml.g5.xlarge; initialInstanceCount: main=2",
            "+ aws:sns/topic:Topic alerts",
            "! aws:cloudwatch/logGroup:LogGroup logs",
            '!     tags: null -> {"team": "one"}',
            "! kubernetes:core/v1:ResourceQuota team-one",
            "!     » hard: limits.memory=unset -> 64Gi, requests.cpu=8 -> unset, requests.nvidia.com/gpu=2 -> 4",
            "!     spec: changed +hard.limits.memory, -hard.requests.cpu, hard.requests.nvidia.com/gpu",
            "! kubernetes:karpenter.sh/v1:NodePool pool-big",
            "!     » limits: nvidia.com/gpu=4 -> 8; capacityTypes: on-demand -> spot, on-demand; instanceFamilies: p4d",
            "!     spec: changed limits.nvidia.com/gpu, template.spec.requirements[0].values",
        ]
    )


def test_the_json_summary_is_the_decided_inputs_of_each_added_and_changed_resource():
    from pipelines.diff import to_json

    out = to_json(_summed_diff())
    assert out["added"] == [
        {
            "type": ENDPOINT_CONFIG,
            "name": "endpoint-x",
            "summary": {"instanceType": {"main": "ml.g5.xlarge"}, "initialInstanceCount": {"main": 2}},
        },
        {"type": "aws:sns/topic:Topic", "name": "alerts", "summary": {}},
    ]
    summaries = {c["name"]: c["summary"] for c in out["changed"]}
    assert summaries == {
        "logs": {"retentionInDays": {"before": 30, "after": 30}},  # every decided input, changed or not
        "team-one": {
            "hard": {
                "before": {"requests.cpu": "8", "requests.nvidia.com/gpu": "2"},
                "after": {"limits.memory": "64Gi", "requests.nvidia.com/gpu": "4"},
            }
        },
        "pool-big": {
            "limits": {"before": {"nvidia.com/gpu": "4"}, "after": {"nvidia.com/gpu": "8"}},
            "capacityTypes": {"before": ["on-demand"], "after": ["spot", "on-demand"]},
            "instanceFamilies": {"before": ["p4d"], "after": ["p4d"]},
        },
    }


def test_inputs_of_an_unexpected_shape_show_as_unset_and_never_stop_the_diff():
    from pipelines.diff import SUMMARIES, summarize

    odd = {k: "?" for k in ("spec", "productionVariants", "scalingConfig", "vpcConfig", "rules", "rule")}
    for type_ in SUMMARIES:
        for inputs in ({}, odd):
            assert all(v in (None, {}) for v in summarize(type_, inputs).values()), (type_, inputs)


def test_a_decided_input_the_head_drops_is_shown_last_as_unset():
    from pipelines.diff import compare
    from tests.policies.test_rules import plan_of, res

    def pool(*requirements):
        return plan_of(res(POOL, _pool({"cpu": "8"}, *requirements), name="pool-small"))

    diff = compare(
        pool((CAPACITY, "In", ["spot"]), (INSTANCE_TYPE, "In", ["c7g.large"])), pool((CAPACITY, "In", ["spot"]))
    )
    (change,) = diff.changed
    assert list(change.summary) == ["limits", "capacityTypes", "instanceTypes"]
    assert (
        render_text(diff).splitlines()[2]
        == "      » limits: cpu=8; capacityTypes: spot; instanceTypes: c7g.large -> unset"
    )
