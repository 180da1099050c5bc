"""The in-cluster alerts, run by the ecosystem's own tools: every rule of ours in `promtool test rules`
on synthetic series, both sides of its threshold and its `for`; the dashboard's idle-GPU panel in
promtool too. Series are what Prometheus stores after scraping: a GPU in use carries its pod's
`namespace`/`pod` (dcgm-exporter's mapping, kept by honorLabels), an unmapped one the exporter's own
(the target labels prometheus-operator adds to every series)."""

from __future__ import annotations

import functools
import json

from components.cluster_observability import GPU_RULES
from pipelines.offline import REPO_ROOT
from tests.alert_tools import promtool_check, promtool_test

RULES = {r["alert"]: r for r in GPU_RULES}
GPU = 'Hostname="node-1", gpu="0", UUID="GPU-1", modelName="NVIDIA A10G"'
JOB = 'namespace="team-a", pod="train-0"'
EXPORTER = 'namespace="monitoring", pod="dcgm-exporter-x1"'  # an unmapped GPU: the exporter's target labels


def util(where: str, values: str) -> dict:
    return {"series": f'DCGM_FI_DEV_GPU_UTIL{{{GPU}, {where}, container="c"}}', "values": values}


def gpu_request(where: str, values: str) -> dict:
    series = (
        f'kube_pod_container_resource_requests{{{where}, container="c", resource="nvidia_com_gpu", unit="integer"}}'
    )
    return {"series": series, "values": values}


def phase(where: str, name: str, values: str) -> dict:
    return {"series": f'kube_pod_status_phase{{{where}, phase="{name}"}}', "values": values}


def running(where: str, minutes: int) -> list[dict]:
    return [gpu_request(where, f"1x{minutes}"), phase(where, "Running", f"1x{minutes}")]


def idle_alert(where: str) -> dict:
    labels = dict(pair.split("=") for pair in f"{GPU}, {where}".replace('"', "").split(", "))
    labels = {k: v for k, v in labels.items() if k in ("namespace", "pod", "Hostname", "gpu")}
    rule = RULES["GpuAllocatedButIdle"]
    summary = f"{labels['namespace']}/{labels['pod']} holds GPU 0 on node-1 and has not used it for 30 minutes"
    return {"exp_labels": {**labels, **rule["labels"]}, "exp_annotations": {"summary": summary}}


def case(series: list[dict], alert: str, checks: list[tuple[str, list[dict]]]) -> dict:
    return {
        "input_series": series,
        "alert_rule_test": [{"eval_time": at, "alertname": alert, "exp_alerts": expected} for at, expected in checks],
    }


def test_a_gpu_allocated_to_a_running_pod_and_idle_for_its_window_alerts_and_nothing_else_does(tmp_path):
    alert = "GpuAllocatedButIdle"
    window = 30  # docs/monitoring.md: "a GPU allocated but idle for 30 minutes"
    after = f"{window + 1}m"
    pull = window + 5  # minutes a starting job stays Pending
    tests = [
        # idle from the start of a running job: pending until the window has passed, then firing
        case([util(JOB, f"0x{window + 10}"), *running(JOB, window + 10)], alert,
             [(f"{window - 1}m", []), (after, [idle_alert(JOB)])]),
        # a GPU no pod uses, labelled with the exporter's pod (running, asking for no GPU): never
        case([util(EXPORTER, f"0x{2 * window}"), phase(EXPORTER, "Running", f"1x{2 * window}")], alert,
             [(f"{2 * window}m", [])]),
        # a job that is starting (Pending while a large image pulls, longer than the window, then
        # computing): never (GpuPodPending is the alert about a pod that does not start)
        case([util(JOB, f"0x{pull + 2} 60x{2 * window}"), gpu_request(JOB, f"1x{3 * window}"),
              phase(JOB, "Pending", f"1x{pull} 0x{2 * window}"), phase(JOB, "Running", f"0x{pull} 1x{2 * window}")],
             alert, [(f"{window + 1}m", []), (f"{pull + 10}m", [])]),
        # busy: never
        case([util(JOB, f"80x{window + 10}"), *running(JOB, window + 10)], alert, [(after, [])]),
        # busy, then idle: fires a window after it stopped using the GPU, not before
        case([util(JOB, f"50x10 0x{window + 10}"), *running(JOB, window + 20)], alert,
             [(f"{window + 9}m", []), (f"{window + 12}m", [idle_alert(JOB)])]),
    ]  # fmt: skip
    failures = promtool_test(tmp_path, [{"name": "gpu", "rules": [RULES[alert]]}], tests)
    assert failures == "", failures


