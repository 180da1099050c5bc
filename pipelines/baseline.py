"""``mlplatform baseline``: the drift job's baseline (functions/drift) from a model's training data.

The baseline must list the features in the order the endpoint receives them (CSV requests carry no
header), and every feature a drift alarm of the stack watches: a feature the baseline lacks is never
measured, and its alarm waits on missing data forever. With ``--stack`` and ``--endpoint`` both are
checked against the stack's settings, and the S3 object the drift job reads is named.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MIN_BINS, MAX_BINS = 2, 100


class BaselineError(Exception):
    """A training file, a column list or a stack setting that cannot make a baseline (exit 2)."""


def read_training_csv(path: Path, columns: Sequence[str] | None = None) -> tuple[list[str], list[list[str]]]:
    """The header and rows of a CSV file with a header row, cut down to ``columns`` in their order."""
    try:
        with path.open(newline="", encoding="utf-8") as f:
            reader = csv.reader(f)
            header = next(reader, None)
            if not header:
                raise BaselineError(f"{path}: empty; a CSV file with a header row of feature names is expected")
            header = [h.strip() for h in header]
            rows = [row for row in reader if row]
    except OSError as err:
        raise BaselineError(f"{path}: cannot read it ({err.strerror})") from None
    except (UnicodeDecodeError, csv.Error) as err:
        raise BaselineError(f"{path}: not a UTF-8 CSV file ({err})") from None
    duplicates = sorted({h for h in header if header.count(h) > 1})
    if duplicates:
        raise BaselineError(f"{path}: the header names {', '.join(duplicates)} more than once")
    for number, row in enumerate(rows, start=2):
        if len(row) != len(header):
            raise BaselineError(f"{path}, line {number}: {len(row)} values, the header has {len(header)} columns")
    if not rows:
        raise BaselineError(f"{path}: a header and no rows; the baseline needs the training rows")
    chosen = list(columns) if columns else header
    missing = [c for c in chosen if c not in header]
    if missing:
        raise BaselineError(f"{path}: no column {', '.join(missing)} (the header has: {', '.join(header)})")
    index = [header.index(c) for c in chosen]
    return chosen, [[row[i] for i in index] for row in rows]


@dataclass(frozen=True)
class Destination:
    """Where the stack's drift job reads an endpoint's baseline, and the features its alarms watch."""

    uri: str
    features: tuple[str, ...]


def destination(root: Path, stack: str, endpoint: str) -> Destination:
    """The baseline object of ``endpoint`` in ``stack`` (its artifacts bucket and monitor.baselinePrefix)
    and the features of the drift alarms on its model family."""
    from components.serving import DRIFT_BASELINE
    from foundation.conventions import physical_name
    from pipelines.offline import stack_settings

    settings = stack_settings(stack, root)
    endpoints = {e.name: e for e in settings.serving.endpoints}
    if endpoint not in endpoints:
        known = ", ".join(sorted(endpoints)) or "none"
        raise BaselineError(
            f"stack '{stack}' (stacks/Pulumi.{stack}.yaml) has no endpoint {endpoint!r} in serving.endpoints "
            f"(it has: {known})"
        )
    e = endpoints[endpoint]
    if e.monitor is None:
        raise BaselineError(
            f"stack '{stack}': endpoint {endpoint!r} has no `monitor` (serving.endpoints[].monitor): nothing reads a "
            "baseline for it"
        )
    if e.monitor.model_monitor:
        raise BaselineError(
            f"stack '{stack}': endpoint {endpoint!r} is measured by Model Monitor (monitor.modelMonitor: true), which "
            "reads statistics.json and constraints.json (its suggest_baseline job), not this baseline"
        )
    bucket = physical_name(settings.environment, "artifacts", settings.account_id, settings.region)
    features = tuple(f for d in settings.monitoring.drift if d.model_family == e.model_family for f in d.features)
    return Destination(f"s3://{bucket}/{e.monitor.baseline_prefix}{DRIFT_BASELINE}", tuple(dict.fromkeys(features)))


def make_baseline(
    training: Path,
    columns: Sequence[str] | None = None,
    categorical: Sequence[str] = (),
    bins: int = 10,
    watched: Sequence[str] = (),
) -> dict[str, Any]:
    """The baseline of ``training`` (functions/drift/drift.py: build_baseline); ``watched`` are the
    features drift alarms read, each of which must be a column."""
    from functions.drift.drift import build_baseline

    if not MIN_BINS <= bins <= MAX_BINS:
        raise BaselineError(f"--bins {bins}: between {MIN_BINS} and {MAX_BINS} bins per numeric feature")
    names, rows = read_training_csv(training, columns)
    unknown = [c for c in categorical if c not in names]
    if unknown:
        raise BaselineError(f"--categorical {', '.join(unknown)}: not a baseline column ({', '.join(names)})")
    unwatched = [f for f in watched if f not in names]
    if unwatched:
        raise BaselineError(
            f"the stack's drift alarms watch {', '.join(unwatched)}, which the baseline would not have "
            f"(its columns: {', '.join(names)}): they would never be measured"
        )
    try:
        return build_baseline(names, rows, categorical=categorical, bins=bins)
    except ValueError as err:  # a feature without a single number, not marked categorical
        raise BaselineError(f"{training}: {err} (--categorical)") from None
