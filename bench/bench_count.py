"""Benchmark: how long the page will wait on every click — compose (or parse) + resolve + count for
every preset, on the meta device. Writes bench/results/count.json (median / p95 / min in ms per
preset, plus the machine). Run: python bench/bench_count.py [--repeats 15]
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

import torch  # noqa: E402

from graph.compose import compose  # noqa: E402
from graph.counts import count  # noqa: E402
from graph.resolve import resolve  # noqa: E402
from graph.spec import parse  # noqa: E402
from graph.templates import preset_path, presets  # noqa: E402


def one(p: dict, text: str) -> tuple[float, dict]:
    t0 = time.perf_counter()
    if p.get("picks"):
        k = p["picks"]
        spec = compose(k["backbone"], k["neck"], k["head"], k["scale"])
    else:
        spec, _ = parse(text)
    c = count(resolve(spec, 640))
    return (time.perf_counter() - t0) * 1000, {"params": c.params, "gflops": round(c.gflops, 3)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=15)
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "results", "count.json"))
    a = ap.parse_args()
    torch.set_num_threads(1)
    rows = {}
    for name, p in presets().items():
        with open(preset_path(name), encoding="utf-8") as fh:
            text = fh.read()
        one(p, text)  # warm-up: first-call dispatch set-up is paid once per process
        times, info = [], {}
        for _ in range(a.repeats):
            ms, info = one(p, text)
            times.append(ms)
        times.sort()
        rows[name] = {**info, "median_ms": round(statistics.median(times), 1),
                      "p95_ms": round(times[min(len(times) - 1, int(0.95 * len(times)))], 1),
                      "min_ms": round(times[0], 1)}
        print(f"{name:<26} median {rows[name]['median_ms']:>6.1f} ms  p95 {rows[name]['p95_ms']:>6.1f} ms"
              f"  ({info['params']:,} params)")
    result = {"benchmark": "compose/parse + resolve + count at 640, meta device",
              "repeats": a.repeats, "machine": {"python": platform.python_version(), "torch": torch.__version__,
                                                "cpus": os.cpu_count(), "platform": platform.platform()},
              "presets": rows}
    os.makedirs(os.path.dirname(a.out), exist_ok=True)
    with open(a.out, "w") as fh:
        json.dump(result, fh, indent=1)
    print(f"wrote {a.out}")


if __name__ == "__main__":
    main()
