"""Model serving: approved model package versions on SageMaker real-time endpoints.

A served version is a model package of the *registry stack* (``serving.registryStack``): the
multi-account MLOps layout, where one account's registry (dev's in the examples) holds the versions
and the other accounts deploy them through the model package group's resource policy, the
artifacts bucket's policy and the models key's policy (components/model_registry.py,
storage.consumer_reads, encryption.key_policy). So ``serving.modelVersions`` means the same package in
every stack, and promotion moves a version number from dev to staging to prod.

Per endpoint: a SageMaker model from the package (in the VPC, network-isolated unless opted out), an
endpoint configuration (storage volume encrypted with the models key, requests and responses
captured under ``capture/<endpoint>/`` of the artifacts bucket) and an endpoint updated blue/green:
a canary share first when there are at least two instances, all at once otherwise, a bake period,
and an automatic rollback when the endpoint's error or latency alarm fires (the monitoring component
owns the alarms, ``rollback_alarm_keys``). Application Auto Scaling tracks invocations per instance.
With ``monitor``, a Model Monitor data-quality schedule compares the captured traffic with a
baseline and publishes the drift metrics the drift alarms watch.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial

import pulumi

from foundation.conventions import name_part, named_by_content, physical_name, stateful_options
from foundation.iam.actions import LOG_ACTIONS, VPC_ACTIONS
from foundation.iam.documents import Statement
from foundation.iam.scope import Scope
from foundation.upstream import serving as facts

VARIANT = "primary"  # guardrails need the same variant name in the old and new configuration
CAPTURE_PREFIX = "capture/{endpoint}/"
REPORTS_PREFIX = "monitoring/{endpoint}/reports/"
DRIFT_BASELINE = "baseline.json"  # under monitor.baselinePrefix: `mlplatform baseline` writes it
WINDOW = {"hourly": "hour", "daily": "day"}


@dataclass(frozen=True)
class RegistrySource(Scope):
    """The registry a stack serves from (its environment's Scope), by the names the platform gives
    its resources."""

    def package_arn(self, family: str, version: int | str) -> str:
        return self.regional("sagemaker", f"model-package/{physical_name(self.environment, family)}/{version}")

    @property
    def artifacts_bucket(self) -> str:
        return physical_name(self.environment, "artifacts", self.account_id, self.region)

    @property
    def inference_repository(self) -> str:
        return self.regional("ecr", f"repository/mlplatform-{self.environment}/inference")

    # --- grants: what a serving role needs of the registry (access matrix resource "served-models")

    def grant_read(self, prefix: str = "") -> list[Statement]:
        """Read the model artifacts under ``prefix`` (models/<family>/) of the registry's artifacts
        bucket, decrypting through S3 with a key of the registry's account used for that bucket."""
        bucket = f"arn:{self.partition}:s3:::{self.artifacts_bucket}"
        return [
            Statement(sid="ReadServedModelArtifacts", actions=["s3:GetObject"], resources=[f"{bucket}/{prefix}*"]),
            Statement(
                sid="DecryptServedModelArtifacts",
                actions=["kms:Decrypt"],
                resources=[self.keys],
                conditions={
                    "StringEquals": {"kms:ViaService": f"s3.{self.region}.amazonaws.com"},
                    # S3's encryption context is the bucket's (or object's) ARN (S3 guide, UsingKMSEncryption).
                    "StringLike": {"kms:EncryptionContext:aws:s3:arn": f"{bucket}*"},
                },
            ),
        ]

    def grant_pull(self, _scope: str = "") -> list[Statement]:
        """Pull the registry's inference images."""
        return [
            Statement(sid="EcrLogin", actions=["ecr:GetAuthorizationToken"], resources=["*"]),
            Statement(
                sid="PullServedImages",
                actions=["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"],
                resources=[self.inference_repository],
            ),
        ]


@dataclass(frozen=True)
class EndpointGrants(Scope):
    """What an endpoint's execution role and its monitor's role need beyond data (access matrix
    resource "endpoints"): network interfaces in the stack's region, their own log groups, the
    rollback alarms, and (monitor) the drift metrics' namespace."""

    # The endpoints whose drift Model Monitor measures (opted in); the others', the drift job.
    model_monitors: frozenset[str] = frozenset()

    def _vpc(self) -> Statement:
        return Statement(
            sid="NetworkInterfacesInTheVpc", actions=list(VPC_ACTIONS), resources=["*"], conditions=self.in_region
        )

    def grant_run(self, endpoint: str) -> list[Statement]:
        name = endpoint_name(self.environment, endpoint)
        return [
            self._vpc(),
            Statement(
                sid="EndpointLogs",
                actions=list(LOG_ACTIONS),
                resources=[self.regional("logs", f"log-group:/aws/sagemaker/Endpoints/{name}*")],
            ),
            # Guardrails: "your IAM execution role has permission to perform cloudwatch:DescribeAlarms
            # on the auto-rollback alarms" (deployment-guardrails-configuration).
            Statement(
                sid="ReadRollbackAlarms",
                actions=["cloudwatch:DescribeAlarms"],
                resources=[
                    self.regional(
                        "cloudwatch", f"alarm:{physical_name(self.environment, k, max_length=ALARM_NAME_MAX)}"
                    )
                    for k in rollback_alarm_keys(endpoint)
                ],
            ),
        ]

    def grant_monitor(self, endpoint: str) -> list[Statement]:
        if endpoint not in self.model_monitors:
            # The drift job (a Lambda function outside the VPC): its log group and its namespace.
            group = facts.LAMBDA_LOG_GROUP.format(function=drift_function_name(self.environment, endpoint))
            return [
                Statement(
                    sid="DriftJobLogs",
                    actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                    resources=[self.regional("logs", f"log-group:{group}:*")],
                ),
                Statement(
                    sid="PublishDriftMetrics",
                    actions=["cloudwatch:PutMetricData"],
                    resources=["*"],
                    conditions={"StringEquals": {"cloudwatch:namespace": facts.DRIFT_JOB_NAMESPACE}},
                ),
            ]
        return [
            self._vpc(),
            Statement(
                sid="MonitoringJobLogs",
                actions=list(LOG_ACTIONS),
                resources=[self.regional("logs", "log-group:/aws/sagemaker/ProcessingJobs*")],
            ),
            Statement(
                sid="PublishDriftMetrics",
                actions=["cloudwatch:PutMetricData"],
                resources=["*"],
                conditions={"StringEquals": {"cloudwatch:namespace": facts.DRIFT_NAMESPACE}},
            ),
        ]


@dataclass(frozen=True)
class MonitorSpec:
    baseline_prefix: str  # in the stack's artifacts bucket: baseline.json (or Model Monitor's two files)
    schedule: str = "hourly"
    instance_type: str = "ml.m5.xlarge"  # Model Monitor's processing instance
    # Named opt-in: SageMaker Model Monitor instead of the platform's drift job (functions/drift).
    model_monitor: bool = False


@dataclass(frozen=True)
class EndpointSpec:
    name: str
    family: str
    version: int
    instance_type: str
    min_instances: int = 1
    max_instances: int = 2
    target_invocations_per_instance: int = 100
    capture_percent: int = 100
    canary_percent: int = 10
    bake_minutes: int = 10
    max_latency_ms: int = 1000
    network_isolation: bool = True
    monitor: MonitorSpec | None = None

    def __post_init__(self) -> None:
        if not facts.MIN_VARIANT_INSTANCES <= self.min_instances <= self.max_instances:
            raise ValueError(f"endpoint {self.name}: need 1 <= min_instances <= max_instances")
        if self.monitor and not self.capture_percent:
            raise ValueError(f"endpoint {self.name}: a monitor needs data capture")

    @property
    def starting_instances(self) -> int:
        """The new fleet's size in a rollout: SageMaker starts it at the configuration's
        InitialInstanceCount, not at the size autoscaling had reached, and autoscaling is blocked while
        the update runs; so the maximum, never fewer than the old fleet serves at peak. Autoscaling
        scales it in after the rollout."""
        return self.min_instances if facts.UPDATE_RETAINS_INSTANCE_COUNT else self.max_instances

    @property
    def traffic(self) -> tuple[str, int | None]:
        """(routing type, canary percent). A canary may be at most half the new fleet (CanarySize), so
        a one-instance fleet shifts all at once, still baking and rolling back on the alarms."""
        if self.starting_instances >= 2 and self.canary_percent / 100 <= facts.CANARY_MAX_SHARE:
            return "CANARY", self.canary_percent
        return "ALL_AT_ONCE", None


ALARM_NAME_MAX = 255  # PutMetricAlarm AlarmName (botocore cloudwatch), as the monitoring component names them


def scaling_marker_name(environment: str, endpoint: str) -> str:
    return f"/{physical_name(environment, 'serving', endpoint)}/scaled-instance-type"


def endpoint_name(environment: str, endpoint: str) -> str:
    return physical_name(environment, endpoint)


def monitoring_schedule_name(environment: str, endpoint: str) -> str:
    return physical_name(environment, endpoint, "data-quality")


def drift_function_name(environment: str, endpoint: str) -> str:
    return physical_name(environment, "drift", endpoint)


def rollback_alarm_keys(endpoint: str) -> tuple[str, str]:
    """The monitoring component's keys (alarm names are mlplatform-<env>-<key>) of the two alarms."""
    return f"endpoint-{endpoint}-errors", f"endpoint-{endpoint}-latency"


def rollback_alarm_specs(environment: str, e: EndpointSpec) -> list[dict]:
    """The alarms a deployment rolls back on: any 5XX error of the model, or p99 latency above the
    endpoint's limit, over one minute. Out of a deployment they page like any other alarm."""
    dims = dict(zip(facts.ENDPOINT_DIMENSIONS, (endpoint_name(environment, e.name), VARIANT), strict=True))
    errors, latency = rollback_alarm_keys(e.name)
    common = dict(namespace=facts.ENDPOINT_NAMESPACE, dimensions=dims, period=60, comparison="GreaterThanThreshold")
    return [
        dict(
            key=errors,
            description=f"Endpoint {e.name} answers with 5XX errors (rolls a deployment back)",
            metric=facts.ERRORS_METRIC,
            statistic="Sum",
            evaluation_periods=2,
            threshold=0,
            missing="notBreaching",  # no requests, no errors
            **common,
        ),
        dict(
            key=latency,
            description=f"Endpoint {e.name}: p99 model latency above {e.max_latency_ms} ms (rolls a deployment back)",
            metric=facts.LATENCY_METRIC,
            statistic="p99",
            evaluation_periods=3,
            threshold=e.max_latency_ms * facts.LATENCY_UNIT_PER_MS,  # the metric is in microseconds
            missing="notBreaching",
            **common,
        ),
    ]


def drift_job_alarm_specs(environment: str, e: EndpointSpec) -> list[dict]:
    """A failed run of the endpoint's drift job (no baseline, an unreadable capture file): it publishes
    no drift value, so without this its drift alarms would wait on missing data and never say why."""
    if not e.monitor or e.monitor.model_monitor:
        return []
    from components.monitoring import any_in_five_minutes

    function = drift_function_name(environment, e.name)
    return [
        any_in_five_minutes(
            f"drift-job-{e.name}",
            f"the drift job of {e.name} failed: {facts.LAMBDA_LOG_GROUP.format(function=function)}",
            facts.LAMBDA_NAMESPACE,
            facts.LAMBDA_ERRORS_METRIC,
            {facts.LAMBDA_DIMENSION: function},
        )
    ]


def drift_alarm_specs(
    environment: str, e: EndpointSpec, features: Sequence[str], threshold: float, periods: int
) -> list[dict]:
    """Drift alarms on what the endpoint's drift measurement publishes per feature: the drift job's
    PSI (functions/drift), or Model Monitor's distance when opted in. Until the first run reports
    there is no data, and a window without traffic publishes none: the alarm stays INSUFFICIENT_DATA
    instead of paging."""
    if not e.monitor:
        return []
    ep = endpoint_name(environment, e.name)
    if e.monitor.model_monitor:
        _, period = facts.MONITOR_SCHEDULES[e.monitor.schedule]
        schedule = monitoring_schedule_name(environment, e.name)
        namespace = facts.DRIFT_NAMESPACE

        def metric(feature: str) -> tuple[str, dict]:
            return facts.DRIFT_METRIC.format(feature=feature), dict(
                zip(facts.DRIFT_DIMENSIONS, (ep, schedule), strict=True)
            )
    else:
        _, period = facts.DRIFT_JOB_SCHEDULES[e.monitor.schedule]
        namespace = facts.DRIFT_JOB_NAMESPACE

        def metric(feature: str) -> tuple[str, dict]:
            return facts.DRIFT_JOB_METRIC, dict(zip(facts.DRIFT_JOB_DIMENSIONS, (ep, feature), strict=True))

    return [
        dict(
            key=f"drift-{e.name}-{name_part(feature, 100)}",  # any feature a baseline can name
            description=f"{e.family} on {e.name}: {feature} drifted from the baseline (distance above {threshold})",
            namespace=namespace,
            metric=metric(feature)[0],
            dimensions=metric(feature)[1],
            statistic="Maximum",
            period=period,
            evaluation_periods=periods,
            threshold=threshold,
            comparison="GreaterThanThreshold",
            missing="missing",
        )
        for feature in features
    ]


@dataclass(frozen=True)
class ServingArgs:
    environment: str
    account_id: str
    region: str
    registry: RegistrySource
    endpoints: Sequence[EndpointSpec]
    models_key_arn: pulumi.Input[str]
    artifacts_bucket: str  # this stack's: capture, baselines and monitoring reports
    vpc_id: pulumi.Input[str]
    subnet_ids: Sequence[pulumi.Input[str]]
    # endpoint -> its execution role ARN, and its monitor's (components/identity.py, access matrix)
    role_arns: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    monitor_role_arns: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    # The drift job's log groups (encrypted, kept as long as the stack's logs) and its schedules'
    # role (the scheduler boundary).
    logs_key_arn: pulumi.Input[str] | None = None
    log_retention_days: int = 365
    scheduler_boundary_arn: pulumi.Input[str] | None = None
    protect: bool = True

    def __post_init__(self) -> None:
        missing = [e.name for e in self.endpoints if e.name not in self.role_arns]
        missing += [f"{e.name} (monitor)" for e in self.endpoints if e.monitor and e.name not in self.monitor_role_arns]
        if missing:
            raise ValueError(f"endpoints without a role: {', '.join(missing)}")


class Serving(pulumi.ComponentResource):
    def __init__(self, name: str, args: ServingArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("mlplatform:serving:Serving", name, None, opts)
        import pulumi_aws as aws

        sm = aws.sagemaker
        child = pulumi.ResourceOptions(parent=self)
        env = args.environment
        self.endpoint_names: dict[str, str] = {}
        self.endpoints: dict[str, pulumi.Resource] = {}
        if not args.endpoints:
            self.register_outputs({})
            return
        # No inbound rule: SageMaker reaches the containers itself. Out: HTTPS (S3, ECR, STS through
        # the NAT gateway or the VPC endpoints) and DNS inside the VPC.
        self.security_group = aws.ec2.SecurityGroup(
            f"{name}-endpoints",
            aws.ec2.SecurityGroupArgs(
                vpc_id=args.vpc_id,
                name=physical_name(env, "serving"),
                description="SageMaker endpoints and monitoring jobs: HTTPS out only",
                egress=[
                    aws.ec2.SecurityGroupEgressArgs(
                        protocol="tcp", from_port=443, to_port=443, cidr_blocks=["0.0.0.0/0"], description="HTTPS"
                    )
                ],
                tags={"Name": physical_name(env, "serving")},
            ),
            opts=child,
        )
        vpc = dict(security_group_ids=[self.security_group.id], subnets=list(args.subnet_ids))
        # The Terraform bridge replaces a resource the program names delete-before-replace (pulumi-
        # terraform-bridge, nameRequiresDeleteBeforeReplace): the endpoint would lose the model and
        # configuration it serves, and could roll back to, before moving. Named by their content,
        # the new ones go beside the old, which go once the endpoint has moved.
        beside = pulumi.ResourceOptions(parent=self, delete_before_replace=False)
        for e in args.endpoints:
            ep_name = endpoint_name(env, e.name)
            self.endpoint_names[e.name] = ep_name
            # Models and configurations are immutable: any change is a new one, under a new name (the
            # version and a digest of all its inputs), created before the old one is deleted, and the
            # endpoint moves to it blue/green. A change of minInstances alone changes neither.
            package = args.registry.package_arn(e.family, e.version)
            model_args = sm.ModelArgs(
                execution_role_arn=args.role_arns[e.name],
                primary_container=sm.ModelPrimaryContainerArgs(model_package_name=package),
                vpc_config=sm.ModelVpcConfigArgs(**vpc),
                enable_network_isolation=e.network_isolation,
            )
            model_args.name = named_by_content(partial(physical_name, env, e.name, f"v{e.version}"), model_args)
            model = sm.Model(f"{name}-{e.name}", model_args, opts=beside)
            capture = None
            if e.capture_percent:
                capture = sm.EndpointConfigurationDataCaptureConfigArgs(
                    enable_capture=True,
                    initial_sampling_percentage=e.capture_percent,
                    destination_s3_uri=f"s3://{args.artifacts_bucket}/{CAPTURE_PREFIX.format(endpoint=e.name)}",
                    kms_key_id=args.models_key_arn,
                    capture_options=[
                        sm.EndpointConfigurationDataCaptureConfigCaptureOptionArgs(capture_mode=m)
                        for m in facts.CAPTURE_MODES
                    ],
                )
            config_args = sm.EndpointConfigurationArgs(
                kms_key_arn=args.models_key_arn,
                production_variants=[
                    sm.EndpointConfigurationProductionVariantArgs(
                        variant_name=VARIANT,
                        model_name=model.name,
                        instance_type=e.instance_type,
                        initial_instance_count=e.starting_instances,
                    )
                ],
                data_capture_config=capture,
            )
            config_args.name = named_by_content(partial(physical_name, env, e.name, f"v{e.version}"), config_args)
            config = sm.EndpointConfiguration(f"{name}-{e.name}", config_args, opts=beside)
            # SageMaker refuses to change the instance type of a variant registered with autoscaling.
            # This record of the type it was registered for is replaced, delete-before-replace, when
            # the type changes: Pulumi first deletes what depends on it through an input (the scaling
            # policy and target), the endpoint (which waits for it) then updates, and the target and
            # policy are registered again after it (pulumi v3.259.0, step_generator.go,
            # calculateDependentReplacements).
            marker = aws.ssm.Parameter(
                f"{name}-{e.name}-scaling",
                aws.ssm.ParameterArgs(
                    name=scaling_marker_name(env, e.name),
                    type="String",
                    insecure_value=e.instance_type,  # not a secret (`value` is one)
                    description=f"Instance type {ep_name} was registered with autoscaling for",
                ),
                opts=pulumi.ResourceOptions(
                    parent=self, replace_on_changes=["insecureValue"], delete_before_replace=True
                ),
            )
            routing, canary = e.traffic
            wait = e.bake_minutes * 60
            termination = 300  # keep the old fleet five minutes after the shift, for a fast rollback
            endpoint = sm.Endpoint(
                f"{name}-{e.name}",
                sm.EndpointArgs(
                    name=ep_name,
                    endpoint_config_name=config.name,
                    deployment_config=sm.EndpointDeploymentConfigArgs(
                        blue_green_update_policy=sm.EndpointDeploymentConfigBlueGreenUpdatePolicyArgs(
                            traffic_routing_configuration=sm.EndpointDeploymentConfigBlueGreenUpdatePolicyTrafficRoutingConfigurationArgs(
                                type=routing,
                                wait_interval_in_seconds=wait,
                                canary_size=sm.EndpointDeploymentConfigBlueGreenUpdatePolicyTrafficRoutingConfigurationCanarySizeArgs(
                                    type="CAPACITY_PERCENT", value=canary
                                )
                                if canary
                                else None,
                            ),
                            termination_wait_in_seconds=termination,
                            # Must exceed the waits (MaximumExecutionTimeoutInSeconds 600-28800).
                            maximum_execution_timeout_in_seconds=min(28800, max(1800, 2 * wait + termination + 1800)),
                        ),
                        auto_rollback_configuration=sm.EndpointDeploymentConfigAutoRollbackConfigurationArgs(
                            alarms=[
                                sm.EndpointDeploymentConfigAutoRollbackConfigurationAlarmArgs(
                                    alarm_name=physical_name(env, key, max_length=ALARM_NAME_MAX)
                                )
                                for key in rollback_alarm_keys(e.name)
                            ]
                        ),
                    ),
                ),
                opts=pulumi.ResourceOptions(parent=self, depends_on=[marker]),
            )
            self.endpoints[e.name] = endpoint
            target = aws.appautoscaling.Target(
                f"{name}-{e.name}",
                aws.appautoscaling.TargetArgs(
                    service_namespace=facts.SCALING_NAMESPACE,
                    # an input of the marker too: replaced (deregistered first) when the type changes
                    resource_id=pulumi.Output.all(endpoint.name, marker.name).apply(
                        lambda names: facts.scalable_resource_id(names[0], VARIANT)
                    ),
                    scalable_dimension=facts.SCALABLE_DIMENSION,
                    min_capacity=e.min_instances,
                    max_capacity=e.max_instances,
                ),
                opts=child,
            )
            aws.appautoscaling.Policy(
                f"{name}-{e.name}",
                aws.appautoscaling.PolicyArgs(
                    name=physical_name(env, e.name, "invocations"),
                    policy_type="TargetTrackingScaling",
                    service_namespace=target.service_namespace,
                    resource_id=target.resource_id,
                    scalable_dimension=target.scalable_dimension,
                    target_tracking_scaling_policy_configuration=aws.appautoscaling.PolicyTargetTrackingScalingPolicyConfigurationArgs(
                        target_value=e.target_invocations_per_instance,
                        predefined_metric_specification=aws.appautoscaling.PolicyTargetTrackingScalingPolicyConfigurationPredefinedMetricSpecificationArgs(
                            predefined_metric_type=facts.SCALING_METRIC
                        ),
                        scale_in_cooldown=300,
                        scale_out_cooldown=60,
                    ),
                ),
                opts=child,
            )
            if e.monitor and e.monitor.model_monitor:
                self._monitor(name, args, e, endpoint, vpc)
        measured = [e for e in args.endpoints if e.monitor and not e.monitor.model_monitor]
        if measured:
            self._drift_jobs(name, args, measured)
        self.register_outputs({"endpoints": self.endpoint_names})

    def _drift_jobs(self, name: str, args: ServingArgs, measured: Sequence[EndpointSpec]) -> None:
        """Per endpoint, the drift job (functions/drift, a Lambda function run as the endpoint's
        monitor role) and its log group; one schedule group starts them (components/scheduling.py),
        15 minutes after each window, when the capture files of its last hour have arrived."""
        import json
        from pathlib import Path

        import pulumi_aws as aws

        from components.scheduling import Scheduling, SchedulingArgs

        env, p = args.environment, self._partition(args)
        code = Path(__file__).resolve().parents[1] / "functions" / "drift"
        archive = pulumi.AssetArchive({f: pulumi.FileAsset(str(code / f)) for f in ("handler.py", "drift.py")})
        functions = {}
        for e in measured:
            function = drift_function_name(env, e.name)
            group = aws.cloudwatch.LogGroup(
                f"{name}-{e.name}-drift",
                aws.cloudwatch.LogGroupArgs(
                    name=facts.LAMBDA_LOG_GROUP.format(function=function),
                    kms_key_id=args.logs_key_arn,
                    retention_in_days=args.log_retention_days,
                ),
                opts=stateful_options(self, args.protect),
            )
            functions[e.name] = aws.lambda_.Function(
                f"{name}-{e.name}-drift",
                aws.lambda_.FunctionArgs(
                    name=function,
                    description=f"Drift of {e.name}'s inputs against its baseline (PSI per feature)",
                    role=args.monitor_role_arns[e.name],
                    runtime=facts.DRIFT_RUNTIME,
                    handler="handler.handler",
                    code=archive,
                    timeout=facts.DRIFT_TIMEOUT_S,
                    memory_size=facts.DRIFT_MEMORY_MB,
                    logging_config=aws.lambda_.FunctionLoggingConfigArgs(log_format="Text", log_group=group.name),
                ),
                opts=pulumi.ResourceOptions(parent=self, depends_on=[group]),
            )
        arns = [
            f"arn:{p}:lambda:{args.region}:{args.account_id}:function:{drift_function_name(env, e.name)}"
            for e in measured
        ]
        scheduling = Scheduling(
            f"{name}-drift",
            self,
            SchedulingArgs(
                environment=env,
                account_id=args.account_id,
                region=args.region,
                group="drift",
                key_arn=args.models_key_arn,
                boundary_arn=args.scheduler_boundary_arn,
                description="EventBridge Scheduler: start the endpoints' drift jobs",
                statements=[Statement(sid="StartDriftJobs", actions=["lambda:InvokeFunction"], resources=arns)],
            ),
        )
        bucket = f"s3://{args.artifacts_bucket}"
        for e in measured:
            assert e.monitor is not None
            expression, _ = facts.DRIFT_JOB_SCHEDULES[e.monitor.schedule]
            event = {
                "endpointName": endpoint_name(env, e.name),
                "variant": VARIANT,
                "captureUri": f"{bucket}/{CAPTURE_PREFIX.format(endpoint=e.name)}",
                "baselineUri": f"{bucket}/{e.monitor.baseline_prefix}{DRIFT_BASELINE}",
                "reportsUri": f"{bucket}/{REPORTS_PREFIX.format(endpoint=e.name)}",
                "namespace": facts.DRIFT_JOB_NAMESPACE,
                "window": e.monitor.schedule,
            }
            scheduling.schedule(
                f"{name}-{e.name}-drift",
                name=e.name,
                expression=expression,
                target_arn=functions[e.name].arn,
                payload=json.dumps(event, sort_keys=True),
                description=f"Measure the drift of {e.name}'s inputs over the last {WINDOW[e.monitor.schedule]}",
            )
        self.drift_scheduling = scheduling

    @staticmethod
    def _partition(args: ServingArgs) -> str:
        from foundation.conventions import partition_for

        return partition_for(args.region)

    def _monitor(self, name: str, args: ServingArgs, e: EndpointSpec, endpoint, vpc: dict) -> None:
        import pulumi_aws as aws

        sm = aws.sagemaker
        child = pulumi.ResourceOptions(parent=self)
        env = args.environment
        bucket = f"s3://{args.artifacts_bucket}"
        m = e.monitor
        assert m is not None
        job_args = sm.DataQualityJobDefinitionArgs(
            role_arn=args.monitor_role_arns[e.name],
            data_quality_app_specification=sm.DataQualityJobDefinitionDataQualityAppSpecificationArgs(
                image_uri=facts.monitor_image(args.region),
                environment=dict(facts.MONITOR_METRICS_ENVIRONMENT),
            ),
            data_quality_baseline_config=sm.DataQualityJobDefinitionDataQualityBaselineConfigArgs(
                constraints_resource=sm.DataQualityJobDefinitionDataQualityBaselineConfigConstraintsResourceArgs(
                    s3_uri=f"{bucket}/{m.baseline_prefix}constraints.json"
                ),
                statistics_resource=sm.DataQualityJobDefinitionDataQualityBaselineConfigStatisticsResourceArgs(
                    s3_uri=f"{bucket}/{m.baseline_prefix}statistics.json"
                ),
            ),
            data_quality_job_input=sm.DataQualityJobDefinitionDataQualityJobInputArgs(
                endpoint_input=sm.DataQualityJobDefinitionDataQualityJobInputEndpointInputArgs(
                    endpoint_name=endpoint.name, local_path="/opt/ml/processing/input"
                )
            ),
            data_quality_job_output_config=sm.DataQualityJobDefinitionDataQualityJobOutputConfigArgs(
                kms_key_id=args.models_key_arn,
                monitoring_outputs=sm.DataQualityJobDefinitionDataQualityJobOutputConfigMonitoringOutputsArgs(
                    s3_output=sm.DataQualityJobDefinitionDataQualityJobOutputConfigMonitoringOutputsS3OutputArgs(
                        s3_uri=f"{bucket}/{REPORTS_PREFIX.format(endpoint=e.name)}",
                        local_path="/opt/ml/processing/output",
                    )
                ),
            ),
            job_resources=sm.DataQualityJobDefinitionJobResourcesArgs(
                cluster_config=sm.DataQualityJobDefinitionJobResourcesClusterConfigArgs(
                    instance_count=1,
                    instance_type=m.instance_type,
                    volume_size_in_gb=20,
                    volume_kms_key_id=args.models_key_arn,
                )
            ),
            network_config=sm.DataQualityJobDefinitionNetworkConfigArgs(
                enable_inter_container_traffic_encryption=True,
                vpc_config=sm.DataQualityJobDefinitionNetworkConfigVpcConfigArgs(
                    security_group_ids=vpc["security_group_ids"], subnets=vpc["subnets"]
                ),
            ),
            stopping_condition=sm.DataQualityJobDefinitionStoppingConditionArgs(
                max_runtime_in_seconds=facts.MONITOR_MAX_RUNTIME_S
            ),
        )
        # every input but the role forces a new definition: named by all of them, like the models
        job_args.name = named_by_content(partial(physical_name, env, e.name, "data-quality"), job_args)
        job = sm.DataQualityJobDefinition(
            f"{name}-{e.name}-monitor",
            job_args,
            # beside the old one, which the schedule uses until it moves (see the models)
            opts=pulumi.ResourceOptions(parent=self, delete_before_replace=False),
        )
        expression, _ = facts.MONITOR_SCHEDULES[m.schedule]
        sm.MonitoringSchedule(
            f"{name}-{e.name}-monitor",
            sm.MonitoringScheduleArgs(
                name=monitoring_schedule_name(env, e.name),
                monitoring_schedule_config=sm.MonitoringScheduleMonitoringScheduleConfigArgs(
                    monitoring_type="DataQuality",
                    monitoring_job_definition_name=job.name,
                    schedule_config=sm.MonitoringScheduleMonitoringScheduleConfigScheduleConfigArgs(
                        schedule_expression=expression
                    ),
                ),
            ),
            opts=child,
        )
