"""The drift job on data with known answers: the distance, the capture format SageMaker documents,
the window it reads, and what it publishes (an empty window is missing data, never a zero)."""

from __future__ import annotations

import base64
import datetime as dt
import json
import math
import random

import boto3
import pytest
from moto import mock_aws

from functions.drift import drift
from functions.drift.handler import measure, publish, window

# SageMaker developer guide, "View captured data": the documented record (its feature vector cut).
DOCUMENTED = {
    "captureData": {
        "endpointInput": {
            "observedContentType": "text/csv",
            "mode": "INPUT",
            "data": "50,0,188.9,94,203.9\n",
            "encoding": "CSV",
        },
        "endpointOutput": {
            "observedContentType": "text/csv; charset=character-encoding",
            "mode": "OUTPUT",
            "data": "0.023190177977085114",
            "encoding": "CSV",
        },
    },
    "eventMetadata": {"eventId": "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee", "inferenceTime": "2022-02-14T17:25:06Z"},
    "eventVersion": "0",
}
COLUMNS = ["a", "b", "c", "d", "e"]


def test_psi_by_hand():
    # (0.9 - 0.5) ln(0.9/0.5) + (0.1 - 0.5) ln(0.1/0.5) = 0.4 ln 1.8 + 0.4 ln 5
    assert drift.psi([0.5, 0.5], [0.9, 0.1]) == pytest.approx(0.4 * math.log(1.8) + 0.4 * math.log(5))
    assert drift.psi([0.25] * 4, [0.25] * 4) == 0
    assert math.isfinite(drift.psi([0.5, 0.5, 0.0], [0.0, 0.5, 0.5]))  # empty bins are floored, never infinite
    with pytest.raises(ValueError, match="same bins"):
        drift.psi([1.0], [0.5, 0.5])


def test_the_same_distribution_is_near_zero_and_a_shifted_one_above_the_usual_threshold():
    rng = random.Random(7)
    train = [(rng.gauss(50, 10), rng.choice("xxxy")) for _ in range(5000)]
    baseline = drift.build_baseline(["tenure", "plan"], train, categorical=["plan"])
    same = [{"tenure": rng.gauss(50, 10), "plan": rng.choice("xxxy")} for _ in range(2000)]
    shifted = [{"tenure": rng.gauss(65, 10), "plan": rng.choice("xyyy")} for _ in range(2000)]
    near = drift.drift(baseline, same)
    far = drift.drift(baseline, shifted)
    assert near["tenure"] < 0.02 and near["plan"] < 0.02
    assert far["tenure"] > 0.25 and far["plan"] > 0.25  # "significant" (Yurdakul and Naranjo)
    # a category the baseline never saw counts as drift, not as nothing
    assert drift.drift(baseline, [{"tenure": 50, "plan": "z"}] * 100)["plan"] > 1


def test_a_baseline_has_quantile_bins_that_split_the_training_data_evenly():
    baseline = drift.build_baseline(["v"], [[i] for i in range(1, 101)], bins=4)
    spec = baseline["features"]["v"]
    assert spec["edges"] == [25.0, 50.0, 75.0]
    assert spec["expected"] == [0.25, 0.25, 0.25, 0.25]
    assert baseline["columns"] == ["v"] and baseline["version"] == drift.BASELINE_VERSION
    with pytest.raises(ValueError, match="no numeric value"):
        drift.build_baseline(["v"], [["x"]])
    with pytest.raises(ValueError, match=r"\['w'\] are not columns"):
        drift.build_baseline(["v"], [[1]], categorical=["w"])


def test_features_without_a_usable_value_have_no_distance():
    baseline = drift.build_baseline(["n", "c"], [[1, "a"], [2, "b"]], categorical=["c"])
    assert drift.drift(baseline, [{"n": "", "c": ""}, {"n": "NaN"}]) == {"n": None, "c": None}


