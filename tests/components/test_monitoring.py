"""Alerts, alarms, budget, log groups, dashboards and the in-cluster GPU rules."""

from __future__ import annotations

import json

import promql_parser
import pytest

from components.cluster_observability import GPU_RULES
from components.monitoring import MonitoringArgs
from pipelines.offline import REPO_ROOT
from tests.plans import policy, settings_of

ALARM, LOG_GROUP = "aws:cloudwatch/metricAlarm:MetricAlarm", "aws:cloudwatch/logGroup:LogGroup"

# The DCGM exporter's default counters (NVIDIA/dcgm-exporter etc/default-counters.csv, uncommented lines).
DCGM_DEFAULT_METRICS = {
    "DCGM_FI_DEV_SM_CLOCK", "DCGM_FI_DEV_MEM_CLOCK", "DCGM_FI_DEV_MEMORY_TEMP", "DCGM_FI_DEV_GPU_TEMP",
    "DCGM_FI_DEV_POWER_USAGE", "DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION", "DCGM_FI_DEV_PCIE_TX_THROUGHPUT",
    "DCGM_FI_DEV_PCIE_RX_THROUGHPUT", "DCGM_FI_DEV_PCIE_REPLAY_COUNTER", "DCGM_FI_DEV_GPU_UTIL",
    "DCGM_FI_DEV_MEM_COPY_UTIL", "DCGM_FI_DEV_ENC_UTIL", "DCGM_FI_DEV_DEC_UTIL", "DCGM_FI_DEV_XID_ERRORS",
    "DCGM_FI_DEV_FB_FREE", "DCGM_FI_DEV_FB_USED", "DCGM_FI_DEV_NVLINK_BANDWIDTH_TOTAL",
    "DCGM_FI_DEV_VGPU_LICENSE_STATUS", "DCGM_FI_DEV_UNCORRECTABLE_REMAPPED_ROWS",
    "DCGM_FI_DEV_CORRECTABLE_REMAPPED_ROWS", "DCGM_FI_DEV_ROW_REMAP_FAILURE",
}  # fmt: skip
# kube-state-metrics series the rules use (scraped by kube-prometheus-stack).
KUBE_STATE_METRICS = {"kube_pod_status_phase", "kube_pod_container_resource_requests"}


def test_every_alarm_acts_on_the_alert_topic(any_plan):
    topic = any_plan.get("aws:sns/topic:Topic", "monitoring-alerts").outputs["arn"]
    alarms = any_plan.of_type(ALARM)
    assert len(alarms) >= 10
    for alarm in alarms:
        assert alarm.inputs["alarmActions"] == [topic], alarm.name
        assert alarm.inputs["okActions"] == [topic], alarm.name


def test_the_alarms_cover_capacity_data_features_and_drift(any_plan):
    env, settings = any_plan.stack, settings_of(any_plan.stack)
    alarms = {a.inputs["name"].removeprefix(f"mlplatform-{env}-"): a.inputs for a in any_plan.of_type(ALARM)}
    queue = any_plan.get("aws:sqs/queue:Queue", "in-cluster-interruptions").inputs["name"]
    assert alarms["karpenter-interruptions-backlog"]["dimensions"] == {"QueueName": queue}
    rule = any_plan.get("aws:cloudwatch/eventRule:EventRule", "data-quality-failed").inputs["name"]
    assert alarms["data-quality-failures"]["dimensions"] == {"RuleName": rule}
    for group in settings.feature_store.feature_groups:
        for what, metric in (("throttled", "ThrottledRequests"), ("failing", "Operation5XXErrors")):
            a = alarms[f"features-{group}-{what}"]
            assert (a["namespace"], a["metricName"]) == ("AWS/SageMaker/FeatureStore", metric)
            assert a["dimensions"] == {"FeatureGroupName": f"mlplatform-{env}-{group}", "OperationName": "PutRecord"}
    for dataset in settings.data_quality.datasets:
        rule = any_plan.get("aws:cloudwatch/eventRule:EventRule", f"data-quality-{dataset}-low-score").inputs["name"]
        a = alarms[rule.removeprefix(f"mlplatform-{env}-")]
        assert (a["namespace"], a["metricName"], a["dimensions"]) == ("AWS/Events", "MatchedEvents", {"RuleName": rule})
        assert (a["comparisonOperator"], a["threshold"]) == ("GreaterThanThreshold", 0)


