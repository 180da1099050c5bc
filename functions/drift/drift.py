"""Drift of a model's inputs, measured on the traffic SageMaker captured against a baseline built
from the training data. Pure Python (standard library only): the same file runs in the Lambda
function and in the tests.

The distance is the Population Stability Index (PSI), per feature:

    PSI = sum over bins i of (a_i - e_i) * ln(a_i / e_i)

where e_i is the share of the baseline in bin i and a_i the share of the captured window (R
package scorecard, ``perf_psi``; Yurdakul and Naranjo, Journal of Risk Model Validation: below 0.1 no
significant shift, 0.1 to 0.25 moderate, above 0.25 significant). Numeric features are binned at the
baseline's quantiles (``edges``: a value v falls in the first bin whose upper edge is >= v, or the
last); categorical features by category, values the baseline never saw in one "unseen" bin. Shares of
zero are floored at ``EPSILON`` so the logarithm stays finite (and PSI is never NaN or infinite,
which CloudWatch refuses).

Capture records are SageMaker's JSON Lines (SageMaker developer guide, "View captured data"):
``captureData.endpointInput`` with ``observedContentType``, ``mode``, ``data`` and ``encoding`` (CSV
for CSV content types, JSON for JSON ones, base64 otherwise, as DataCaptureConfig's
CaptureContentTypeHeader says).
"""

from __future__ import annotations

import base64
import bisect
import csv
import io
import json
import math
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

EPSILON = 1e-4
UNSEEN = "__unseen__"
BASELINE_VERSION = 1


# --- the baseline --------------------------------------------------------------------------------


def build_baseline(
    columns: Sequence[str], rows: Iterable[Sequence[Any]], categorical: Iterable[str] = (), bins: int = 10
) -> dict[str, Any]:
    """A baseline from the training rows (in the order of ``columns``, as the endpoint receives them):
    per numeric feature its quantile edges and the share of rows per bin, per categorical feature the
    share of each category."""
    categorical = set(categorical)
    unknown = sorted(categorical - set(columns))
    if unknown:
        raise ValueError(f"categorical features {unknown} are not columns ({', '.join(columns)})")
    values: dict[str, list] = {c: [] for c in columns}
    for row in rows:
        if len(row) != len(columns):
            raise ValueError(f"a row has {len(row)} values, the baseline has {len(columns)} columns")
        for column, value in zip(columns, row, strict=True):
            values[column].append(value)
    features: dict[str, Any] = {}
    for column in columns:
        if column in categorical:
            counts = Counter(str(v) for v in values[column])
            total = sum(counts.values())
            features[column] = {"type": "categorical", "expected": {k: n / total for k, n in sorted(counts.items())}}
        else:
            numbers = sorted(float(v) for v in values[column] if _number(v) is not None)
            if not numbers:
                raise ValueError(f"feature {column!r} has no numeric value: mark it categorical")
            edges = _quantile_edges(numbers, bins)
            features[column] = {"type": "numeric", "edges": edges, "expected": shares(numbers, edges)}
    return {"version": BASELINE_VERSION, "columns": list(columns), "features": features}


def _quantile_edges(numbers: Sequence[float], bins: int) -> list[float]:
    """The upper edges of the first ``bins - 1`` bins at equal quantiles, without repeats."""
    n = len(numbers)
    edges = [numbers[min(n - 1, math.ceil(n * q / bins) - 1)] for q in range(1, bins)]
    return sorted(set(edges))


def shares(numbers: Sequence[float], edges: Sequence[float]) -> list[float]:
    """The share of ``numbers`` in each of the ``len(edges) + 1`` bins."""
    counts = [0] * (len(edges) + 1)
    for v in numbers:
        counts[bisect.bisect_left(edges, v)] += 1
    total = sum(counts)
    return [c / total for c in counts] if total else [0.0] * len(counts)


# --- the distance --------------------------------------------------------------------------------


def psi(expected: Sequence[float], actual: Sequence[float]) -> float:
    """The Population Stability Index of two distributions over the same bins."""
    if len(expected) != len(actual):
        raise ValueError("the two distributions need the same bins")
    total = 0.0
    for share_expected, share_actual in zip(expected, actual, strict=True):
        e, a = max(share_expected, EPSILON), max(share_actual, EPSILON)
        total += (a - e) * math.log(a / e)
    return total


def feature_drift(spec: Mapping[str, Any], observed: Sequence[Any]) -> float | None:
    """PSI of one feature's observed values against its baseline; None without a usable value."""
    if spec["type"] == "categorical":
        expected = dict(spec["expected"])
        values = [str(v) for v in observed if v is not None and v != ""]
        if not values:
            return None
        counts = Counter(v if v in expected else UNSEEN for v in values)
        keys = [*expected, UNSEEN]
        return psi([expected.get(k, 0.0) for k in keys], [counts[k] / len(values) for k in keys])
    numbers = [n for n in (_number(v) for v in observed) if n is not None]
    if not numbers:
        return None
    return psi(spec["expected"], shares(numbers, spec["edges"]))


def drift(baseline: Mapping[str, Any], rows: Sequence[Mapping[str, Any]]) -> dict[str, float | None]:
    """PSI per feature of the baseline over the captured rows (feature -> value)."""
    return {name: feature_drift(spec, [r.get(name) for r in rows]) for name, spec in baseline["features"].items()}


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or value is None or value == "":
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


# --- captured traffic ----------------------------------------------------------------------------


def records(lines: Iterable[str]) -> Iterator[dict]:
    """The capture records of a JSON Lines file (blank lines skipped)."""
    for line in lines:
        if line.strip():
            yield json.loads(line)


def inputs(record: Mapping[str, Any], columns: Sequence[str]) -> list[dict[str, Any]]:
    """The feature rows of one captured request: CSV rows in the baseline's column order, or JSON
    objects (one, a list of them, or under "instances")."""
    given = (record.get("captureData") or {}).get("endpointInput") or {}
    encoding = str(given.get("encoding", "")).upper()
    data = given.get("data", "")
    content = str(given.get("observedContentType", "")).lower()
    if encoding not in ("CSV", "JSON"):
        data = base64.b64decode(data).decode("utf-8")
        encoding = "JSON" if "json" in content else "CSV"
    if encoding == "CSV":
        return [dict(zip(columns, row, strict=False)) for row in csv.reader(io.StringIO(data)) if row]
    payload = json.loads(data)
    if isinstance(payload, Mapping) and "instances" in payload:
        payload = payload["instances"]
    items = payload if isinstance(payload, list) else [payload]
    rows = []
    for item in items:
        if isinstance(item, Mapping):
            rows.append(dict(item))
        elif isinstance(item, list):
            rows.append(dict(zip(columns, item, strict=False)))
    return rows
