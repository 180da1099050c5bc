"""Serving: each endpoint of the settings, wired as SageMaker, Application Auto Scaling and Model
Monitor take it. Expectations come from the stack files (the endpoint's settings, the registry
stack's account) and from the primary-source facts of foundation/upstream/serving.py."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from botocore.session import get_session

from foundation.upstream import serving as facts
from tests.plans import STACKS, settings_of, stack_plan, variant_plan

MODEL, CONFIG, ENDPOINT = (
    "aws:sagemaker/model:Model",
    "aws:sagemaker/endpointConfiguration:EndpointConfiguration",
    "aws:sagemaker/endpoint:Endpoint",
)
ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"


def _one(plan, type_: str, **inputs):
    found = [r for r in plan.of_type(type_) if all(r.inputs.get(k) == v for k, v in inputs.items())]
    assert len(found) == 1, (type_, inputs, len(found))
    return found[0]


def _registry(stack: str):
    s = settings_of(stack)
    return settings_of(s.serving.registry_stack or stack)


def _served(plan, name: str):
    """The endpoint, its configuration and its model, followed through the plan's references."""
    endpoint = _one(plan, ENDPOINT, name=f"mlplatform-{plan.stack}-{name}")
    config = _one(plan, CONFIG, name=endpoint.inputs["endpointConfigName"])
    (variant,) = config.inputs["productionVariants"]
    model = _one(plan, MODEL, name=variant["modelName"])
    return endpoint, config, variant, model


def test_every_endpoint_serves_its_pinned_version_from_the_registry_of_record(any_plan):
    s, registry = settings_of(any_plan.stack), _registry(any_plan.stack)
    subnets = {r.id for r in any_plan.of_type("aws:ec2/subnet:Subnet") if "private" in r.name}
    assert s.serving.endpoints
    for e in s.serving.endpoints:
        _, config, variant, model = _served(any_plan, e.name)
        m = model.inputs
        version = s.serving.model_versions[e.model_family]
        group = f"mlplatform-{registry.environment}-{e.model_family}"
        arn = f"arn:aws:sagemaker:{registry.region}:{registry.account_id}:model-package/{group}/{version}"
        assert m["primaryContainer"] == {"modelPackageName": arn}
        assert m["executionRoleArn"] == any_plan.outputs["roleArns"][f"serving-{e.name}"]
        assert m["enableNetworkIsolation"] is e.network_isolation
        assert set(m["vpcConfig"]["subnets"]) == subnets and len(m["vpcConfig"]["securityGroupIds"]) == 1
        (sg,) = [
            g
            for g in any_plan.of_type("aws:ec2/securityGroup:SecurityGroup")
            if g.id in m["vpcConfig"]["securityGroupIds"]
        ]
        assert not sg.inputs.get("ingress")  # SageMaker reaches the containers itself
        # a rollout starts the new fleet at InitialInstanceCount: the maximum (test_a_rollout_starts_...)
        assert (variant["instanceType"], variant["initialInstanceCount"]) == (e.instance_type, e.max_instances)
        c = config.inputs
        assert c["kmsKeyArn"] == any_plan.outputs["kmsKeyArns"]["models"]
        capture = c.get("dataCaptureConfig")
        if e.data_capture_percent:
            bucket = any_plan.outputs["buckets"]["artifacts"]
            assert capture["destinationS3Uri"] == f"s3://{bucket}/capture/{e.name}/"
            assert capture["initialSamplingPercentage"] == e.data_capture_percent
            assert capture["kmsKeyId"] == any_plan.outputs["kmsKeyArns"]["models"]
            assert {o["captureMode"] for o in capture["captureOptions"]} == {"Input", "Output"}
        else:
            assert capture is None


