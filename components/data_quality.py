"""Data quality: a Glue Data Catalog database per data zone, a table per dataset, and a Glue Data
Quality ruleset per dataset (completeness, unique keys, value ranges, freshness, row count).

Failed evaluations are published by Glue as EventBridge events; ``failure_rule`` matches exactly
those of this stack's rulesets, ready for the monitoring component to route to the alert topic.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field

import pulumi

from components.conventions import physical_name

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
            ruleset_name = physical_name(args.environment, "dq", ds.name.replace("_", "-"))
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


def failure_pattern(ruleset_names: Sequence[str]) -> dict:
    """EventBridge pattern: a failed Glue Data Quality evaluation of one of these rulesets."""
    return {
        "source": ["aws.glue-dataquality"],
        "detail-type": ["Data Quality Evaluation Results Available"],
        "detail": {"state": ["FAILED"], "rulesetNames": list(ruleset_names)},
    }
