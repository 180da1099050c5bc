"""The composition root: builds the platform's components for one stack, in dependency order."""

from __future__ import annotations

from typing import Any

import pulumi

from components.audit import TRAIL_METRIC, Audit, AuditArgs
from components.ci_runner import CiRunner, CiRunnerArgs
from components.cluster_integration import INTERRUPTION_EVENTS, ClusterIntegration, ClusterIntegrationArgs, spot_needed
from components.data_quality import DataQuality, DataQualityArgs, DataQualityGrants, DatasetSpec
from components.encryption import Encryption, EncryptionArgs
from components.experiment_tracking import ExperimentTracking, ExperimentTrackingArgs
from components.feature_store import FeatureGroupSpec, FeatureStore, FeatureStoreArgs
from components.identity import Boundaries, BoundariesArgs, Identity, IdentityArgs
from components.model_registry import ModelRegistry, ModelRegistryArgs
from components.monitoring import Monitoring, MonitoringArgs
from components.network import Network, NetworkArgs
from components.serving import (
    EndpointGrants,
    EndpointSpec,
    MonitorSpec,
    RegistrySource,
    Serving,
    ServingArgs,
    drift_alarm_specs,
    drift_job_alarm_specs,
    rollback_alarm_specs,
)
from components.storage import DataLake, DataLakeArgs, Lifecycle
from components.training_cluster import SystemNodes, TrainingCluster, TrainingClusterArgs
from foundation.conventions import aws_provider, physical_name, platform_tags
from foundation.iam.github import GitHubRepository
from foundation.upstream import serving as facts
from infra.access import family_role, role_grants
from infra.definitions import DatasetDefinition, load_datasets, load_feature_groups, registry_of
from infra.settings import Settings, deployed_commit