def test_the_registry_of_record_shares_what_each_endpoint_deploys():
    """For any set of stacks: a stack serving another stack's registry is in its region and among its
    consumers, and the served families are that registry's (else CreateModel is refused)."""
    for stack in STACKS:
        s = settings_of(stack)
        registry = _registry(stack)
        assert registry.region == s.region
        if registry.account_id != s.account_id:
            assert s.account_id in registry.registry.consumer_accounts, stack
        assert set(s.serving.model_versions) <= set(registry.registry.model_families), stack


def test_updates_are_blue_green_and_roll_back_on_the_endpoints_own_alarms(any_plan):
    s = settings_of(any_plan.stack)
    alarms = {a.inputs["name"]: a.inputs for a in any_plan.of_type(ALARM)}
    for e in s.serving.endpoints:
        endpoint, _, variant, _ = _served(any_plan, e.name)
        deployment = endpoint.inputs["deploymentConfig"]
        policy = deployment["blueGreenUpdatePolicy"]
        routing = policy["trafficRoutingConfiguration"]
        wait = routing["waitIntervalInSeconds"]
        assert wait == e.bake_minutes * 60 and facts.WAIT_INTERVAL_SECONDS[0] <= wait <= facts.WAIT_INTERVAL_SECONDS[1]
        low, high = facts.MAX_EXECUTION_SECONDS
        assert low <= policy["maximumExecutionTimeoutInSeconds"] <= high
        assert policy["maximumExecutionTimeoutInSeconds"] > wait + policy["terminationWaitInSeconds"]
        if variant["initialInstanceCount"] >= 2:  # a canary is at most half the new fleet (CanarySize)
            assert routing["type"] == "CANARY"
            assert routing["canarySize"] == {"type": "CAPACITY_PERCENT", "value": e.canary_percent}
            assert e.canary_percent / 100 <= facts.CANARY_MAX_SHARE
        else:
            assert routing["type"] == "ALL_AT_ONCE" and "canarySize" not in routing
        names = [a["alarmName"] for a in deployment["autoRollbackConfiguration"]["alarms"]]
        watched = {
            alarms[n]["metricName"]: alarms[n]
            for n in names
            if alarms[n]["dimensions"]
            == {"EndpointName": endpoint.inputs["name"], "VariantName": variant["variantName"]}
        }
        assert len(names) == len(watched) == 2, names  # both alarms watch this endpoint's variant
        errors, latency = watched["Invocation5XXErrors"], watched["ModelLatency"]
        assert errors["namespace"] == latency["namespace"] == "AWS/SageMaker"
        assert (errors["statistic"], errors["comparisonOperator"], errors["threshold"]) == (
            "Sum",
            "GreaterThanThreshold",
            0,
        )
        assert latency["extendedStatistic"] == "p99"
        assert latency["threshold"] == e.max_latency_ms * 1000  # ModelLatency is in microseconds
        assert errors["alarmActions"] == [any_plan.outputs["alertTopicArn"]]


def test_each_endpoint_scales_on_invocations_per_instance_within_its_bounds(any_plan):
    s = settings_of(any_plan.stack)
    targets = {t.inputs["resourceId"]: t for t in any_plan.of_type("aws:appautoscaling/target:Target")}
    policies = {p.inputs["resourceId"]: p.inputs for p in any_plan.of_type("aws:appautoscaling/policy:Policy")}
    for e in s.serving.endpoints:
        endpoint, _, variant, _ = _served(any_plan, e.name)
        rid = f"endpoint/{endpoint.inputs['name']}/variant/{variant['variantName']}"
        t = targets[rid].inputs
        assert (t["serviceNamespace"], t["scalableDimension"]) == (
            "sagemaker",
            "sagemaker:variant:DesiredInstanceCount",
        )
        assert (t["minCapacity"], t["maxCapacity"]) == (e.min_instances, e.max_instances)
        assert t["minCapacity"] >= facts.MIN_VARIANT_INSTANCES
        p = policies[rid]
        assert p["policyType"] == "TargetTrackingScaling"
        tracking = p["targetTrackingScalingPolicyConfiguration"]
        assert tracking["predefinedMetricSpecification"] == {
            "predefinedMetricType": "SageMakerVariantInvocationsPerInstance"
        }
        assert tracking["targetValue"] == e.target_invocations_per_instance
    assert len(targets) == len(policies) == len(s.serving.endpoints)


