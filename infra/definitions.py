"""Feature-group and dataset definitions: YAML files under ``stacks/features`` and ``stacks/datasets``.

A stack selects which definitions it deploys (``featureStore.featureGroups``,
``dataQuality.datasets``), so promotion moves a definition from dev to prod by name. Every file is
validated (pydantic) and every problem of every file is reported at once, with the file, the
feature group or dataset, and the field: a :class:`DefinitionError` (a RunError: no traceback
under `pulumi up`, exit status 2 under `mlplatform plan`).
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Literal

import pulumi
from pydantic import AfterValidator, Field, ValidationError, model_validator

from infra import stackfile, yamlfile
from infra.settings import _CrossFieldError, _matches, _path_message, _Section

STACKS_DIR = Path(__file__).resolve().parents[1] / "stacks"
# The offline runner points this at another project's stacks/ (mlplatform plan --project-dir).
STACKS_DIR_ENV = "MLPLATFORM_STACKS_DIR"


def stacks_dir() -> Path:
    return Path(os.environ.get(STACKS_DIR_ENV) or STACKS_DIR)


# Feature Store reserves these names for the columns it adds to the offline store.
RESERVED_FEATURE_NAMES = ("is_deleted", "write_time", "api_invocation_time")

FeatureName = Annotated[
    str,
    _matches(r"[a-zA-Z0-9]([-_]*[a-zA-Z0-9]){0,63}", "letters, digits, '-' and '_', starting with a letter or digit"),
]
ColumnName = Annotated[str, _matches(r"[a-z_][a-z0-9_]{0,127}", "lowercase letters, digits and '_' (a Glue column)")]
GlueType = Annotated[
    str,
    _matches(
        r"string|bigint|int|smallint|double|float|boolean|date|timestamp|decimal\(\d{1,2},\d{1,2}\)",
        "a Glue type: string, bigint, int, smallint, double, float, boolean, date, timestamp or decimal(p,s)",
    ),
]


def _no_duplicates(names: list[str], what: str) -> None:
    seen: set[str] = set()
    dupes = sorted({n for n in names if n.lower() in seen or seen.add(n.lower())})
    if dupes:
        raise ValueError(f"duplicate {what}: {', '.join(dupes)}")


class Feature(_Section):
    name: FeatureName
    type: Literal["Integral", "Fractional", "String"]


class Ttl(_Section):
    value: int = Field(ge=1, le=10_000)
    unit: Literal["Seconds", "Minutes", "Hours", "Days", "Weeks"]


class OnlineStore(_Section):
    enabled: bool = True
    ttl: Ttl | None = None


class FeatureGroupDefinition(_Section):
    """One feature group, as in ``stacks/features/<name>.yaml``."""

    name: Annotated[
        str, _matches(r"(?=.{2,40}$)[a-z](-?[a-z0-9]){1,39}", "lowercase letters, digits and single hyphens, 2-40")
    ]
    description: str = Field(min_length=1, max_length=128)
    record_identifier: FeatureName
    event_time: FeatureName
    features: list[Feature] = Field(min_length=2, max_length=2500)
    online_store: OnlineStore = OnlineStore()

    @model_validator(mode="after")
    def _consistent(self) -> FeatureGroupDefinition:
        problems = []
        types = {f.name: f.type for f in self.features}
        try:
            _no_duplicates([f.name for f in self.features], "feature names")
        except ValueError as err:
            problems.append(("features", str(err)))
        for i, f in enumerate(self.features):
            if f.name.lower() in RESERVED_FEATURE_NAMES:
                problems.append((f"features[{i}].name", f"{f.name!r} is reserved by Feature Store"))
        if self.record_identifier not in types:
            problems.append(("recordIdentifier", f"{self.record_identifier!r} is not one of the features"))
        elif types[self.record_identifier] == "Fractional":
            problems.append(("recordIdentifier", "must be a String or Integral feature"))
        if self.event_time not in types:
            problems.append(("eventTime", f"{self.event_time!r} is not one of the features"))
        elif types[self.event_time] == "Integral":
            problems.append(("eventTime", "must be a String (ISO-8601) or Fractional (epoch seconds) feature"))
        if problems:
            raise _CrossFieldError(problems)
        return self


class Column(_Section):
    name: ColumnName
    type: GlueType


class Range(_Section):
    column: ColumnName
    min: float
    max: float


class Freshness(_Section):
    column: ColumnName
    max_age_hours: int = Field(ge=1, le=24 * 366)


class Rules(_Section):
    complete: list[ColumnName] = Field(default_factory=list, description="columns that must never be null")
    unique_key: list[ColumnName] = Field(default_factory=list, description="columns that together identify a row")
    ranges: list[Range] = Field(default_factory=list)
    freshness: Freshness | None = None
    min_row_count: int = Field(1, ge=0)


# EventBridge Scheduler expressions, checked as the cron reference says (infra/schedules.py). Rates shorter
# than an hour are refused: each run bills at least a minute of 2 DPUs (Glue pricing) and no dataset
# here changes that fast.
def _schedule(value: str) -> str:
    from infra.schedules import ScheduleError, check_schedule

    try:
        check_schedule(value, 3600, "each run bills at least a minute of 2 DPUs")
    except ScheduleError as err:
        raise ValueError(
            f"{value!r}: {err} (EventBridge's cron reference; e.g. rate(6 hours), cron(0 5 * * ? *))"
        ) from None
    return value


_schedule.allowed = "an EventBridge Scheduler expression such as rate(1 day), rate(6 hours) or cron(0 5 * * ? *)"
Schedule = Annotated[str, AfterValidator(_schedule)]


class DatasetDefinition(_Section):
    """One dataset and its data-quality rules, as in ``stacks/datasets/<name>.yaml``."""

    # At most 31 characters: the longest name derived from it, mlplatform-staging-dq-<name>-low-score
    # (an EventBridge rule), must stay within 64.
    name: Annotated[
        str,
        _matches(
            r"(?=.{1,31}$)[a-z](_?[a-z0-9]){0,30}",
            "lowercase letters, digits and single '_' (a Glue table name), at most 31",
        ),
    ]
    description: str = Field(min_length=1, max_length=256)
    zone: Literal["raw", "curated"]
    prefix: Annotated[str, _matches(r"([a-z0-9_.=-]+/)+", "an S3 prefix ending in '/', such as transactions/")]
    format: Literal["parquet", "json", "csv"] = "parquet"
    columns: list[Column] = Field(min_length=1)
    rules: Rules
    # When Glue Data Quality evaluates the ruleset (None: only on demand; prod requires one).
    schedule: Schedule | None = None
    # The share of rules that must pass (Glue's score, 0-1); below it the dataset's alarm fires.
    min_score: float = Field(1.0, ge=0, le=1)

    @model_validator(mode="after")
    def _rules_name_columns(self) -> DatasetDefinition:
        problems = []
        try:
            _no_duplicates([c.name for c in self.columns], "column names")
        except ValueError as err:
            problems.append(("columns", str(err)))
        known = {c.name for c in self.columns}
        r = self.rules
        named = [(f"rules.complete[{i}]", c) for i, c in enumerate(r.complete)]
        named += [(f"rules.uniqueKey[{i}]", c) for i, c in enumerate(r.unique_key)]
        named += [(f"rules.ranges[{i}].column", x.column) for i, x in enumerate(r.ranges)]
        if r.freshness:
            named.append(("rules.freshness.column", r.freshness.column))
        for path, column in named:
            if column not in known:
                problems.append((path, f"{column!r} is not a column of the dataset ({', '.join(sorted(known))})"))
        for i, x in enumerate(r.ranges):
            if x.min >= x.max:
                problems.append((f"rules.ranges[{i}]", f"min ({x.min:g}) must be less than max ({x.max:g})"))
        if not (r.complete or r.unique_key or r.ranges or r.freshness):
            problems.append(("rules", "name at least one rule: complete, uniqueKey, ranges or freshness"))
        if problems:
            raise _CrossFieldError(problems)
        return self


def _names(items: object, key: str = "name") -> set[str]:
    return (
        {i[key] for i in items if isinstance(i, dict) and isinstance(i.get(key), str)}
        if isinstance(items, list)
        else set()
    )


def _raw_references(kind: str, data: dict) -> list[tuple[str, str]]:
    """The cross-field checks that still make sense when a field of the file did not parse, so one
    run reports every problem (pydantic skips a model's own validator once a field fails)."""
    problems: list[tuple[str, str]] = []
    if kind == "dataset":
        known = _names(data.get("columns"))
        rules = data.get("rules") if isinstance(data.get("rules"), dict) else {}
        named = [(f"rules.complete[{i}]", c) for i, c in enumerate(rules.get("complete") or [])]
        named += [(f"rules.uniqueKey[{i}]", c) for i, c in enumerate(rules.get("uniqueKey") or [])]
        ranges = rules.get("ranges") if isinstance(rules.get("ranges"), list) else []
        named += [(f"rules.ranges[{i}].column", x.get("column")) for i, x in enumerate(ranges) if isinstance(x, dict)]
        if isinstance(rules.get("freshness"), dict):
            named.append(("rules.freshness.column", rules["freshness"].get("column")))
        for path, column in named:
            if isinstance(column, str) and known and column not in known:
                problems.append((path, f"{column!r} is not a column of the dataset ({', '.join(sorted(known))})"))
    else:
        known = _names(data.get("features"))
        for key in ("recordIdentifier", "eventTime"):
            value = data.get(key)
            if isinstance(value, str) and known and value not in known:
                problems.append((key, f"{value!r} is not one of the features"))
    return problems


class DefinitionError(pulumi.RunError):
    """Definition files are invalid. Lists every problem with file, definition and field."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        plural = "s" if len(problems) != 1 else ""
        header = f"{len(problems)} problem{plural} in definition files or the stack's lists of them:"
        super().__init__("\n".join([header, *problems]))


def load_feature_groups(
    names: Sequence[str], directory: Path | None = None, stack: str | None = None
) -> list[FeatureGroupDefinition]:
    folder = (directory or stacks_dir()) / "features"
    return _load(FeatureGroupDefinition, "feature group", "featureStore.featureGroups", names, folder, stack=stack)


def load_datasets(
    names: Sequence[str], directory: Path | None = None, stack: str | None = None
) -> list[DatasetDefinition]:
    folder = (directory or stacks_dir()) / "datasets"
    return _load(DatasetDefinition, "dataset", "dataQuality.datasets", names, folder, stack=stack)


def _load(model, kind: str, setting: str, names: Sequence[str], directory: Path, *, stack: str | None = None) -> list:
    import difflib

    loaded, problems = [], []
    for name in names:
        path = directory / f"{name}.yaml"
        where = f"stacks/{path.parent.name}/{path.name}"  # as the user knows it, from the project root
        if not path.exists():
            # the mistake is in the stack file's list (or a definition file not written yet): name both
            available = sorted(p.stem for p in directory.glob("*.yaml"))
            close = difflib.get_close_matches(name, available, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            stack_file = f"stacks/Pulumi.{stack}.yaml: " if stack else ""
            problems.append(
                f"  - {stack_file}mlplatform:{setting} names {kind} {name!r}, but {where} does not exist{hint} "
                f"(available: {', '.join(available) or 'none'})"
            )
            continue
        try:
            data = yamlfile.load(path.read_text())
        except yamlfile.YamlFileError as err:
            problems.append(f"  - {where}: not valid YAML {err}")
            continue
        if not isinstance(data, dict):
            problems.append(f"  - {where}: must be a mapping with the {kind}'s fields")
            continue
        label = f"{where} ({kind} {data.get('name', name)!r})"
        try:
            definition = model.model_validate(data)
        except ValidationError as err:
            found = _path_message(err, root=model)
            reported = {p for p, _ in found}
            found += [(p, m) for p, m in _raw_references(kind, data) if p not in reported]
            problems += [f"  - {label}: {p}: {m}" for p, m in found]
            continue
        if definition.name != name:
            problems.append(f"  - {label}: name: must be {name!r}, the file's name")
            continue
        loaded.append(definition)
    if problems:
        raise DefinitionError(problems)
    return loaded


def glue_name(name: str) -> str:
    """Glue database and table names: lowercase, digits and underscores."""
    return re.sub(r"[^a-z0-9_]", "_", name.lower())


def stack_settings(stack: str, directory: Path | None = None):
    """Another stack's validated settings, read from its stack file (``secure:`` values unseen)."""
    from infra.settings import NAMESPACE, parse

    config = stackfile.config_of(((directory or stacks_dir()) / f"Pulumi.{stack}.yaml").read_text())
    return parse(stack, stackfile.namespace_values(config, NAMESPACE))


def registry_of(stack: str, settings, directory: Path | None = None):
    """The registry ``stack`` serves from (``serving.registryStack``), checked against that stack's
    own file: same region, this account among its consumers, the served families among its own.
    Returns (environment, account id, region, the registry stack's settings or None for itself)."""
    from infra.settings import SettingsError

    name = settings.serving.registry_stack
    if name is None or name == stack:
        return settings.environment, settings.account_id, settings.region, None
    setting = "mlplatform:serving.registryStack"
    folder = directory or stacks_dir()
    path = folder / f"Pulumi.{name}.yaml"
    if not path.exists():
        stacks = sorted(p.name.removeprefix("Pulumi.").removesuffix(".yaml") for p in folder.glob("Pulumi.*.yaml"))
        raise SettingsError(
            stack,
            [(setting, f"names stack {name!r} but stacks/{path.name} does not exist (stacks: {', '.join(stacks)})")],
        )
    try:
        other = stack_settings(name, folder)
    except yamlfile.YamlFileError as err:
        raise SettingsError(stack, [(setting, f"stacks/{path.name} is not valid YAML {err}")]) from None
    except SettingsError as err:
        problems = [(setting, f"stack {name!r} is invalid: {p}: {m}") for p, m in err.problems]
        raise SettingsError(stack, problems) from None
    problems = []
    if other.region != settings.region:
        problems.append(
            (
                setting,
                f"{name!r} is in {other.region}; an endpoint deploys packages of its own region ({settings.region})",
            )
        )
    if other.account_id != settings.account_id and settings.account_id not in other.registry.consumer_accounts:
        problems.append(
            (
                setting,
                f'{name!r} does not share its registry with this account: add "{settings.account_id}" to its '
                "registry.consumerAccounts",
            )
        )
    for family in settings.serving.model_versions:
        if family not in other.registry.model_families:
            families = ", ".join(other.registry.model_families) or "none"
            problems.append(
                (f"mlplatform:serving.modelVersions.{family}", f"is not a model family of {name!r} ({families})")
            )
    if problems:
        raise SettingsError(stack, problems)
    return other.environment, other.account_id, other.region, other