def test_the_dashboard_counts_the_gpus_the_alert_is_about(tmp_path):
    panels = json.loads((REPO_ROOT / "dashboards" / "gpu.json").read_text())["panels"]
    (panel,) = [p for p in panels if "idle" in p["title"]]
    (target,) = panel["targets"]
    exporter = [util(EXPORTER, "0x10"), phase(EXPORTER, "Running", "1x10")]
    series = [util(JOB, "0x10"), *running(JOB, 10), *exporter, util(JOB.replace("0", "1"), "0x10")]
    tests = [
        {
            "input_series": series,
            "promql_expr_test": [
                {"expr": target["expr"], "eval_time": "5m", "exp_samples": [{"labels": "{}", "value": 1}]}
            ],
        },
        {  # nothing allocated: 0, not an empty panel
            "input_series": exporter,
            "promql_expr_test": [
                {"expr": target["expr"], "eval_time": "5m", "exp_samples": [{"labels": "{}", "value": 0}]}
            ],
        },
    ]
    failures = promtool_test(tmp_path, [], tests)
    assert failures == "", failures


def test_gpu_health_and_capacity_alerts_on_both_sides_of_threshold_and_window(tmp_path):
    xid = f"DCGM_FI_DEV_XID_ERRORS{{{GPU}, {EXPORTER}}}"
    temp = f"DCGM_FI_DEV_GPU_TEMP{{{GPU}, {EXPORTER}}}"
    # docs/monitoring.md: "above 85 °C for 5 minutes, a pod waiting 15 minutes for a GPU"
    hot, hold, wait = 85, 5, 15
    gpu_labels = {"Hostname": "node-1", "gpu": "0"}

    def fired(rule: str, summary: str, **labels: str) -> list[dict]:
        return [{"exp_labels": {**labels, **RULES[rule]["labels"]}, "exp_annotations": {"summary": summary}}]

    exporter = {"namespace": "monitoring", "pod": "dcgm-exporter-x1"}
    tests = [
        case([{"series": xid, "values": "0x5 79x5"}], "GpuXidError",
             [("3m", []), ("7m", fired("GpuXidError", "GPU 0 on node-1 reported XID 79", **gpu_labels, **exporter))]),
        case([{"series": temp, "values": f"{hot + 5}x{hold + 5}"}], "GpuTemperatureHigh",
             [(f"{hold - 1}m", []),
              (f"{hold + 1}m", fired("GpuTemperatureHigh", f"GPU 0 on node-1 is at {hot + 5} C", **gpu_labels))]),
        case([{"series": temp, "values": f"{hot}x{hold + 5}"}], "GpuTemperatureHigh", [(f"{hold + 2}m", [])]),
        case([gpu_request(JOB, f"1x{wait + 5}"), phase(JOB, "Pending", f"1x{wait + 5}")], "GpuPodPending",
             [(f"{wait - 1}m", []),
              (f"{wait + 1}m", fired("GpuPodPending", "team-a/train-0 has waited 15 minutes for a GPU",
                                     namespace="team-a", pod="train-0"))]),
        # pending without asking for a GPU: not this alert
        case([phase(JOB, "Pending", f"1x{wait + 5}")], "GpuPodPending", [(f"{wait + 2}m", [])]),
    ]  # fmt: skip
    failures = promtool_test(tmp_path, [{"name": "gpu", "rules": GPU_RULES}], tests)
    assert failures == "", failures


def test_every_rule_of_ours_has_a_promtool_case_and_promtool_accepts_the_rule_file(tmp_path):
    import inspect
    import sys

    source = inspect.getsource(sys.modules[__name__])
    assert all(f'"{name}"' in source for name in RULES), "a rule without a promtool test"
    assert promtool_check(tmp_path, [{"name": "gpu", "rules": GPU_RULES}]) == ""


# --- the chart's own rules, the routes, and the message where it lands ------------------------------

import pytest  # noqa: E402

from foundation.upstream import kube_prometheus_stack as kps  # noqa: E402
from pipelines.semantics.helm import merge  # noqa: E402
from tests.alert_tools import amtool_check, amtool_routes, tool  # noqa: E402
from tests.plans import STACKS, settings_of, stack_plan  # noqa: E402


