"""Data quality: a Glue Data Catalog database per data zone, a table per dataset, a Glue Data
Quality ruleset per dataset (completeness, unique keys, value ranges, freshness, row count), and the
schedule that evaluates it.

Each dataset with a ``schedule`` gets an EventBridge Scheduler schedule that starts a Glue Data
Quality evaluation run of its ruleset (universal target, foundation/upstream/serving.py) as the
dataset's own Glue role (``data-quality-<dataset>``, access matrix: read its prefix, write its
results), with CloudWatch metrics and results under ``data-quality/<dataset>/`` of the artifacts
bucket. Glue publishes every evaluation as an EventBridge event: ``failure_rule`` matches runs that
failed, and one rule per dataset matches evaluations scoring below the dataset's ``minScore``; the
monitoring component alarms on both and sends the events to the alert topic.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field

import pulumi

from foundation.conventions import partition_for, physical_name
from foundation.iam.documents import Statement
from foundation.iam.scope import Scope
from foundation.upstream import serving as facts

_FORMATS = {
    "parquet": (
        "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
        "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat",
        "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe",
        {},
    ),
    "json": (
        "org.apache.hadoop.mapred.TextInputFormat",
        "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat",
        "org.openx.data.jsonserde.JsonSerDe",
        {},
    ),
    "csv": (
        "org.apache.hadoop.mapred.TextInputFormat",
        "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat",
        "org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe",
        {"field.delim": ",", "skip.header.line.count": "1"},
    ),
}


@dataclass(frozen=True)
class DatasetSpec:
    name: str
    description: str
    zone: str
    bucket: str
    prefix: str
    columns: Sequence[tuple[str, str]]
    format: str = "parquet"
    complete: Sequence[str] = ()
    unique_key: Sequence[str] = ()
    ranges: Sequence[tuple[str, float, float]] = ()
    freshness: tuple[str, int] | None = None  # (column, max age in hours)
    min_row_count: int = 1
    schedule: str | None = None  # an EventBridge Scheduler expression; None: evaluated on demand only
    min_score: float = 1.0  # the share of rules that must pass

    def ruleset(self) -> str:
        """The rules in DQDL, Glue Data Quality's rule language."""
        rules = [f"RowCount >= {self.min_row_count}"] if self.min_row_count else []
        rules += [f'IsComplete "{c}"' for c in self.complete]
        if len(self.unique_key) == 1:
            rules.append(f'IsUnique "{self.unique_key[0]}"')
        elif self.unique_key:
            rules.append("IsPrimaryKey " + " ".join(f'"{c}"' for c in self.unique_key))
        # Inclusive bounds, as the YAML means them: DQDL's `between` excludes both ends
        # (awslabs/dqdl NumberBasedCondition.evaluate), so `between 0 and 1000000` would reject 0.
        for c, lo, hi in self.ranges:
            rules += [f'ColumnValues "{c}" >= {_num(lo)}', f'ColumnValues "{c}" <= {_num(hi)}']
        if self.freshness:
            column, hours = self.freshness
            rules.append(f'DataFreshness "{column}" <= {hours} hours')
        return "Rules = [\n    " + ",\n    ".join(rules) + "\n]"


def _num(value: float) -> str:
    """A number as DQDL reads it: 1000000, not 1e+06."""
    return str(int(value)) if float(value).is_integer() else repr(float(value))


