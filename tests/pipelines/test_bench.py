"""`make bench` judges plan time against the import floor with pairs run back to back."""

from __future__ import annotations

from pipelines import bench


def test_each_pair_runs_the_floor_then_the_plan_and_the_verdict_is_the_median_ratio(monkeypatch):
    calls = []
    # a machine that gets loaded after the first pair: both commands of a pair slow down together
    times = iter([1.0, 1.2, 3.0, 3.6, 1.0, 1.3])

    def once(cmd):
        calls.append(cmd[0])
        return next(times)

    monkeypatch.setattr(bench, "_once", once)
    plan, floor, ratio = bench.side_by_side(["plan"], ["floor"], runs=3)
    assert calls == ["floor", "plan"] * 3
    assert (plan, floor) == (1.3, 1.0)  # medians of 1.2, 3.6, 1.3 and of 1.0, 3.0, 1.0
    assert ratio == 1.2  # the median of the ratios 1.2, 1.2, 1.3: the load does not move the verdict