def chart_values(stack: str) -> dict:
    """The kube-prometheus-stack values the chart renders with: its defaults, ours merged in as helm does."""
    (release,) = [
        r
        for r in stack_plan(stack).of_type("kubernetes:helm.sh/v3:Release")
        if r.inputs["name"] == "kube-prometheus-stack"
    ]
    assert release.inputs["version"] == "80.7.0", "the chart facts are of 80.7.0: refresh them with the chart"
    return merge(kps.chart()["defaults"], release.inputs["values"])


def every_alert(stack: str) -> list[dict]:
    ours = [{"alert": r["alert"], "severity": r["labels"]["severity"]} for r in GPU_RULES]
    return ours + kps.enabled_alerts(chart_values(stack))


def test_every_job_the_chart_rules_read_has_a_decision_for_eks():
    jobs = {j for g in kps.chart()["groups"] for a in g["alerts"] for j in a["jobs"]}
    assert jobs <= set(kps.EKS_JOBS), sorted(jobs - set(kps.EKS_JOBS))


@pytest.mark.parametrize("stack", STACKS)
def test_no_rule_the_chart_enables_reads_a_job_eks_does_not_have(stack):
    """A rule on a job with no target is permanently firing on a healthy cluster: absent(up{job=...})
    for the control plane EKS runs itself. Those rules are off, with their scrapes."""
    values = chart_values(stack)
    enabled = kps.enabled_alerts(values)
    assert len(enabled) > 50, "the chart's defaults are shipped, not switched off wholesale"
    unscraped = {(a["alert"], j) for a in enabled for j in a["jobs"] if not kps.EKS_JOBS[j][0]}
    assert unscraped == set()
    for component in ("kubeControllerManager", "kubeScheduler", "kubeEtcd", "kubeProxy"):
        assert values[component]["enabled"] is False, f"{component}: a scrape of a target EKS does not have"


def effective_config(stack: str) -> dict:
    values = chart_values(stack)
    return values["alertmanager"]["config"]


@pytest.mark.parametrize("stack", STACKS)
def test_every_alert_reaches_the_alert_topic_but_the_heartbeats_by_amtool(stack, tmp_path):
    """`amtool config routes test` on the configuration Alertmanager runs (the chart's default merged
    with ours): every alert of ours and of the chart's enabled rules reaches the topic receiver; the
    two always-firing alerts (Watchdog, InfoInhibitor) the chart says to route to a null receiver."""
    config = effective_config(stack)
    assert amtool_check(tmp_path, config) == ""
    receivers = {r["name"]: r for r in config["receivers"]}
    always = set(kps.chart()["always_firing"])
    # routing reads the route tree only: stacks that differ in their topic share amtool's answers
    tree = json.dumps({**config, "receivers": [{"name": r["name"]} for r in config["receivers"]]}, sort_keys=True)
    routed = _routes(tree, tuple((a["alert"], a["severity"]) for a in every_alert(stack)))
    assert always <= set(routed)
    for name, reached in routed.items():
        if name in always:
            assert reached == ["null"] and not receivers["null"].get("sns_configs"), name
        else:
            assert len(reached) == 1 and receivers[reached[0]].get("sns_configs"), (name, reached)
            (sns,) = receivers[reached[0]]["sns_configs"]
            assert sns["topic_arn"] == stack_plan(stack).outputs["alertTopicArn"]


@functools.cache
def _routes(config: str, alerts: tuple[tuple[str, str], ...]) -> dict[str, list[str]]:
    """amtool's receivers per alert; stacks whose configurations are equal are asked once."""
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as directory:
        return {
            name: amtool_routes(
                Path(directory), json.loads(config), {"alertname": name, "severity": severity, "namespace": "team-a"}
            )
            for name, severity in alerts
        }