def opted_in(stack: str) -> dict:
    """The stack's endpoints with Model Monitor opted in wherever they have a monitor."""
    endpoints = []
    for e in settings_of(stack).serving.endpoints:
        entry = e.model_dump(by_alias=True, exclude_none=True)
        if e.monitor:
            entry["monitor"]["modelMonitor"] = True
        endpoints.append(entry)
    return {"serving.endpoints": endpoints}


def test_the_example_stacks_measure_drift_without_model_monitor(any_plan):
    """AWS closed Model Monitor to new customers: it is an opt-in, off in the example stacks."""
    assert any(e.monitor for e in settings_of(any_plan.stack).serving.endpoints)
    assert any_plan.of_type("aws:sagemaker/monitoringSchedule:MonitoringSchedule") == []
    assert any_plan.of_type("aws:sagemaker/dataQualityJobDefinition:DataQualityJobDefinition") == []


@pytest.mark.parametrize("stack", STACKS)
def test_model_monitor_compares_the_captured_traffic_with_the_baseline(stack):
    any_plan = variant_plan(stack, opted_in(stack))
    s = settings_of(any_plan.stack)
    bucket = any_plan.outputs["buckets"]["artifacts"]
    schedules = {
        m.inputs["name"]: m.inputs for m in any_plan.of_type("aws:sagemaker/monitoringSchedule:MonitoringSchedule")
    }
    jobs = {
        j.inputs["name"]: j.inputs
        for j in any_plan.of_type("aws:sagemaker/dataQualityJobDefinition:DataQualityJobDefinition")
    }
    monitored = [e for e in s.serving.endpoints if e.monitor]
    assert len(schedules) == len(jobs) == len(monitored)
    for e in monitored:
        endpoint, *_ = _served(any_plan, e.name)
        (schedule,) = [
            m
            for m in schedules.values()
            if jobs[m["monitoringScheduleConfig"]["monitoringJobDefinitionName"]]["dataQualityJobInput"][
                "endpointInput"
            ]["endpointName"]
            == endpoint.inputs["name"]
        ]
        config = schedule["monitoringScheduleConfig"]
        assert config["monitoringType"] == "DataQuality"
        assert (
            config["scheduleConfig"]["scheduleExpression"]
            == {"hourly": "cron(0 * ? * * *)", "daily": "cron(0 0 ? * * *)"}[e.monitor.schedule]
        )
        job = jobs[config["monitoringJobDefinitionName"]]
        base = f"s3://{bucket}/{e.monitor.baseline_prefix}"
        baseline = job["dataQualityBaselineConfig"]
        assert baseline["constraintsResource"]["s3Uri"] == base + "constraints.json"
        assert baseline["statisticsResource"]["s3Uri"] == base + "statistics.json"
        app = job["dataQualityAppSpecification"]
        registry = f"{facts.MONITOR_IMAGE_ACCOUNTS[s.region]}.dkr.ecr.{s.region}.amazonaws.com"
        assert app["imageUri"] == f"{registry}/sagemaker-model-monitor-analyzer"
        assert app["environment"] == {"publish_cloudwatch_metrics": "Enabled"}
        assert job["roleArn"] == any_plan.outputs["roleArns"][f"model-monitor-{e.name}"]
        out = job["dataQualityJobOutputConfig"]
        assert out["kmsKeyId"] == any_plan.outputs["kmsKeyArns"]["models"]
        assert out["monitoringOutputs"]["s3Output"]["s3Uri"].startswith(f"s3://{bucket}/monitoring/{e.name}/")
        assert job["jobResources"]["clusterConfig"]["volumeKmsKeyId"] == any_plan.outputs["kmsKeyArns"]["models"]


