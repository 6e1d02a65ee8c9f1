"""One timing loop: a row of `launch.py export` (engine/deploy/targets.deploy) and the Design tab's Measure
(latency.measure_runner, behind measure.measure and `info --latency`) of the same ONNX file on the same
backend are both timed by latency.time_runner and summarised by latency.summarize, so they report the
same statistics under the same keys. No timing is asserted: the numbers belong to the machine."""
from __future__ import annotations

import numpy as np
import pytest

from engine.deploy import latency
from engine.deploy.options import DeployOptions
from engine.deploy.targets import deploy
from engine.loading import load_any

TIMING_KEYS = {"median_ms", "p10_ms", "p90_ms", "ci_ms", "runs", "warmup_runs", "stable", "threads"}


def test_summarize_by_hand():
    s = latency.summarize([float(k) for k in range(11, 0, -1)])  # 11 runs of 11, 10, ..., 1 ms
    # linear percentiles: p10 at rank 1, p90 at rank 9 of 0..10; n = 11: 1.96 sqrt(11) / 2 = 3.25 ->
    # the median's interval is the order statistics floor(5.5 - 3.25) = 2 and ceil(5.5 + 3.25) = 9
    assert s == {"median_ms": 6.0, "p10_ms": 2.0, "p90_ms": 10.0, "ci_ms": [3.0, 10.0]}


def test_export_rows_and_measure_share_the_statistics(tmp_path, monkeypatch):
    seen = []
    real = latency.summarize

    def spy(times):
        seen.append((list(times), real(times)))
        return seen[-1][1]
    monkeypatch.setattr(latency, "summarize", spy)
    monkeypatch.setattr("engine.deploy.targets.TIMING_BUDGET_S", 0.3)
    loaded = load_any("yolov5n", 64)
    report = deploy(loaded, str(tmp_path / "m.onnx"), opts=DeployOptions(measure=True, runs=6, threads=1))
    row, = report.targets
    assert len(seen) == 1, "the export row was not timed by latency.time_runner"
    times, stats = seen[0]
    assert TIMING_KEYS <= set(row) and {k: row[k] for k in stats} == stats
    assert row["runs"] == len(times) <= 6 and row["threads"] == 1 and row["warmup"] == row["warmup_runs"] >= 3
    assert row["p10_ms"] <= row["median_ms"] <= row["p90_ms"]
    assert "median / p10 / p90 of" in "\n".join(report.details())

    measured = latency.measure_runner("onnx", row["path"], loaded.model, 64, threads=1, budget_s=0.3)
    assert len(seen) == 2, "Measure was not timed by latency.time_runner"
    times, stats = seen[1]
    assert TIMING_KEYS <= set(measured) and {k: measured[k] for k in stats} == stats
    assert measured["runs"] == len(times) and measured["threads"] == 1
    assert {k for k in row if k in TIMING_KEYS} == {k for k in measured if k in TIMING_KEYS}


@pytest.mark.parametrize("runs", [1, 2])
def test_a_run_cap_below_the_minimum_still_reports(runs):
    out = latency.time_runner(lambda x: x.sum(), np.ones(4, dtype=np.float32), 1, budget_s=5.0,
                              max_runs=runs)
    assert out["runs"] == runs and out["threads"] == 1 and not out["stable"]
    assert out["ci_ms"][0] <= out["median_ms"] <= out["ci_ms"][1]