def render(directory, templates: str, text: str, data: dict) -> str:
    import subprocess

    (directory / "m.tmpl").write_text(templates)
    (directory / "data.json").write_text(json.dumps(data))
    done = subprocess.run(
        [tool("amtool"), "template", "render", f"--template.glob={directory / 'm.tmpl'}",
         f"--template.text={text}", f"--template.data={directory / 'data.json'}"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done.stdout


def notification(alertname: str, severity: str, summary: str, status: str = "firing") -> dict:
    labels = {"alertname": alertname, "severity": severity, "namespace": "team-a"}
    alert = {
        "status": status,
        "labels": labels,
        "annotations": {"summary": summary},
        "startsAt": "2026-01-01T00:00:00Z",
    }
    return {"receiver": "platform-alerts", "status": status, "alerts": [alert], "groupLabels": labels,
            "commonLabels": labels, "commonAnnotations": {"summary": summary}, "externalURL": "http://am"}  # fmt: skip


# Annotations as real rules write them: quotes, backslashes, line breaks (the chart's descriptions span lines).
HARD = 'Pod "team-a/train-0" \\ restarted\n3 times (runbook: "x")'


@pytest.mark.parametrize("stack", STACKS)
def test_each_alert_lands_readable_where_its_stack_sends_it(stack, tmp_path):
    """The SNS message each receiver sends, rendered by amtool from the templates the chart mounts:
    where AWS Chatbot subscribes to the topic, a custom notification in Chatbot's schema (other
    messages it does not post); otherwise the email text. The subject SNS accepts in both."""
    from foundation.upstream.services import CHATBOT_CUSTOM, SNS_MESSAGE_MAX_BYTES, SNS_SUBJECT_MAX

    values = chart_values(stack)
    templates = "\n".join(values["alertmanager"]["templateFiles"].values())
    config = effective_config(stack)
    (sns,) = next(r for r in config["receivers"] if r.get("sns_configs"))["sns_configs"]
    chat = bool(settings_of(stack).monitoring.slack_channels)
    # The message depends on an alert's name and severity only: each severity once, and the longest name.
    alerts = {a["severity"]: a for a in every_alert(stack)}
    longest = max(every_alert(stack), key=lambda a: len(a["alert"]))
    for alert in [*alerts.values(), longest, {"alert": "A" * 120, "severity": "warning"}]:
        data = notification(alert["alert"], alert["severity"], HARD)
        subject = render(tmp_path, templates, sns["subject"], data)
        assert 0 < len(subject) <= SNS_SUBJECT_MAX and subject.isprintable(), subject
        assert subject.startswith("[FIRING] ")
        message = render(tmp_path, templates, sns["message"], data)
        assert len(message.encode()) <= SNS_MESSAGE_MAX_BYTES
        if chat:
            body = json.loads(message)
            assert (body["version"], body["source"]) == (CHATBOT_CUSTOM["version"], CHATBOT_CUSTOM["source"])
            content = body["content"]
            assert content["textType"] == CHATBOT_CUSTOM["textType"]
            assert content["title"] == subject
            assert "restarted 3 times" in content["description"] and "team-a/train-0" in content["description"]
        else:
            assert message.startswith(subject) and "restarted\n3 times" in message
            assert f"alertname = {alert['alert']}" in message and "severity = " in message
    # resolved notifications say so
    resolved = render(tmp_path, templates, sns["subject"], notification("GpuXidError", "critical", "x", "resolved"))
    assert resolved.startswith("[RESOLVED] GpuXidError")


def test_both_forms_hold_whichever_the_stacks_use(tmp_path):
    """The Chatbot and the email form, for every alert of ours, whatever the example stacks choose."""
    from components.cluster_observability import TEMPLATES

    for rule in GPU_RULES:
        data = notification(rule["alert"], rule["labels"]["severity"], HARD)
        body = json.loads(render(tmp_path, TEMPLATES, '{{ template "mlplatform.chatbot" . }}', data))
        assert body["content"]["title"].startswith(f"[FIRING] {rule['alert']}")
        email = render(tmp_path, TEMPLATES, '{{ template "mlplatform.email" . }}', data)
        assert f"alertname = {rule['alert']}" in email


def test_the_grafana_secret_the_docs_name_is_the_one_the_chart_creates():
    """grafana 10.4.0 names its admin Secret grafana.fullname: its own fullnameOverride, else the release
    name when it contains "grafana", else <release>-grafana (kube_prometheus_stack.json, "grafana")."""
    import re

    for stack in STACKS:
        (release,) = [
            r
            for r in stack_plan(stack).of_type("kubernetes:helm.sh/v3:Release")
            if r.inputs["name"] == "kube-prometheus-stack"
        ]
        override = release.inputs["values"].get("grafana", {}).get("fullnameOverride")
        name = release.inputs["name"]
        secret = override or (name if "grafana" in name else f"{name}-grafana")
        docs = (
            "\n".join(p.read_text() for p in (REPO_ROOT / "docs").glob("*.md")) + (REPO_ROOT / "README.md").read_text()
        )
        named = set(re.findall(r"kubectl -n monitoring get secret ([\w-]+)", docs))
        assert named == {secret}, (named, secret)