@pytest.mark.parametrize("model_monitor", [False, True])
@pytest.mark.parametrize("stack", STACKS)
def test_drift_alarms_watch_what_the_measurement_publishes_and_only_where_it_runs(stack, model_monitor):
    """The drift job publishes FeatureDrift per endpoint and feature (functions/drift/handler.py);
    Model Monitor, opted in, feature_baseline_drift_<feature> per endpoint and schedule."""
    any_plan = variant_plan(stack, opted_in(stack)) if model_monitor else stack_plan(stack)
    s = settings_of(stack)
    namespace = facts.DRIFT_NAMESPACE if model_monitor else "mlplatform/Drift"
    alarms = [a.inputs for a in any_plan.of_type(ALARM) if a.inputs["namespace"] == namespace]
    schedules = {m.inputs["name"] for m in any_plan.of_type("aws:sagemaker/monitoringSchedule:MonitoringSchedule")}
    expected = set()
    for d in s.monitoring.drift:
        for e in (e for e in s.serving.endpoints if e.model_family == d.model_family and e.monitor):
            for feature in d.features:
                metric = f"feature_baseline_drift_{feature}" if model_monitor else "FeatureDrift"
                expected.add((metric, f"mlplatform-{stack}-{e.name}", d.threshold, d.evaluation_periods))
    assert expected
    assert {
        (a["metricName"], a["dimensions"]["Endpoint"], a["threshold"], a["evaluationPeriods"]) for a in alarms
    } == expected
    features = {f for d in s.monitoring.drift for f in d.features}
    for a in alarms:
        if model_monitor:
            assert a["dimensions"]["MonitoringSchedule"] in schedules
        else:
            assert a["dimensions"]["Feature"] in features and set(a["dimensions"]) == {"Endpoint", "Feature"}
        # before the first run, or in a window without traffic, there is no data: not a page
        assert a["treatMissingData"] == "missing"
    unmeasured = {d.model_family for d in s.monitoring.drift} - {
        e.model_family for e in s.serving.endpoints if e.monitor
    }
    assert set(any_plan.outputs.get("driftNotMeasured", {})) == unmeasured


@pytest.mark.parametrize("stack", STACKS)
def test_each_drift_job_reads_where_sagemaker_captures_and_the_baseline_it_is_given(stack):
    """End to end on the plan's own values: capture files written where SageMaker puts them for the
    endpoint's DataCaptureConfig (s3://{destination}/{endpoint}/{variant}/yyyy/mm/dd/hh/, SageMaker
    Python SDK docs) and a baseline at the monitor's prefix are what the job, started with its
    schedule's event, reads."""
    import datetime as dt

    import boto3
    from moto import mock_aws

    from functions.drift import drift
    from functions.drift.handler import measure

    plan = stack_plan(stack)
    functions = {f.inputs["name"]: f for f in plan.of_type("aws:lambda/function:Function")}
    monitored = [e for e in settings_of(stack).serving.endpoints if e.monitor]
    assert len(functions) == len(monitored)
    jobs = [s for s in plan.of_type("aws:scheduler/schedule:Schedule") if s.inputs["target"]["arn"] in
            {f.outputs["arn"] for f in functions.values()}]  # fmt: skip
    assert len(jobs) == len(monitored)
    record = {"captureData": {"endpointInput": {"encoding": "CSV", "observedContentType": "text/csv", "data": "1,2\n"}}}
    with mock_aws():
        s3 = boto3.client("s3", region_name="eu-west-1")
        bucket = plan.outputs["buckets"]["artifacts"]
        s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
        for schedule in jobs:
            event = json.loads(schedule.inputs["target"]["input"])
            (e,) = [e for e in monitored if f"mlplatform-{stack}-{e.name}" == event["endpointName"]]
            endpoint, config, variant, _ = _served(plan, e.name)
            destination = config.inputs["dataCaptureConfig"]["destinationS3Uri"].removeprefix(f"s3://{bucket}/")
            now = dt.datetime(2026, 3, 1, 12, 15, tzinfo=dt.UTC)
            hour = "2026/03/01/11" if e.monitor.schedule == "hourly" else "2026/02/28/23"
            key = f"{destination.rstrip('/')}/{endpoint.inputs['name']}/{variant['variantName']}/{hour}/x.jsonl"
            s3.put_object(Bucket=bucket, Key=key, Body=json.dumps(record))
            baseline = drift.build_baseline(["a", "b"], [[1, 2], [3, 4]])
            s3.put_object(Bucket=bucket, Key=f"{e.monitor.baseline_prefix}baseline.json", Body=json.dumps(baseline))
            report = measure(event, s3, now)
            assert report["records"] == 1 and set(report["psi"]) == {"a", "b"}, e.name
            assert event["reportsUri"] == f"s3://{bucket}/monitoring/{e.name}/reports/"
            function = functions[f"mlplatform-{stack}-drift-{e.name}"].inputs
            assert function["role"] == plan.outputs["roleArns"][f"model-monitor-{e.name}"]
            assert (function["runtime"], function["handler"]) == (facts.DRIFT_RUNTIME, "handler.handler")
            assert schedule.inputs["scheduleExpression"] == facts.DRIFT_JOB_SCHEDULES[e.monitor.schedule][0]