def test_the_documented_capture_record_and_the_other_encodings():
    (row,) = drift.inputs(DOCUMENTED, COLUMNS)
    assert row == {"a": "50", "b": "0", "c": "188.9", "d": "94", "e": "203.9"}
    as_json = {
        "captureData": {"endpointInput": {"encoding": "JSON", "data": json.dumps({"instances": [[1, 2], [3, 4]]})}}
    }
    assert drift.inputs(as_json, ["a", "b"]) == [{"a": 1, "b": 2}, {"a": 3, "b": 4}]
    objects = {"captureData": {"endpointInput": {"encoding": "JSON", "data": json.dumps({"a": 5})}}}
    assert drift.inputs(objects, ["a"]) == [{"a": 5}]
    # no content type listed as CSV or JSON: SageMaker captures base64 (DataCaptureConfig)
    encoded = base64.b64encode(b"7,8\n9,10\n").decode()
    raw = {"captureData": {"endpointInput": {"encoding": "BASE64", "observedContentType": "text/csv", "data": encoded}}}
    assert drift.inputs(raw, ["a", "b"]) == [{"a": "7", "b": "8"}, {"a": "9", "b": "10"}]
    assert list(drift.records(["", json.dumps(DOCUMENTED), "  "])) == [DOCUMENTED]


def test_the_window_is_the_last_complete_hour_or_day():
    now = dt.datetime(2026, 3, 1, 0, 20, tzinfo=dt.UTC)
    start, hours = window("hourly", now)
    assert (start.isoformat(), hours) == ("2026-02-28T23:00:00+00:00", ["2026/02/28/23"])
    start, hours = window("daily", now)
    assert start == dt.datetime(2026, 2, 28, tzinfo=dt.UTC)
    assert hours[0] == "2026/02/28/00" and hours[-1] == "2026/02/28/23" and len(hours) == 24


class Recorder:
    def __init__(self):
        self.calls = []

    def put_metric_data(self, **kw):
        self.calls.append(kw)


EVENT = {
    "endpointName": "mlplatform-dev-churn",
    "variant": "primary",
    "captureUri": "s3://capture-bucket/capture/churn/",
    "baselineUri": "s3://capture-bucket/monitoring/churn/baseline/baseline.json",
    "reportsUri": "s3://capture-bucket/monitoring/churn/reports/",
    "namespace": "mlplatform/Drift",
    "window": "hourly",
}


@mock_aws
def test_a_window_of_capture_files_is_measured_and_published_and_an_empty_one_is_missing_data():
    s3 = boto3.client("s3", region_name="eu-west-1")
    s3.create_bucket(Bucket="capture-bucket", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    baseline = drift.build_baseline(COLUMNS, [[i, 0, 100 + i, i % 7, 200] for i in range(100)])
    s3.put_object(Bucket="capture-bucket", Key="monitoring/churn/baseline/baseline.json", Body=json.dumps(baseline))
    folder = "capture/churn/mlplatform-dev-churn/primary/2026/02/28/23/"
    lines = "\n".join(json.dumps(DOCUMENTED) for _ in range(30))
    s3.put_object(Bucket="capture-bucket", Key=folder + "a.jsonl", Body=lines)
    s3.put_object(Bucket="capture-bucket", Key=folder + "b.jsonl", Body=lines)
    # an hour outside the window is not read
    s3.put_object(Bucket="capture-bucket", Key=folder.replace("/23/", "/22/") + "c.jsonl", Body=lines)
    now = dt.datetime(2026, 3, 1, 0, 15, tzinfo=dt.UTC)
    report = measure(EVENT, s3, now)
    assert (report["files"], report["records"]) == (2, 60)
    assert set(report["psi"]) == set(COLUMNS) and report["psi"]["c"] > 1  # 188.9 is far above the baseline
    cloudwatch = Recorder()
    publish(report, EVENT, cloudwatch)
    (call,) = cloudwatch.calls
    assert call["Namespace"] == "mlplatform/Drift"
    by_metric = {(d["MetricName"], tuple(x["Value"] for x in d["Dimensions"])): d["Value"] for d in call["MetricData"]}
    assert by_metric[("CapturedRecords", ("mlplatform-dev-churn",))] == 60
    assert by_metric[("FeatureDrift", ("mlplatform-dev-churn", "c"))] == report["psi"]["c"]
    # the next hour has no capture: no drift value at all, and zero records said
    empty = measure(EVENT, s3, now + dt.timedelta(hours=1))
    assert (empty["records"], empty["psi"]) == (0, {})
    cloudwatch = Recorder()
    publish(empty, EVENT, cloudwatch)
    assert [d["MetricName"] for d in cloudwatch.calls[0]["MetricData"]] == ["CapturedRecords"]