def test_every_alarm_watches_something_the_stack_has(any_plan):
    """A dimension naming nothing the stack creates is an alarm that can never fire."""
    existing = {
        "QueueName": {q.inputs["name"] for q in any_plan.of_type("aws:sqs/queue:Queue")},
        "RuleName": {r.inputs["name"] for r in any_plan.of_type("aws:cloudwatch/eventRule:EventRule")},
        "TopicName": {t.inputs["name"] for t in any_plan.of_type("aws:sns/topic:Topic")},
        "FeatureGroupName": {
            g.inputs["featureGroupName"] for g in any_plan.of_type("aws:sagemaker/featureGroup:FeatureGroup")
        },
        "OperationName": {"PutRecord"},
        "EndpointName": {e.inputs["name"] for e in any_plan.of_type("aws:sagemaker/endpoint:Endpoint")},
        "Endpoint": {e.inputs["name"] for e in any_plan.of_type("aws:sagemaker/endpoint:Endpoint")},
        "VariantName": {
            v["variantName"]
            for c in any_plan.of_type("aws:sagemaker/endpointConfiguration:EndpointConfiguration")
            for v in c.inputs["productionVariants"]
        },
        "MonitoringSchedule": {
            m.inputs["name"] for m in any_plan.of_type("aws:sagemaker/monitoringSchedule:MonitoringSchedule")
        },
        "ScheduleGroup": {g.inputs["name"] for g in any_plan.of_type("aws:scheduler/scheduleGroup:ScheduleGroup")},
        "FunctionName": {f.inputs["name"] for f in any_plan.of_type("aws:lambda/function:Function")},
        # the drift job publishes one value per feature of its baseline (functions/drift)
        "Feature": {f for d in settings_of(any_plan.stack).monitoring.drift for f in d.features},
    }
    for alarm in any_plan.of_type(ALARM):
        for key, value in alarm.inputs.get("dimensions", {}).items():
            assert value in existing[key], f"{alarm.name}: {key}={value} names nothing in the stack"


def test_failed_and_low_scoring_evaluations_reach_the_topic(any_plan):
    """The event itself (dataset, run, score) reaches people: every data-quality rule targets the topic."""
    rules = {
        r.inputs["name"]
        for r in any_plan.of_type("aws:cloudwatch/eventRule:EventRule")
        if "-dq-" in r.inputs["name"] or r.inputs["name"].endswith("data-quality-failed")
    }
    assert len(rules) == len(settings_of(any_plan.stack).data_quality.datasets) + 1
    targets = {t.inputs["rule"]: t.inputs for t in any_plan.of_type("aws:cloudwatch/eventTarget:EventTarget")}
    for rule in rules:
        assert targets[rule]["arn"] == any_plan.outputs["alertTopicArn"], rule


def test_topic_is_encrypted_and_admits_only_the_account_services(any_plan):
    topic = any_plan.get("aws:sns/topic:Topic", "monitoring-alerts")
    assert topic.inputs["kmsMasterKeyId"] == any_plan.outputs["kmsKeyArns"]["logs"]
    (st,) = policy(any_plan.get("aws:sns/topicPolicy:TopicPolicy", "monitoring-alerts"))["Statement"]
    assert st["Effect"] == "Allow"
    assert st["Principal"] == {"Service": ["cloudwatch.amazonaws.com", "events.amazonaws.com", "budgets.amazonaws.com"]}
    assert st["Action"] == "sns:Publish" and st["Resource"] == topic.outputs["arn"]
    assert st["Condition"] == {"StringEquals": {"aws:SourceAccount": any_plan.outputs["accountId"]}}
    protocols = sorted(s.inputs["protocol"] for s in any_plan.of_type("aws:sns/topicSubscription:TopicSubscription"))
    assert protocols == ["email"]  # chat goes through AWS Chatbot, not an https subscription