@pytest.mark.parametrize("stack", STACKS)
def test_the_data_quality_requests_are_valid_for_the_glue_api(stack):
    """Each schedule's input is a StartDataQualityRulesetEvaluationRun request botocore's own
    validator accepts, naming the dataset's table, ruleset and Glue role."""
    from botocore.validate import ParamValidator

    plan = stack_plan(stack)
    shape = get_session().get_service_model("glue").operation_model("StartDataQualityRulesetEvaluationRun").input_shape
    tables = {(t.inputs["databaseName"], t.inputs["name"]) for t in plan.of_type("aws:glue/catalogTable:CatalogTable")}
    rulesets = {r.inputs["name"] for r in plan.of_type("aws:glue/dataQualityRuleset:DataQualityRuleset")}
    glue = [s for s in plan.of_type("aws:scheduler/schedule:Schedule") if ":aws-sdk:glue:" in s.inputs["target"]["arn"]]
    assert len(glue) == sum(1 for d in plan.outputs["dataQualitySchedules"])
    for schedule in glue:
        target = schedule.inputs["target"]
        assert target["arn"] == "arn:aws:scheduler:::aws-sdk:glue:startDataQualityRulesetEvaluationRun"
        request = json.loads(target["input"])
        report = ParamValidator().validate(request, shape)
        assert not report.has_errors(), report.generate_report()
        table = request["DataSource"]["GlueTable"]
        assert (table["DatabaseName"], table["TableName"]) in tables
        (ruleset,) = request["RulesetNames"]
        assert ruleset in rulesets
        dataset = table["TableName"]
        assert request["Role"] == plan.outputs["roleArns"]["data-quality-" + dataset.replace("_", "-")]
        assert request["AdditionalRunOptions"]["CloudWatchMetricsEnabled"] is True
        assert request["AdditionalRunOptions"]["ResultsS3Prefix"] == (
            f"s3://{plan.outputs['buckets']['artifacts']}/data-quality/{dataset}/"
        )