@dataclass(frozen=True)
class DataQualityArgs:
    environment: str
    # zone -> bucket name, for the databases' locations
    zone_buckets: dict[str, str]
    datasets: Sequence[DatasetSpec] = field(default_factory=tuple)
    account_id: str = ""
    region: str = ""
    # dataset -> the ARN of its Glue role (components/identity.py, from the access matrix)
    glue_role_arns: dict[str, pulumi.Input[str]] = field(default_factory=dict)
    # Where evaluation results are kept: s3://<bucket>/data-quality/<dataset>/
    results_bucket: str | None = None
    # The boundary of the scheduler's role (Boundaries.scheduler)
    scheduler_boundary_arn: pulumi.Input[str] | None = None
    # Encrypts the schedules' payloads and their dead-letter queue (the data domain's key).
    key_arn: pulumi.Input[str] | None = None

    def __post_init__(self) -> None:
        missing = [d.name for d in self.datasets if d.schedule and d.name not in self.glue_role_arns]
        if any(d.schedule for d in self.datasets) and self.key_arn is None:
            raise ValueError("scheduled datasets need key_arn: their schedules and dead letters are encrypted")
        if missing:
            raise ValueError(f"scheduled datasets without a Glue role: {', '.join(missing)}")


RESULTS_PREFIX = "data-quality/{dataset}/"