class Platform:
    """Every component of one stack, wired together. ``outputs`` are the stack outputs.

    The steps run in the order below; each says what it takes from the steps before it. Registration
    order is not only readability: a component can use only what exists, and the engine creates in
    the order of the dependencies the steps make explicit (``depends_on`` where an input alone would
    not say it)."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self._definitions()
        self._provider()
        self._keys()
        self._boundaries()
        self._data()
        self._models()
        self._identity()
        self._data_quality()
        self._network()
        self._cluster()
        self._monitoring()
        self._serving()
        self._cluster_integration()
        self._ci_runner()
        self._audit()
        self.outputs = self._outputs()

    # --- the steps ------------------------------------------------------------------------------

    def _definitions(self) -> None:
        """Feature groups, datasets, endpoints and the registry they serve from, validated before
        anything is registered (like the settings): a bad definition registers nothing."""
        s = self.settings
        stack = pulumi.get_stack()
        self.feature_groups = load_feature_groups(s.feature_store.feature_groups, stack=stack)
        self.datasets = load_datasets(s.data_quality.datasets, stack=stack)
        # The registry the endpoints serve from, checked against its own stack file (same region,
        # this account among its consumers, the families it has).
        self.registry_source = RegistrySource(*registry_of(pulumi.get_stack(), s)[:3])
        self.endpoint_specs = endpoint_specs(s)
        self._alarm_names_apart(stack)

    def _alarm_names_apart(self, stack: str) -> None:
        """Alarm names come from endpoint and feature names joined by hyphens, which both may contain
        (endpoint `fraud` with feature `detector-amount`, endpoint `fraud-detector` with `amount`): two
        alarms of one name are refused here, naming both sources, before anything is registered."""
        from infra.settings import SettingsError

        seen: dict[str, str] = {}
        problems = []
        for spec in self.serving_alarms():
            source = spec["description"]
            if spec["key"] in seen:
                name = physical_name(self.settings.environment, spec["key"], max_length=255)
                problems.append(
                    (
                        "mlplatform:serving.endpoints",
                        f"two alarms would be named {name!r} ({seen[spec['key']]}; {source}): rename an endpoint or "
                        "a monitoring.drift feature",
                    )
                )
            seen.setdefault(spec["key"], source)
        if problems:
            raise SettingsError(stack, problems)

    def _provider(self) -> None:
        """The stack's one AWS provider (this account only, the platform's default tags): every
        component below is created with it."""
        s = self.settings
        self.provider = aws_provider(
            f"aws-{s.environment}",
            region=s.region,
            account_id=s.account_id,
            tags=platform_tags(s.environment, s.owner, s.cost_center),
        )
        self.aws_only = pulumi.ResourceOptions(providers=[self.provider])
        self.where = {"environment": s.environment, "account_id": s.account_id, "region": s.region}

    def _keys(self) -> None:
        """A KMS key per data domain: everything after encrypts with one of them."""
        s = self.settings
        self.encryption = Encryption(
            "keys",
            EncryptionArgs(
                **self.where,
                domains=s.encryption.domains,
                deletion_window_days=s.encryption.key_deletion_window_days,
                rotation_period_days=s.encryption.key_rotation_period_days,
                protect=s.protect,
                model_consumers=s.registry.consumer_accounts,
            ),
            opts=self.aws_only,
        )

    def _boundaries(self) -> None:
        """The permission boundaries, before any role: every role, of the platform or of a
        component, carries one."""
        s, src = self.settings, self.registry_source
        self.boundaries = Boundaries(
            "boundaries",
            BoundariesArgs(
                **self.where,
                protect=s.protect,
                served_models=(src.artifacts_bucket, src.account_id) if self.serves_another_registry else None,
            ),
            opts=self.aws_only,
        )

    def _data(self) -> None:
        """The data lake (its zones encrypted with the data and models keys) and the feature store,
        whose offline store is the curated zone."""
        s, keys = self.settings, self.encryption
        st = s.storage
        retention = {
            "noncurrent_version_expiry_days": st.noncurrent_version_expiry_days,
            "abort_incomplete_uploads_after_days": st.abort_incomplete_uploads_after_days,
        }
        self.lake = DataLake(
            "lake",
            DataLakeArgs(
                **self.where,
                data_key_arn=keys.key_arn("data"),
                models_key_arn=keys.key_arn("models"),
                raw_lifecycle=Lifecycle(
                    infrequent_access_after_days=st.raw_infrequent_access_after_days,
                    archive_after_days=st.raw_archive_after_days,
                    **retention,
                ),
                curated_lifecycle=Lifecycle(**retention),
                artifacts_lifecycle=Lifecycle(**retention),
                access_log_retention_days=s.monitoring.log_retention_days,
                artifact_object_lock_days=st.artifact_object_lock_days,
                model_consumers=s.registry.consumer_accounts,
                protect=s.protect,
                force_destroy=self.disposable,
            ),
            opts=self.aws_only,
        )
        self.feature_store = FeatureStore(
            "features",
            FeatureStoreArgs(
                **self.where,
                data_key_arn=keys.key_arn("data"),
                offline_bucket=self.lake.zones["curated"],
                groups=[
                    FeatureGroupSpec(
                        name=g.name,
                        description=g.description,
                        record_identifier=g.record_identifier,
                        event_time=g.event_time,
                        features=[(f.name, f.type) for f in g.features],
                        online=g.online_store.enabled and s.feature_store.online_store,
                        ttl=(g.online_store.ttl.value, g.online_store.ttl.unit) if g.online_store.ttl else None,
                    )
                    for g in self.feature_groups
                ],
                permissions_boundary=self.boundaries.workload_arn,
                protect=s.protect,
            ),
            opts=self.aws_only,
        )

    def _models(self) -> None:
        """The model registry (encrypted with the models key) and MLflow, whose artifacts live in
        the lake's artifacts zone."""
        s, keys = self.settings, self.encryption
        reg, exp = s.registry, s.experiments
        self.registry = ModelRegistry(
            "registry",
            ModelRegistryArgs(
                **self.where,
                models_key_arn=keys.key_arn("models"),
                families=reg.model_families,
                consumer_accounts=reg.consumer_accounts,
                keep_tagged_images=reg.keep_tagged_images,
                untagged_image_expiry_days=reg.untagged_image_expiry_days,
                protect=s.protect,
                force_delete_images=self.disposable,
            ),
            opts=self.aws_only,
        )
        self.experiments = ExperimentTracking(
            "experiments",
            ExperimentTrackingArgs(
                **self.where,
                artifacts_bucket=self.lake.zones["artifacts"],
                models_key_arn=keys.key_arn("models"),
                tracking_server_size=exp.tracking_server_size,
                mlflow_version=exp.mlflow_version,
                automatic_model_registration=exp.automatic_model_registration,
                weekly_maintenance_window_start=exp.weekly_maintenance_window_start,
                permissions_boundary=self.boundaries.workload_arn,
                protect=s.protect,
            ),
            opts=self.aws_only,
        )

    def _identity(self) -> None:
        """The platform's roles. Their grants are the access matrix applied to the resources built
        so far (each owner writes the grant for what it owns), so this follows data and models."""
        s, src = self.settings, self.registry_source
        instances, service_roles = self.role_families()
        teams = [t.name for t in s.training.teams]
        ci = s.ci
        self.identity = Identity(
            "identity",
            IdentityArgs(
                **self.where,
                workload_boundary_arn=self.boundaries.workload_arn,
                deploy_boundary_arn=self.boundaries.deploy_arn,
                teams=teams,
                grants=role_grants(self.grantable(), teams, instances=instances),
                service_roles=service_roles,
                served_packages=sorted(
                    {src.package_arn(e.family, "*") for e in self.endpoint_specs}
                    if self.serves_another_registry
                    else ()
                ),
                approver_principals=s.identity.approver_principals,
                github_repository=GitHubRepository(ci.github_repository, ci.github_owner_id, ci.github_repository_id)
                if ci.github_repository
                else None,
                deploy_environment=ci.deploy_environment,
                preview_environment=ci.preview_environment or f"preview-{pulumi.get_stack()}",
                oidc_provider_arn=ci.oidc_provider_arn,
                deploy_branch=ci.deploy_branch,
                protect=s.protect,
            ),
            opts=self.aws_only,
        )

    def _data_quality(self) -> None:
        """The datasets' Glue rulesets, runs and failure events: each run assumes its dataset's Glue
        role, so this follows identity (and waits for it: a ruleset run must not start before its
        role's policy exists)."""
        s, zones = self.settings, self.lake.zones
        self.data_quality = DataQuality(
            "data-quality",
            DataQualityArgs(
                environment=s.environment,
                zone_buckets={z: zones[z].name for z in ("raw", "curated")},
                datasets=[dataset_spec(d, zones[d.zone].name) for d in self.datasets],
                account_id=s.account_id,
                region=s.region,
                glue_role_arns={
                    d.name: self.identity.role_arns[family_role("data-quality", d.name)] for d in self.datasets
                },
                results_bucket=zones["artifacts"].name,
                scheduler_boundary_arn=self.boundaries.scheduler_arn,
                key_arn=self.encryption.key_arn("data"),
            ),
            opts=pulumi.ResourceOptions(providers=[self.provider], depends_on=[self.identity]),
        )

    def _network(self) -> None:
        """The VPC, its private subnets (tagged for the cluster's load balancers and Karpenter) and
        flow logs encrypted with the logs key."""
        s = self.settings
        self.network = Network(
            "network",
            NetworkArgs(
                **self.where,
                cidr=s.network.cidr,
                availability_zones=s.network.availability_zones,
                cluster_name=self.cluster_name,
                logs_key_arn=self.encryption.key_arn("logs"),
                nat_per_zone=s.network.nat_gateways == "per-az",
                private_endpoints=s.network.private_endpoints,
                flow_log_retention_days=s.monitoring.log_retention_days,
                permissions_boundary=self.boundaries.workload_arn,
                protect=s.protect,
            ),
            opts=self.aws_only,
        )

    def _cluster(self) -> None:
        """The EKS cluster in the network's private subnets. Its access entries name the CI roles
        (from identity): CI applies and refreshes the in-cluster project."""
        s, keys = self.settings, self.encryption
        tr = s.training
        admins: list = list(tr.admin_principals)
        viewers: list = []
        if "ci-deploy" in self.identity.roles:
            admins.append(self.identity.roles["ci-deploy"].arn)  # CI applies the in-cluster resources
            viewers.append(self.identity.roles["ci-preview"].arn)  # and refreshes them (preview, drift)
        sn = tr.system_nodes
        self.cluster = TrainingCluster(
            "cluster",
            TrainingClusterArgs(
                **self.where,
                kubernetes_version=tr.kubernetes_version,
                subnet_ids=self.network.private_subnet_ids,
                cluster_key_arn=keys.key_arn("cluster"),
                logs_key_arn=keys.key_arn("logs"),
                permissions_boundary=self.boundaries.cluster_arn,
                log_retention_days=s.monitoring.log_retention_days,
                endpoint_public_access=tr.endpoint_public_access,
                public_access_cidrs=tr.public_access_cidrs,
                admin_principals=admins,
                viewer_principals=viewers,
                system_nodes=SystemNodes(
                    instance_types=sn.instance_types,
                    min_size=sn.min_size,
                    desired_size=sn.desired_size,
                    max_size=sn.max_size,
                    disk_gi=sn.disk_gi,
                ),
                protect=s.protect,
            ),
            opts=self.aws_only,
        )

    def _monitoring(self) -> None:
        """Alerts, dashboards and budgets over what exists: the data-quality rules (and it waits for
        them), the feature groups, every delivery rule, and the endpoints' rollback and drift alarms,
        which must exist before serving names them."""
        s = self.settings
        mon, env = s.monitoring, s.environment
        self.monitoring = Monitoring(
            "monitoring",
            MonitoringArgs(
                **self.where,
                logs_key_arn=self.encryption.key_arn("logs"),
                alert_emails=mon.alert_emails,
                slack_channels=[(c.workspace_id, c.channel_id) for c in mon.slack_channels],
                permissions_boundary=self.boundaries.workload_arn,
                event_rules=self.delivery_rules(),
                dead_letter_queues=[physical_name(env, "model-approvals-dlq"), *self.schedule_queues()],
                schedule_groups=self.schedule_groups(),
                topics=[physical_name(env, "model-approvals")],
                trail_metric=TRAIL_METRIC,
                log_retention_days=mon.log_retention_days,
                monthly_budget_usd=mon.monthly_budget_usd,
                budget_scope=mon.budget_scope,
                activate_environment_tag=mon.activate_environment_tag,
                karpenter_queue=f"mlplatform-{env}-karpenter",
                data_quality_rule=self.data_quality.failure_rule_name,
                data_quality_datasets={
                    d: (self.data_quality.low_score_rule_names[d], r) for d, r in self.data_quality.rulesets.items()
                },
                feature_groups=list(self.feature_store.group_names.values()),
                component_alarms=self.serving_alarms(),
                protect=s.protect,
            ),
            opts=pulumi.ResourceOptions(providers=[self.provider], depends_on=[self.data_quality]),
        )

    def _serving(self) -> None:
        """The endpoints, in the network with their execution roles, canaries rolled back by the
        monitoring step's alarms."""
        src, keys, zones = self.registry_source, self.encryption, self.lake.zones
        self.serving = Serving(
            "serving",
            ServingArgs(
                **self.where,
                registry=src,
                endpoints=self.endpoint_specs,
                models_key_arn=keys.key_arn("models"),
                artifacts_bucket=zones["artifacts"].name,
                vpc_id=self.network.vpc.id,
                subnet_ids=self.network.private_subnet_ids,
                role_arns={e.name: self.identity.role_arns[f"serving-{e.name}"] for e in self.endpoint_specs},
                monitor_role_arns={
                    e.name: self.identity.role_arns[f"model-monitor-{e.name}"] for e in self.endpoint_specs if e.monitor
                },
                logs_key_arn=keys.key_arn("logs"),
                log_retention_days=self.settings.monitoring.log_retention_days,
                scheduler_boundary_arn=self.boundaries.scheduler_arn,
                protect=self.settings.protect,
            ),
            # The rollback alarms exist before an endpoint names them; the roles before the models.
            opts=pulumi.ResourceOptions(providers=[self.provider], depends_on=[self.monitoring, self.identity]),
        )

    def _cluster_integration(self) -> None:
        """The AWS side of the software in the cluster: Karpenter's roles and interruption queue,
        the teams' Pod Identity associations, Alertmanager's role on the alert topic. It waits for
        the cluster. The software itself (charts, NodePools, team namespaces) is the in-cluster
        project's (infra/in_cluster.py): it needs the cluster's private API, which this project never
        calls, so this one runs from anywhere."""
        s, tr = self.settings, self.settings.training
        self.cluster_integration = ClusterIntegration(
            "in-cluster",
            ClusterIntegrationArgs(
                **self.where,
                cluster_name=self.cluster.cluster_name,
                permissions_boundary=self.boundaries.cluster_arn,
                workload_boundary=self.boundaries.workload_arn,
                alert_topic_arn=self.monitoring.topic_arn,
                logs_key_arn=self.encryption.key_arn("logs"),
                team_roles={t.name: self.identity.role_arns[f"training-{t.name}"] for t in tr.teams},
                uses_spot=spot_needed([tr.cpu_pool.capacity_types, *(p.capacity_types for p in tr.gpu_pools)]),
                create_spot_service_linked_role=s.training.create_spot_service_linked_role,
            ),
            opts=pulumi.ResourceOptions(providers=[self.provider], depends_on=[self.cluster]),
        )

    def _ci_runner(self) -> None:
        """The CI runner in the VPC, where the cluster's private API is reachable (its security
        group admits the runner): only with a repository and runner 'codebuild'."""
        s = self.settings
        ci = s.ci
        self.ci_runner = None
        if not (ci.github_repository and ci.runner == "codebuild"):
            return
        self.ci_runner = CiRunner(
            "ci",
            CiRunnerArgs(
                **self.where,
                github_repository=ci.github_repository,
                connection_arn=ci.code_connection_arn,
                vpc_id=self.network.vpc.id,
                vpc_cidr=s.network.cidr,
                subnet_ids=self.network.private_subnet_ids,
                cluster_security_group_id=self.cluster.security_group_id,
                logs_key_arn=self.encryption.key_arn("logs"),
                permissions_boundary=self.boundaries.cluster_arn,
                log_retention_days=s.monitoring.log_retention_days,
                protect=s.protect,
                actors=ci.runner_actors,
            ),
            opts=self.aws_only,
        )

    def _audit(self) -> None:
        """The audit trail, last: it records data events on every lake zone and keeps its bucket's
        access logs in the lake's log bucket."""
        s = self.settings
        self.audit = Audit(
            "audit",
            AuditArgs(
                **self.where,
                logs_key_arn=self.encryption.key_arn("logs"),
                access_log_bucket=self.lake.access_logs.name,
                access_log_resource=self.lake.access_logs,
                data_event_bucket_arns=[b.arn for b in self.lake.zones.values()],
                log_retention_days=s.monitoring.log_retention_days,
                object_lock_days=s.audit.object_lock_days,
                permissions_boundary=self.boundaries.workload_arn,
                protect=s.protect,
                force_destroy=self.disposable,
            ),
            opts=self.aws_only,
        )

    def _outputs(self) -> dict[str, Any]:
        s, keys, src = self.settings, self.encryption, self.registry_source
        return {
            "environment": s.environment,
            "region": s.region,
            "accountId": s.account_id,
            "kmsKeyArns": keys.key_arns,
            "kmsAliases": keys.alias_names,
            "buckets": {zone: b.name for zone, b in self.lake.zones.items()},
            "featureGroups": self.feature_store.group_names,
            "dataQualityRulesets": self.data_quality.ruleset_names,
            "roleArns": self.identity.role_arns,
            "modelPackageGroups": self.registry.group_names,
            "imageRepositories": self.registry.repository_urls,
            "modelApprovalQueueUrl": self.registry.queue.url,
            "modelApprovalTopicArn": self.registry.topic.arn,
            "mlflowTrackingServerArn": self.experiments.server_arn,
            "dvcRemoteUrl": self.experiments.dvc_url,
            "dvcRemoteCommands": self.experiments.dvc_commands,
            "auditTrailArn": self.audit.trail_arn,
            "clusterName": self.cluster_name,
            "vpcId": self.network.vpc.id,
            "gpuNodePools": [p.name for p in s.training.gpu_pools],
            # What the in-cluster project (infra/in_cluster.py) reads through a StackReference.
            "clusterEndpoint": self.cluster.endpoint,
            "clusterCertificateAuthority": self.cluster.certificate_authority,
            "karpenterInterruptionQueue": self.cluster_integration.queue_name,
            "karpenterNodeRole": self.cluster_integration.node_role_name,
            "alertTopicArn": self.monitoring.topic_arn,
            "endpoints": {e.name: self.serving.endpoint_names[e.name] for e in self.endpoint_specs},
            "servedModelPackages": {e.name: src.package_arn(e.family, e.version) for e in self.endpoint_specs},
            "dataQualitySchedules": {d.name: d.schedule for d in self.datasets if d.schedule},
            # The commit this stack runs: what a promotion moves to the next stage (docs/ci.md).
            "deployedCommit": deployed_commit(),
            "deployedStackFiles": deployed_commit(of_stack_files=True),
            # Families with drift settings that nothing measures here, said rather than a metric invented.
            **({"driftNotMeasured": self.drift_not_measured()} if self.drift_not_measured() else {}),
            **({"ciRunnerLabel": self.ci_runner.label} if self.ci_runner else {}),
        }

    # --- what the steps derive from the settings -------------------------------------------------

    @property
    def disposable(self) -> bool:
        """Named opt-out, derived from one setting: unprotected (dev) stacks can be destroyed whole."""
        return not self.settings.protect

    @property
    def cluster_name(self) -> str:
        return f"mlplatform-{self.settings.environment}-training"

    def grantable(self) -> dict[str, Any]:
        """Everything a role can be granted access to, by the name the access matrix uses."""
        s, env = self.settings, self.settings.environment
        resources: dict[str, Any] = {f"lake:{zone}": bucket for zone, bucket in self.lake.zones.items()}
        resources |= {"features": self.feature_store, "registry": self.registry, "experiments": self.experiments}
        resources |= {
            "served-models": self.registry_source,
            "endpoints": EndpointGrants(
                env,
                s.account_id,
                s.region,
                model_monitors=frozenset(e.name for e in self.monitored_all() if e.monitor.model_monitor),
            ),
            "data-quality": DataQualityGrants(env, s.account_id, s.region, {d.name: d.zone for d in self.datasets}),
        }
        return resources

    @property
    def serves_another_registry(self) -> bool:
        src = self.registry_source
        return (src.environment, src.account_id) != (self.settings.environment, self.settings.account_id)

    def role_families(self) -> tuple[dict, dict[str, str]]:
        """The instances of the access matrix's role families but training (whose are the teams),
        and the service each of their roles is for."""
        instances = {
            "serving": [{"endpoint": e.name, "family": e.family} for e in self.endpoint_specs],
            "model-monitor": [
                {"endpoint": e.name, "baseline": e.monitor.baseline_prefix} for e in self.endpoint_specs if e.monitor
            ],
            "data-quality": [{"dataset": d.name, "zone": d.zone, "prefix": d.prefix} for d in self.datasets],
        }
        sagemaker, glue = "sagemaker.amazonaws.com", "glue.amazonaws.com"
        services = {family_role("serving", i["endpoint"]): sagemaker for i in instances["serving"]}
        # The drift job is a Lambda function; Model Monitor (opted in) a SageMaker processing job.
        engines = {
            e.name: sagemaker if e.monitor.model_monitor else facts.LAMBDA_PRINCIPAL for e in self.monitored_all()
        }
        services |= {
            family_role("model-monitor", i["endpoint"]): engines[i["endpoint"]] for i in instances["model-monitor"]
        }
        services |= {family_role("data-quality", i["dataset"]): glue for i in instances["data-quality"]}
        return instances, services

    def monitored_all(self) -> list[EndpointSpec]:
        return [e for e in self.endpoint_specs if e.monitor]

    def monitored(self, family: str) -> list[EndpointSpec]:
        return [e for e in self.endpoint_specs if e.family == family and e.monitor]

    def serving_alarms(self) -> list[dict]:
        """Each endpoint's rollback alarms, its drift job's failures, and the drift alarms of the
        families `monitoring.drift` names."""
        env, specs = self.settings.environment, []
        for e in self.endpoint_specs:
            specs += rollback_alarm_specs(env, e) + drift_job_alarm_specs(env, e)
        for d in self.settings.monitoring.drift:
            for e in self.monitored(d.model_family):
                specs += drift_alarm_specs(env, e, d.features, d.threshold, d.evaluation_periods)
        return specs

    def drift_not_measured(self) -> dict[str, str]:
        """Families with drift settings but no monitored endpoint: said, rather than a metric invented."""
        return {
            d.model_family: "no endpoint with a monitor serves it in this stack: no drift alarm"
            for d in self.settings.monitoring.drift
            if not self.monitored(d.model_family)
        }

    def schedule_groups(self) -> list[str]:
        """The Scheduler groups of the stack (components/scheduling.py): data quality when a dataset is
        scheduled, drift when an endpoint's drift job runs."""
        env = self.settings.environment
        groups = ["data-quality"] if any(d.schedule for d in self.datasets) else []
        groups += ["drift"] if any(not e.monitor.model_monitor for e in self.monitored_all()) else []
        return [physical_name(env, g) for g in groups]

    def schedule_queues(self) -> list[str]:
        return [f"{g}-dlq" for g in self.schedule_groups()]

    def delivery_rules(self) -> list[str]:
        """Every EventBridge rule with a target: each gets a FailedInvocations alarm."""
        env = self.settings.environment
        rules = [physical_name(env, "model-approvals")]
        if self.data_quality.failure_rule_name:
            rules.append(self.data_quality.failure_rule_name)
        rules += list(self.data_quality.low_score_rule_names.values())
        rules += [physical_name(env, "karpenter", event) for event in INTERRUPTION_EVENTS]
        return rules