def test_every_log_group_is_encrypted_and_retained(any_plan):
    retention = settings_of(any_plan.stack).monitoring.log_retention_days
    groups = any_plan.of_type(LOG_GROUP)
    assert {g.inputs["name"] for g in groups} >= {
        f"/mlplatform/{any_plan.stack}/training-jobs",
        f"/mlplatform/{any_plan.stack}/data-pipelines",
    }
    for g in groups:
        assert g.inputs["kmsKeyId"] == any_plan.outputs["kmsKeyArns"]["logs"], g.name
        assert g.inputs["retentionInDays"] == retention, g.name


def test_budget_notifies_on_forecast_and_actual_spend(any_plan):
    (budget,) = any_plan.of_type("aws:budgets/budget:Budget")
    b = budget.inputs
    m = settings_of(any_plan.stack).monitoring
    assert float(b["limitAmount"]) == m.monthly_budget_usd and b["limitUnit"] == "USD"
    # budgetScope account: the whole account; tag: only what carries this stack's environment tag
    if m.budget_scope == "account":
        assert "costFilters" not in b
    else:
        assert b["costFilters"] == [{"name": "TagKeyValue", "values": [f"user:environment${any_plan.stack}"]}]
    kinds = {(n["notificationType"], n["threshold"]) for n in b["notifications"]}
    assert kinds == {("FORECASTED", 100), ("ACTUAL", 80), ("ACTUAL", 100)}
    assert all(n["subscriberSnsTopicArns"] == [any_plan.outputs["alertTopicArn"]] for n in b["notifications"])


def test_the_dashboard_plots_every_alarm_at_its_threshold(any_plan):
    body = json.loads(
        any_plan.get("aws:cloudwatch/dashboard:Dashboard", "monitoring-dashboard").inputs["dashboardBody"]
    )
    plotted = {}
    searches = []
    for w in body["widgets"]:
        (metric,) = w["properties"]["metrics"]
        if isinstance(metric[0], dict):  # a search expression (data-quality results)
            searches.append(metric[0]["expression"])
            continue
        namespace, name, *dims = metric
        plotted[(namespace, name, tuple(sorted(zip(dims[::2], dims[1::2], strict=True))))] = w["properties"]
    alarms = any_plan.of_type(ALARM)
    for alarm in alarms:
        a = alarm.inputs
        w = plotted.get((a["namespace"], a["metricName"], tuple(sorted(a.get("dimensions", {}).items()))))
        assert w, f"{alarm.name} is not on the dashboard"
        assert w["annotations"]["horizontal"][0]["value"] == a["threshold"], alarm.name
        stat = a.get("statistic") or a["extendedStatistic"]
        assert (w["stat"], w["period"], w["region"]) == (stat, a["period"], any_plan.outputs["region"])
    assert len(plotted) == len(body["widgets"]) - len(searches) == len(alarms)  # nothing twice, none without alarm
    # Each dataset's evaluation results, found by its ruleset's name in Glue's namespace.
    rulesets = [r.inputs["name"] for r in any_plan.of_type("aws:glue/dataQualityRuleset:DataQualityRuleset")]
    assert sorted(searches) == sorted(f"SEARCH('{{\"Glue Data Quality\"}} \"{r}\"', 'Sum', 86400)" for r in rulesets)


def _metrics(expr: str) -> set[str]:
    """Metric names of every selector in a PromQL expression (parsed, not pattern-matched)."""
    names: set[str] = set()

    def visit(node) -> None:
        if isinstance(node, promql_parser.VectorSelector):
            names.add(node.name)
        elif isinstance(node, promql_parser.MatrixSelector):
            visit(node.vector_selector)
        elif isinstance(node, promql_parser.BinaryExpr):
            visit(node.lhs)
            visit(node.rhs)
        elif isinstance(node, promql_parser.Call):
            for arg in node.args:
                visit(arg)
        elif isinstance(node, promql_parser.AggregateExpr | promql_parser.ParenExpr | promql_parser.UnaryExpr):
            visit(node.expr)

    visit(promql_parser.parse(expr))
    return names