def test_a_changed_endpoint_gets_new_names_and_an_unchanged_one_keeps_them():
    """Models and configurations are immutable and named by their content: a change comes under a new
    name beside the old one; what did not change keeps its name (tests/invariants/test_replacements.py
    runs the whole update)."""
    from pipelines.offline import plan_stack, read_stack_config

    base = stack_plan("dev")
    serving = json.loads(read_stack_config("dev").values["mlplatform:serving"])
    first = serving["endpoints"][0]

    def with_first(**changes):
        changed = {**first, **changes}
        return plan_stack(
            "dev", overrides={"mlplatform:serving": {**serving, "endpoints": [changed, *serving["endpoints"][1:]]}}
        )

    _, old_config, _, old_model = _served(base, first["name"])
    endpoint, new_config, _, new_model = _served(with_first(instanceType="ml.c5.xlarge"), first["name"])
    assert new_model.inputs["name"] == old_model.inputs["name"]  # same package, role, network
    assert new_config.inputs["name"] != old_config.inputs["name"]  # another instance type
    assert endpoint.inputs["endpointConfigName"] == new_config.inputs["name"]
    # the most instances are where a rollout starts: another configuration; the fewest are
    # autoscaling's alone: nothing redeploys
    more = with_first(maxInstances=first.get("maxInstances", 2) + 1)
    assert _served(more, first["name"])[1].inputs["name"] != old_config.inputs["name"]
    fewer = with_first(minInstances=first.get("maxInstances", 2))
    assert _served(fewer, first["name"])[1].inputs["name"] == old_config.inputs["name"]


def test_a_rollout_starts_the_new_fleet_no_smaller_than_the_old_one_may_run(any_plan):
    """botocore: UpdateEndpoint uses the new configuration's variant properties unless
    RetainAllVariantProperties, "The default is false"; pulumi_aws's Endpoint cannot set it. So the
    configuration's initial count is what a rollout starts with: at least the scalable target's
    maximum, the size the old fleet may have reached at peak."""
    import inspect

    import pulumi_aws

    doc = get_session().get_service_model("sagemaker").shape_for("UpdateEndpointInput").members
    assert "The default is <code>false</code>" in doc["RetainAllVariantProperties"].documentation
    assert "retain_all_variant_properties" not in inspect.signature(pulumi_aws.sagemaker.EndpointArgs).parameters
    configs = {
        c.inputs["name"]: c for c in any_plan.of_type("aws:sagemaker/endpointConfiguration:EndpointConfiguration")
    }
    targets = any_plan.of_type("aws:appautoscaling/target:Target")
    for endpoint in any_plan.of_type("aws:sagemaker/endpoint:Endpoint"):
        config = configs[endpoint.inputs["endpointConfigName"]]
        for variant in config.inputs["productionVariants"]:
            rid = facts.scalable_resource_id(endpoint.inputs["name"], variant["variantName"])
            (target,) = [t for t in targets if t.inputs["resourceId"] == rid]
            assert variant["initialInstanceCount"] >= target.inputs["maxCapacity"], rid


def test_schedule_and_monitoring_values_are_within_the_apis_bounds(any_plan):
    """The bounds come from the botocore service models, not from foundation/upstream/serving.py."""
    session = get_session()
    scheduler, sm = session.get_service_model("scheduler"), session.get_service_model("sagemaker")
    retry, window = scheduler.shape_for("RetryPolicy").members, scheduler.shape_for("FlexibleTimeWindow").members
    for schedule in any_plan.of_type("aws:scheduler/schedule:Schedule"):
        r = schedule.inputs["target"]["retryPolicy"]
        age, attempts = retry["MaximumEventAgeInSeconds"].metadata, retry["MaximumRetryAttempts"].metadata
        assert age["min"] <= r["maximumEventAgeInSeconds"] <= age["max"]
        assert attempts["min"] <= r["maximumRetryAttempts"] <= attempts["max"]
        w = schedule.inputs["flexibleTimeWindow"]
        assert w["mode"] in window["Mode"].enum
        bounds = window["MaximumWindowInMinutes"].metadata
        if w["mode"] == "FLEXIBLE":
            assert bounds["min"] <= w["maximumWindowInMinutes"] <= bounds["max"]
        else:
            assert "maximumWindowInMinutes" not in w
    runtime = sm.shape_for("MonitoringStoppingCondition").members["MaxRuntimeInSeconds"]
    schedules = {
        s.inputs["monitoringScheduleConfig"]["monitoringJobDefinitionName"]: s.inputs
        for s in any_plan.of_type("aws:sagemaker/monitoringSchedule:MonitoringSchedule")
    }
    for job in any_plan.of_type("aws:sagemaker/dataQualityJobDefinition:DataQualityJobDefinition"):
        seconds = job.inputs["stoppingCondition"]["maxRuntimeInSeconds"]
        assert runtime.metadata["min"] <= seconds <= 3600  # "up to 3600 seconds for an hourly schedule"
        assert "3600 seconds for an hourly schedule" in runtime.documentation
        assert job.inputs["name"] in schedules