def dataset_spec(d: DatasetDefinition, bucket: str) -> DatasetSpec:
    """A dataset definition (stacks/datasets/) as the data-quality component takes it."""
    return DatasetSpec(
        name=d.name,
        description=d.description,
        zone=d.zone,
        bucket=bucket,
        prefix=d.prefix,
        format=d.format,
        columns=[(c.name, c.type) for c in d.columns],
        complete=d.rules.complete,
        unique_key=d.rules.unique_key,
        ranges=[(r.column, r.min, r.max) for r in d.rules.ranges],
        freshness=(d.rules.freshness.column, d.rules.freshness.max_age_hours) if d.rules.freshness else None,
        min_row_count=d.rules.min_row_count,
        schedule=d.schedule,
        min_score=d.min_score,
    )


def endpoint_specs(s: Settings) -> list[EndpointSpec]:
    """The endpoints of the settings, each with the version its family serves."""
    return [
        EndpointSpec(
            name=e.name,
            family=e.model_family,
            version=s.serving.model_versions[e.model_family],
            instance_type=e.instance_type,
            min_instances=e.min_instances,
            max_instances=e.max_instances,
            target_invocations_per_instance=e.target_invocations_per_instance,
            capture_percent=e.data_capture_percent,
            canary_percent=e.canary_percent,
            bake_minutes=e.bake_minutes,
            max_latency_ms=e.max_latency_ms,
            network_isolation=e.network_isolation,
            monitor=MonitorSpec(
                e.monitor.baseline_prefix, e.monitor.schedule, e.monitor.instance_type, e.monitor.model_monitor
            )
            if e.monitor
            else None,
        )
        for e in s.serving.endpoints
    ]
