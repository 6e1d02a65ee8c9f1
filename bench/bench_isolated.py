"""Benchmark: what running the page's deploy work in a child process (engine/deploy/isolated.py) costs.

- child start: a job that returns at once (`python -m engine.deploy.isolated`, no torch imported);
- child start + torch: a job that imports torch and returns;
- Measure of yolov8n at 64 px, onnx backend, 1 thread, the page's budget shortened to 0.3 s: through a
  new child (`run_isolated(page_jobs.MEASURE, ...)` with no spare: a page's first click), through the
  spare child the page's Measure job keeps (its imports done: every later click; a 5 s pause before
  it, a user's, lets the spare finish its imports) and in this process (`measure_design`), interleaved;
  the differences are the isolation's cost per click. The machine probe's cache is warmed first.

One run of each, wall-clock seconds, median of --repeats. Writes bench/results/isolated_overhead.json.
    python bench/bench_isolated.py --repeats 3
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from engine.deploy import page_jobs  # noqa: E402
from engine.deploy.isolated import Job, run_isolated  # noqa: E402

JOB = Job("Bench", "the bench process", "", timeout_s=300)


def noop() -> dict:
    return {}


def with_torch() -> dict:
    import torch

    return {"torch": torch.__version__}


def _time(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()

    from app import handlers as h
    from app.measure_panel import MEASURE_JOB  # the page's Measure job: its preload (not imported by children)
    from engine.deploy.measure import measure_design

    _, text = h.preset_yaml("yolov8n")
    per_layer = h.evaluate(text, 64, "yolov8n")["counts"]["per_layer"]
    kw = {"backend": "onnx", "threads": 1, "budget_s": 0.3}
    measure_design(text, 64, per_layer, **kw)  # warms the machine probe's cache and this process's imports
    runs = {"child_start_s": [], "child_start_torch_s": [], "measure_isolated_s": [], "measure_spare_s": [],
            "measure_in_process_s": []}
    request = {"yaml": text, "imgsz": 64, "per_layer": per_layer, **kw}
    warm = Job("BenchWarm", "the bench process", "", timeout_s=300, preload=MEASURE_JOB.preload)
    run_isolated(page_jobs.MEASURE, request, warm)  # leaves the first spare
    for _ in range(args.repeats):
        runs["child_start_s"].append(_time(lambda: run_isolated("bench.bench_isolated:noop", {}, JOB)))
        runs["child_start_torch_s"].append(_time(lambda: run_isolated("bench.bench_isolated:with_torch", {}, JOB)))
        runs["measure_isolated_s"].append(_time(lambda: run_isolated(page_jobs.MEASURE, request, JOB)))
        time.sleep(5)
        runs["measure_spare_s"].append(_time(lambda: run_isolated(page_jobs.MEASURE, request, warm)))
        runs["measure_in_process_s"].append(_time(lambda: measure_design(text, 64, per_layer, **kw)))
    result = {k: round(statistics.median(v), 3) for k, v in runs.items()}
    result["isolation_cost_s"] = round(result["measure_isolated_s"] - result["measure_in_process_s"], 3)
    result["isolation_cost_spare_s"] = round(result["measure_spare_s"] - result["measure_in_process_s"], 3)
    result.update({"repeats": args.repeats, "runs": runs, "cpu": platform.processor() or platform.machine(),
                   "cores": os.cpu_count(), "when": time.strftime("%Y-%m-%d %H:%M")})
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results", "isolated_overhead.json")
    with open(out, "w", encoding="utf-8") as fh:
        json.dump(result, fh, indent=1)
    print(json.dumps({k: v for k, v in result.items() if k != "runs"}, indent=1))


if __name__ == "__main__":
    main()
