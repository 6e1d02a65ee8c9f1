"""Benchmark: a design's deploy form measured the way `launch.py info --latency` and the page's Measure
button measure it (engine/deploy/measure.py; its timing loop, engine/deploy/latency.time_runner, is also the
one `launch.py export` times every target with) — median, p10, p90 and their runs, the threads, the
per-layer profile's sum against the measured median (the goal: within 10%) and against its own runs,
nodes of no layer, and the roofline estimate of this machine next to the measured median.

This machine is shared: the load average before and after is written with the numbers, as a busy
machine both slows the runs and spreads them.

Writes bench/results/latency.json. Run:
    python bench/bench_latency.py --preset yolov8n --imgsz 640 --backend onnx [--threads N] [--budget 20]
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from engine.deploy.measure import measure_design  # noqa: E402
from graph.counts import count  # noqa: E402
from graph.resolve import resolve  # noqa: E402
from graph.source import source  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--preset", action="append", help="repeatable (default yolov8n)")
    p.add_argument("--imgsz", type=int, default=640)
    p.add_argument("--backend", default="onnx")
    p.add_argument("--threads", type=int)
    p.add_argument("--budget", type=float, default=20.0, help="timing budget, seconds")
    p.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "results", "latency.json"))
    a = p.parse_args()
    rows = []
    for name in a.preset or ["yolov8n"]:
        design = source(name)
        counts = count(resolve(design.spec, a.imgsz))
        load = os.getloadavg()
        t0 = time.time()
        r = measure_design(design, a.imgsz, counts.as_dict()["per_layer"], backend=a.backend, threads=a.threads,
                           budget_s=a.budget)
        here = r["roofline"][0]
        prof = r["profile"]
        rows.append({"preset": name, "imgsz": a.imgsz, "backend": r["backend"], "threads": r["threads"],
                     "median_ms": round(r["median_ms"], 2), "p10_ms": round(r["p10_ms"], 2),
                     "p90_ms": round(r["p90_ms"], 2), "ci_ms": [round(v, 2) for v in r["ci_ms"]], "runs": r["runs"],
                     "stable": r["stable"], "profile_runs": prof["runs"], "profile_sum_ms": round(prof["sum_ms"], 2),
                     "profile_sum_over_median": round(prof["ratio"], 3),
                     "profile_coverage_of_own_runs": round(prof["coverage"], 3) if prof["coverage"] else None,
                     "nodes": prof["nodes"], "nodes_of_no_layer": prof["other_ms"],
                     "this_machine_gflops": here["gflops"], "this_machine_gbps": here["gbps"],
                     "roofline_estimate_ms": round(here["estimate_ms"], 2),
                     "measured_over_estimate": round(here["measured_over_estimate"], 2),
                     "fused_gflops": round(counts.fused_gflops, 3), "mac_bytes": counts.mac_bytes,
                     "load_before": [round(v, 2) for v in load], "load_after": [round(v, 2) for v in os.getloadavg()],
                     "seconds": round(time.time() - t0, 1)})
        print(json.dumps(rows[-1]))
    os.makedirs(os.path.dirname(a.out), exist_ok=True)
    with open(a.out, "w", encoding="utf-8") as fh:
        json.dump({"machine": {"cpu": r["cpu"], "cores": os.cpu_count(), "python": platform.python_version()},
                   "command": " ".join(sys.argv), "rows": rows}, fh, indent=1)
    print(f"wrote {a.out}")


if __name__ == "__main__":
    main()