@pytest.mark.parametrize("stack", STACKS)
def test_a_drift_job_that_fails_pages_instead_of_leaving_its_alarms_waiting(stack):
    """A run without its baseline raises (a function error, retried by Lambda and counted in
    AWS/Lambda Errors): each drift job's function has an alarm on that count, sent to the alert topic."""
    import boto3
    from botocore.exceptions import ClientError
    from moto import mock_aws

    from functions.drift.handler import measure

    plan = stack_plan(stack)
    topic = plan.outputs["alertTopicArn"]
    functions = {f.inputs["name"] for f in plan.of_type("aws:lambda/function:Function")}
    assert functions
    watched = {
        a.inputs["dimensions"]["FunctionName"]: a.inputs
        for a in plan.of_type(ALARM)
        if (a.inputs["namespace"], a.inputs["metricName"]) == ("AWS/Lambda", "Errors")
    }
    assert set(watched) == functions
    for alarm in watched.values():
        assert (alarm["comparisonOperator"], alarm["threshold"], alarm["statistic"]) == (
            "GreaterThanThreshold",
            0,
            "Sum",
        )
        assert alarm["treatMissingData"] == "notBreaching" and topic in alarm["alarmActions"]
    with mock_aws():
        s3 = boto3.client("s3", region_name="eu-west-1")
        s3.create_bucket(Bucket="drift-bucket", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
        event = {
            "baselineUri": "s3://drift-bucket/none/baseline.json",
            "captureUri": "s3://drift-bucket/c/",
            "window": "hourly",
        }
        with pytest.raises(ClientError):
            measure({**event, "endpointName": "e", "variant": "v"}, s3, dt.datetime(2026, 3, 1, tzinfo=dt.UTC))


def test_two_alarms_of_one_name_are_refused_before_anything_is_planned():
    """Endpoint and feature names are joined by hyphens: endpoint `a` with feature `b_c` and endpoint
    `a-b` with feature `c` would both name drift-a-b-c. Refused with both sources, nothing registered;
    the same endpoints with features apart plan."""
    import pulumi

    stack = STACKS[0]
    s = settings_of(stack)
    family = s.registry.model_families[0] if s.registry.model_families else next(iter(s.serving.model_versions))
    monitor = {"baselinePrefix": "baselines/x/"}
    endpoint = {"modelFamily": family, "instanceType": "ml.m5.large", "dataCapturePercent": 10, "monitor": monitor}
    changes = {
        "serving.modelVersions": {family: 1},
        "serving.endpoints": [{**endpoint, "name": "a"}, {**endpoint, "name": "a-b"}],
        "monitoring.drift": [{"modelFamily": family, "features": ["b_c", "c"], "threshold": 0.2}],
    }
    with pytest.raises(pulumi.RunError) as caught:
        variant_plan(stack, changes)
    message = str(caught.value)
    assert f"two alarms would be named 'mlplatform-{s.environment}-drift-a-b-c'" in message
    assert "rename an endpoint or a monitoring.drift feature" in message
    changes["monitoring.drift"] = [{"modelFamily": family, "features": ["b_d", "c"], "threshold": 0.2}]
    assert variant_plan(stack, changes).of_type("aws:cloudwatch/metricAlarm:MetricAlarm")
