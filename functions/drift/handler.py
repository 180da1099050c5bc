"""The drift job: started by EventBridge Scheduler with the endpoint's settings as its event, it reads
the window's capture files, measures each feature's PSI against the baseline, writes a report and
publishes the metrics the drift alarms read. An empty window publishes no drift value (the alarms see
missing data, never a reassuring zero) and a CapturedRecords of 0."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

try:
    import drift  # in the function's package: the two files side by side
except ImportError:  # imported as functions.drift.handler (the tests)
    from functions.drift import drift

WINDOWS = {"hourly": dt.timedelta(hours=1), "daily": dt.timedelta(days=1)}


def window(kind: str, now: dt.datetime) -> tuple[dt.datetime, list[str]]:
    """The last complete window before ``now`` and the hour folders (yyyy/mm/dd/hh) it spans: the
    capture files are organised by the hour of the invocation (SageMaker Python SDK docs)."""
    length = WINDOWS[kind]
    end = now.replace(minute=0, second=0, microsecond=0)
    if kind == "daily":
        end = end.replace(hour=0)
    start = end - length
    hours = int(length.total_seconds() // 3600)
    return start, [(start + dt.timedelta(hours=h)).strftime("%Y/%m/%d/%H") for h in range(hours)]


def _split(uri: str) -> tuple[str, str]:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return bucket, key


def measure(event: dict[str, Any], s3, now: dt.datetime) -> dict[str, Any]:
    """The report of one window (no AWS call but S3 reads through ``s3``)."""
    bucket, key = _split(event["baselineUri"])
    baseline = json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
    start, hours = window(event["window"], now)
    capture_bucket, prefix = _split(event["captureUri"])
    rows: list[dict] = []
    files = 0
    paginator = s3.get_paginator("list_objects_v2")
    for hour in hours:
        folder = f"{prefix}{event['endpointName']}/{event['variant']}/{hour}/"
        for page in paginator.paginate(Bucket=capture_bucket, Prefix=folder):
            for obj in page.get("Contents", []):
                body = s3.get_object(Bucket=capture_bucket, Key=obj["Key"])["Body"].read().decode("utf-8")
                files += 1
                for record in drift.records(body.splitlines()):
                    rows += drift.inputs(record, baseline["columns"])
    distances = drift.drift(baseline, rows) if rows else {}
    return {
        "endpoint": event["endpointName"],
        "window": {"start": start.isoformat(), "hours": len(hours)},
        "files": files,
        "records": len(rows),
        "psi": {f: d for f, d in distances.items() if d is not None},
    }


def publish(report: dict[str, Any], event: dict[str, Any], cloudwatch) -> None:
    endpoint = {"Name": "Endpoint", "Value": report["endpoint"]}
    data = [{"MetricName": "CapturedRecords", "Dimensions": [endpoint], "Value": report["records"], "Unit": "Count"}]
    data += [
        {"MetricName": "FeatureDrift", "Dimensions": [endpoint, {"Name": "Feature", "Value": f}], "Value": value}
        for f, value in report["psi"].items()
    ]
    for i in range(0, len(data), 1000):  # PutMetricData takes at most 1,000 values a request
        cloudwatch.put_metric_data(Namespace=event["namespace"], MetricData=data[i : i + 1000])


def handler(event: dict[str, Any], _context: Any = None) -> dict[str, Any]:
    import boto3

    now = dt.datetime.now(dt.UTC)
    s3 = boto3.client("s3")
    report = measure(event, s3, now)
    bucket, prefix = _split(event["reportsUri"])
    start = dt.datetime.fromisoformat(report["window"]["start"])
    s3.put_object(Bucket=bucket, Key=f"{prefix}{start:%Y/%m/%d/%H}.json", Body=json.dumps(report).encode())
    publish(report, event, boto3.client("cloudwatch"))
    return report