def test_gpu_rules_are_valid_promql_over_exported_metrics():
    assert {r["alert"] for r in GPU_RULES} == {
        "GpuAllocatedButIdle",
        "GpuXidError",
        "GpuTemperatureHigh",
        "GpuPodPending",
    }
    for rule in GPU_RULES:
        metrics = _metrics(rule["expr"])
        assert metrics, rule["alert"]
        assert metrics <= DCGM_DEFAULT_METRICS | KUBE_STATE_METRICS, (rule["alert"], metrics)
    # their behaviour (thresholds, windows, which GPUs) is tested in promtool: tests/components/test_alerts.py
    with pytest.raises(ValueError):  # the parser does reject broken PromQL
        promql_parser.parse("max by (gpu DCGM_FI_DEV_GPU_TEMP")


def test_gpu_dashboard_queries_are_valid_promql_over_exported_metrics():
    dashboard = json.loads((REPO_ROOT / "dashboards/gpu.json").read_text())
    for panel in dashboard["panels"]:
        for target in panel["targets"]:
            expr = target["expr"].replace("$namespace", ".*")
            assert _metrics(expr) <= DCGM_DEFAULT_METRICS | KUBE_STATE_METRICS | {"vector"}, panel["title"]


def test_in_cluster_stack_routes_alerts_to_the_topic(any_plan):
    releases = {r.inputs["name"]: r.inputs for r in any_plan.of_type("kubernetes:helm.sh/v3:Release")}
    kps = releases["kube-prometheus-stack"]
    m = settings_of(any_plan.stack).monitoring
    assert (kps["chart"], kps["version"]) == ("kube-prometheus-stack", m.charts.kube_prometheus_stack)
    assert kps["repositoryOpts"] == {"repo": "https://prometheus-community.github.io/helm-charts"}
    (sns,) = kps["values"]["alertmanager"]["config"]["receivers"][1]["sns_configs"]
    assert sns["topic_arn"] == any_plan.outputs["alertTopicArn"]
    assert kps["values"]["prometheus"]["prometheusSpec"]["retention"] == f"{m.prometheus_retention_days}d"
    assert releases["dcgm-exporter"]["values"]["serviceMonitor"]["enabled"] is True
    # Alertmanager's identity is the platform project's (Pod Identity), bound to the chart's service account.
    assoc = any_plan.get("aws:eks/podIdentityAssociation:PodIdentityAssociation", "in-cluster-alertmanager")
    account = kps["values"]["alertmanager"]["serviceAccount"]
    assert account["create"] is True
    namespace = any_plan.get("kubernetes:helm.sh/v3:Release", "observability-kube-prometheus-stack").inputs["namespace"]
    assert (assoc.inputs["namespace"], assoc.inputs["serviceAccount"]) == (namespace, account["name"])
    rule = any_plan.get("kubernetes:monitoring.coreos.com/v1:PrometheusRule", "observability-gpu-rules")
    assert any_plan.get("kubernetes:helm.sh/v3:Release", "observability-kube-prometheus-stack").urn in rule.dependencies
    board = any_plan.get("kubernetes:core/v1:ConfigMap", "observability-gpu-dashboard").inputs
    assert board["metadata"]["labels"] == {"grafana_dashboard": "1"}
    assert json.loads(board["data"]["gpu.json"])["uid"] == "mlplatform-gpus"


def test_monitoring_args_refuse_nonsense():
    base = {"environment": "dev", "account_id": "111111111111", "region": "eu-west-1", "logs_key_arn": "k"}
    with pytest.raises(ValueError, match="monthly_budget_usd must be positive"):
        MonitoringArgs(**base, monthly_budget_usd=0)


def test_a_shared_account_budget_counts_the_environment_tag_and_can_activate_it():
    from pipelines.offline import plan_stack, read_stack_config

    monitoring = {**__import__("json").loads(read_stack_config("dev").values["mlplatform:monitoring"])}
    monitoring |= {"budgetScope": "tag", "activateEnvironmentTag": True}
    plan = plan_stack("dev", overrides={"mlplatform:monitoring": monitoring})
    (budget,) = plan.of_type("aws:budgets/budget:Budget")
    assert budget.inputs["costFilters"] == [{"name": "TagKeyValue", "values": ["user:environment$dev"]}]
    (tag,) = plan.of_type("aws:costexplorer/costAllocationTag:CostAllocationTag")
    assert (tag.inputs["tagKey"], tag.inputs["status"]) == ("environment", "Active")