@dataclass(frozen=True)
class DataQualityGrants(Scope):
    """What a dataset's Glue role needs besides reading its data and writing its results (access
    matrix resource "data-quality"): its table, its ruleset, Glue's libraries, logs and metrics."""

    zones: dict[str, str] = field(default_factory=dict)  # dataset -> zone

    def grant_evaluate(self, dataset: str) -> list[Statement]:
        p = self.partition

        def arn(resource: str) -> str:
            return self.regional("glue", resource)

        database = database_name(self.environment, self.zones[dataset])
        ruleset = ruleset_name_of(self.environment, dataset)
        return [
            Statement(
                sid="ReadTheTable",
                actions=["glue:GetDatabase", "glue:GetTable", "glue:GetPartitions"],
                resources=[arn("catalog"), arn(f"database/{database}"), arn(f"table/{database}/{dataset}")],
            ),
            Statement(
                sid="EvaluateTheRuleset",
                actions=["glue:GetDataQualityRuleset", "glue:PublishDataQuality", "glue:GetDataQualityResult"],
                resources=[arn(f"dataQualityRuleset/{ruleset}")],
            ),
            Statement(
                sid="GlueDataQualityLibraries",
                actions=["s3:GetObject"],
                resources=[f"arn:{p}:s3:::{facts.DQ_ASSETS_BUCKET.format(region=self.region)}/*"],
            ),
            Statement(
                sid="EvaluationLogs",
                actions=["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
                resources=[f"arn:{p}:logs:{self.region}:{self.account_id}:log-group:{g}*" for g in facts.DQ_LOG_GROUPS],
            ),
            Statement(
                sid="EvaluationMetrics",
                actions=["cloudwatch:PutMetricData"],
                resources=["*"],
                conditions={"StringEquals": {"cloudwatch:namespace": facts.DQ_NAMESPACE}},
            ),
        ]


def ruleset_name_of(environment: str, dataset: str) -> str:
    return physical_name(environment, "dq", dataset.replace("_", "-"))


def database_name(environment: str, zone: str) -> str:
    return f"mlplatform_{environment}_{zone}"


class DataQuality(pulumi.ComponentResource):
    def __init__(self, name: str, args: DataQualityArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("mlplatform:data_quality:DataQuality", name, None, opts)
        import pulumi_aws as aws

        glue = aws.glue
        child = pulumi.ResourceOptions(parent=self)
        self.databases: dict[str, pulumi.Resource] = {}
        for zone, bucket in args.zone_buckets.items():
            self.databases[zone] = glue.CatalogDatabase(
                f"{name}-{zone}",
                glue.CatalogDatabaseArgs(
                    name=database_name(args.environment, zone),
                    description=f"mlplatform {args.environment}: datasets of the {zone} zone",
                    location_uri=f"s3://{bucket}/",
                ),
                opts=child,
            )
        self.ruleset_names: list[str] = []
        self.rulesets: dict[str, str] = {}  # dataset -> ruleset name
        self.low_score_rules: dict[str, pulumi.Resource] = {}
        self.low_score_rule_names: dict[str, str] = {}
        self.schedules: dict[str, pulumi.Resource] = {}
        scheduled: list = []
        for ds in args.datasets:
            if ds.zone not in self.databases:
                raise ValueError(f"dataset {ds.name} is in zone {ds.zone!r}; zones: {', '.join(self.databases)}")
            database = self.databases[ds.zone]
            input_format, output_format, serde, serde_params = _FORMATS[ds.format]
            table = glue.CatalogTable(
                f"{name}-{ds.name}",
                glue.CatalogTableArgs(
                    name=ds.name,
                    database_name=database.name,
                    description=ds.description,
                    table_type="EXTERNAL_TABLE",
                    parameters={"classification": ds.format, "EXTERNAL": "TRUE"},
                    storage_descriptor=glue.CatalogTableStorageDescriptorArgs(
                        location=f"s3://{ds.bucket}/{ds.prefix}",
                        input_format=input_format,
                        output_format=output_format,
                        ser_de_info=glue.CatalogTableStorageDescriptorSerDeInfoArgs(
                            serialization_library=serde, parameters=serde_params or None
                        ),
                        columns=[glue.CatalogTableStorageDescriptorColumnArgs(name=c, type=t) for c, t in ds.columns],
                    ),
                ),
                opts=child,
            )
            ruleset_name = ruleset_name_of(args.environment, ds.name)
            glue.DataQualityRuleset(
                f"{name}-{ds.name}",
                glue.DataQualityRulesetArgs(
                    name=ruleset_name,
                    description=f"Quality rules of {ds.zone} dataset {ds.name}",
                    ruleset=ds.ruleset(),
                    target_table=glue.DataQualityRulesetTargetTableArgs(
                        database_name=database.name, table_name=table.name
                    ),
                ),
                opts=child,
            )
            self.ruleset_names.append(ruleset_name)
            self.rulesets[ds.name] = ruleset_name
            self.low_score_rule_names[ds.name] = low_score_rule_name(args.environment, ds.name)
            self.low_score_rules[ds.name] = aws.cloudwatch.EventRule(
                f"{name}-{ds.name}-low-score",
                aws.cloudwatch.EventRuleArgs(
                    name=self.low_score_rule_names[ds.name],
                    description=f"An evaluation of {ds.name} scored below {ds.min_score:g}",
                    event_pattern=json.dumps(low_score_pattern(ruleset_name, ds.min_score)),
                ),
                opts=child,
            )
            if ds.schedule:
                scheduled.append((ds, database, table, ruleset_name))
        if scheduled:
            self._schedule(name, args, scheduled)

        self.failure_pattern = failure_pattern(self.ruleset_names)
        self.failure_rule = None
        self.failure_rule_name = physical_name(args.environment, "data-quality-failed") if self.ruleset_names else None
        if self.ruleset_names:
            self.failure_rule = aws.cloudwatch.EventRule(
                f"{name}-failed",
                aws.cloudwatch.EventRuleArgs(
                    name=physical_name(args.environment, "data-quality-failed"),
                    description="A data-quality evaluation of a platform dataset failed",
                    event_pattern=json.dumps(self.failure_pattern),
                ),
                opts=child,
            )
        self.register_outputs({"rulesets": self.ruleset_names})

    def _schedule(self, name: str, args: DataQualityArgs, scheduled: list) -> None:
        """The datasets' schedules (components/scheduling.py): each starts its dataset's evaluation
        with StartDataQualityRulesetEvaluationRun, passing the dataset's Glue role."""
        from components.scheduling import Scheduling, SchedulingArgs

        self.scheduling = Scheduling(
            name,
            self,
            SchedulingArgs(
                environment=args.environment,
                account_id=args.account_id,
                region=args.region,
                group="data-quality",
                key_arn=args.key_arn,
                boundary_arn=args.scheduler_boundary_arn,
                description="EventBridge Scheduler: start the datasets' data-quality evaluation runs",
                statements=scheduler_statements(args, {ds.name: ruleset for ds, *_, ruleset in scheduled}),
                policy_name="start-evaluations",
            ),
        )
        target = facts.DQ_TARGET.format(partition=partition_for(args.region))
        for ds, database, table, ruleset in scheduled:
            uri = results_uri(args, ds.name)
            request = pulumi.Output.all(database.name, table.name, args.glue_role_arns[ds.name]).apply(
                lambda v, ruleset=ruleset, uri=uri: json.dumps(
                    evaluation_request(v[0], v[1], v[2], ruleset, results_uri=uri)
                )
            )
            self.schedules[ds.name] = self.scheduling.schedule(
                f"{name}-{ds.name}",
                name=ds.name.replace("_", "-"),
                expression=ds.schedule,
                target_arn=target,
                payload=request,
                description=f"Evaluate the data-quality rules of {ds.name}",
                # A window spreads the runs of many datasets scheduled at the same time.
                window=facts.SCHEDULE_WINDOW_MINUTES,
            )


def results_uri(args: DataQualityArgs, dataset: str) -> str | None:
    if not args.results_bucket:
        return None
    return f"s3://{args.results_bucket}/{RESULTS_PREFIX.format(dataset=dataset)}"


def evaluation_request(database: str, table: str, role_arn: str, ruleset: str, *, results_uri: str | None) -> dict:
    """The StartDataQualityRulesetEvaluationRun request a schedule sends (botocore glue shapes)."""
    request: dict = {
        "DataSource": {"GlueTable": {"DatabaseName": database, "TableName": table}},
        "Role": role_arn,
        "RulesetNames": [ruleset],
        "NumberOfWorkers": facts.DQ_WORKERS,
        "Timeout": facts.DQ_TIMEOUT_MINUTES,
        # Metrics: the dashboard's pass/fail counts, and EventBridge publishing needs them too.
        "AdditionalRunOptions": {"CloudWatchMetricsEnabled": True},
    }
    if results_uri:
        request["AdditionalRunOptions"]["ResultsS3Prefix"] = results_uri
    return request


def scheduler_statements(args: DataQualityArgs, rulesets: dict[str, str]) -> list[Statement]:
    """Start evaluations of these rulesets (dataset -> ruleset), passing only those datasets' Glue
    roles, and only to Glue."""
    p = partition_for(args.region)
    return [
        Statement(
            sid="StartEvaluations",
            actions=["glue:StartDataQualityRulesetEvaluationRun"],
            resources=[
                f"arn:{p}:glue:{args.region}:{args.account_id}:dataQualityRuleset/{r}" for r in rulesets.values()
            ],
        ),
        Statement(
            sid="PassGlueRoles",
            actions=["iam:PassRole"],
            resources=[args.glue_role_arns[d] for d in rulesets],
            conditions={"StringEquals": {"iam:PassedToService": "glue.amazonaws.com"}},
        ),
    ]


def low_score_rule_name(environment: str, dataset: str) -> str:
    return physical_name(environment, "dq", dataset.replace("_", "-"), "low-score")


def low_score_pattern(ruleset_name: str, min_score: float) -> dict:
    """EventBridge pattern: an evaluation of this ruleset whose score (0-1) is below ``min_score``."""
    return {
        "source": [facts.DQ_EVENT_SOURCE],
        "detail-type": [facts.DQ_EVENT_TYPE],
        "detail": {"rulesetNames": [ruleset_name], "score": [{"numeric": ["<", min_score]}]},
    }


def failure_pattern(ruleset_names: Sequence[str]) -> dict:
    """EventBridge pattern: a failed Glue Data Quality evaluation of one of these rulesets."""
    return {
        "source": [facts.DQ_EVENT_SOURCE],
        "detail-type": [facts.DQ_EVENT_TYPE],
        "detail": {"state": ["FAILED"], "rulesetNames": list(ruleset_names)},
    }
