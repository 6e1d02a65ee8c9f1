"""Benchmark: how long a count takes — parse + resolve + count (params, GFLOPs in every convention,
fused counts, layers, dead params) of each preset's yaml at 640 on the meta device, one torch thread:

- whole model: what the previous counter did on every count, from the same primitives — the whole model
  built on the meta device, its hooked passes (the real image with the dead-weight watch, the stride
  image for squeeze-and-excite, Ultralytics' proxies), then folded and run again: the "before";
- cold: the per-layer memo emptied before every repeat and the disk cache off (graph/layercost.py):
  every layer built and run, as for a design made of layers never seen;
- warm: the same design again, every layer's numbers already known (what the page and explore see
  after the first time, and a new process too, through the disk cache);
- ultralytics (with --ultralytics-python): Ultralytics 8.4 building the same yaml file and computing
  its FLOPs — `DetectionModel(path, verbose=False)` + `model_info(model)` — in that python, a
  separate process driven line by line, timed there and interleaved with ours preset by preset.
  The project never imports Ultralytics; this file sends that python a few lines of our own (below)
  to run. Designs Ultralytics cannot build (YOLOv5 anchors, blocks it lacks) say why.

With --explore, also the whole design space of graph/explore.py at 640 / 80 classes: cold (empty memo,
an empty disk cache in a temp folder), again in the same process (its per-layer memo full), and
`launch.py explore --json` in a new process reading that disk cache.

Writes bench/results/count.json. Run:
    python bench/bench_count.py --repeats 15 --ultralytics-python /work/scratch/ul/bin/python \
        --ultralytics-env PYTHONPATH=/work/scratch/stub
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import torch  # noqa: E402

from graph import costcache  # noqa: E402
from graph import dead as dead_weights  # noqa: E402
from graph.counts import _paused_gc, count, yolo_layer_count  # noqa: E402
from graph.flops import layer_macs, ultralytics_macs  # noqa: E402
from graph.layercost import MEMO, NOT_BY_AREA  # noqa: E402
from graph.model import DetectionModel, checked_params  # noqa: E402
from graph.resolve import resolve  # noqa: E402
from graph.spec import parse  # noqa: E402
from graph.templates import preset_path, presets  # noqa: E402

# Run by the Ultralytics python: for each line "path<TAB>repeats" build + model_info that many times
# after one warm-up and print one json line.
ULTRALYTICS_DRIVER = r"""
import json, logging, sys, time
import torch
torch.set_num_threads(1)
from ultralytics.utils import LOGGER
LOGGER.setLevel(logging.ERROR)
from ultralytics.nn.tasks import DetectionModel
from ultralytics.utils.torch_utils import model_info
import ultralytics
print(json.dumps({"ready": ultralytics.__version__}), flush=True)
for line in sys.stdin:
    path, repeats = line.rstrip("\n").split("\t")
    try:
        model = DetectionModel(path, verbose=False)
        info = model_info(model)
        times = []
        for _ in range(int(repeats)):
            t0 = time.perf_counter()
            model = DetectionModel(path, verbose=False)
            info = model_info(model)
            times.append((time.perf_counter() - t0) * 1000)
        print(json.dumps({"layers": info[0], "params": info[1], "gflops": info[3], "ms": times}), flush=True)
    except Exception as err:
        why = (str(err).strip().splitlines() or [repr(err)])[0][:160]
        print(json.dumps({"error": f"{type(err).__name__}: {why}"}), flush=True)
"""


def ours(text: str) -> tuple[float, dict]:
    t0 = time.perf_counter()
    spec, _ = parse(text)
    c = count(resolve(spec, 640))
    return (time.perf_counter() - t0) * 1000, {"params": c.params, "gflops": round(c.gflops, 3), "layers": c.layers,
                                                "gflops_ultralytics": round(c.gflops_ultralytics, 3)}


def whole_model(text: str) -> float:
    """parse + resolve + the previous counter's work on the whole model (its passes, in its order)."""
    t0 = time.perf_counter()
    graph = resolve(parse(text)[0], 640)
    with _paused_gc():
        model = DetectionModel(graph, device="meta")
        checked_params(model)
        image = torch.empty(1, graph.spec.ch, 640, 640, device="meta")
        with dead_weights.watching(model, functions=False) as seen:
            layer_macs(model, image, [])
        found = dead_weights.unused(model, image, seen)
        if any(type(m) in NOT_BY_AREA for m in model.modules()):
            stride = max(graph.max_stride, 32)
            layer_macs(model, torch.empty(1, graph.spec.ch, stride, stride, device="meta"))
        yolo_layer_count(model, leaves=graph.spec.dialect == "ultralytics")
        ultralytics_macs(model, graph.spec.ch, 640, graph.max_stride)
        model.fuse(found.modules)
        layer_macs(model, image)
    return (time.perf_counter() - t0) * 1000


def stats(times: list[float]) -> dict:
    times = sorted(times)
    return {"median_ms": round(statistics.median(times), 2),
            "p95_ms": round(times[min(len(times) - 1, int(0.95 * len(times)))], 2), "min_ms": round(times[0], 2)}


class Ultralytics:
    """The Ultralytics python, started once, asked preset by preset."""

    def __init__(self, python: str, env: list[str]):
        extra = dict(e.split("=", 1) for e in env)
        self.cwd = tempfile.mkdtemp(prefix="bench-count-ul-")  # anything it writes lands there
        self.proc = subprocess.Popen([python, "-c", ULTRALYTICS_DRIVER], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     text=True, cwd=self.cwd,
                                     env={**os.environ, "YOLO_OFFLINE": "1", "YOLO_VERBOSE": "False", **extra})
        first = self.proc.stdout.readline()
        if not first:
            raise SystemExit(f"{python} did not start the Ultralytics driver (is ultralytics installed there?)")
        self.version = json.loads(first)["ready"]

    def time(self, path: str, repeats: int) -> dict:
        self.proc.stdin.write(f"{path}\t{repeats}\n")
        self.proc.stdin.flush()
        out = json.loads(self.proc.stdout.readline())
        if "ms" in out:
            out.update(stats(out.pop("ms")))
        return out

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait(timeout=60)


def time_explore() -> dict:
    from graph import explore as space

    out = {}
    with tempfile.TemporaryDirectory(prefix="bench-count-cache-") as cache:
        os.environ["YLD_CACHE"] = cache
        costcache.reset()
        MEMO.clear()
        for run in ("cold", "warm"):
            space._explored.cache_clear()  # its per-(imgsz, nc) result: the counting is what is timed
            t0, c0 = time.perf_counter(), time.process_time()
            done = space.explore(640, 80)
            out[run] = {"wall_s": round(time.perf_counter() - t0, 1), "cpu_s": round(time.process_time() - c0, 1)}
        out.update(designs=len(done.rows), tried=done.tried, front=sum(r["pareto"] for r in done.rows))
        t0 = time.perf_counter()
        p = subprocess.run([sys.executable, "launch.py", "explore", "--json"], capture_output=True, text=True,
                           cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))), check=True)
        out["new_process"] = {"wall_s": round(time.perf_counter() - t0, 1),
                              "explore_s": json.loads(p.stdout)["seconds"]}
    costcache.disable()
    print(f"explore: {out}", flush=True)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=15)
    ap.add_argument("--ultralytics-python", help="a python with ultralytics installed: adds its column")
    ap.add_argument("--ultralytics-env", action="append", default=[], metavar="KEY=VALUE",
                    help="environment for that python (e.g. PYTHONPATH=...), repeatable")
    ap.add_argument("--presets", nargs="*", help="only these presets")
    ap.add_argument("--explore", action="store_true", help="also time the whole design space (minutes cold)")
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "results", "count.json"))
    a = ap.parse_args()
    torch.set_num_threads(1)
    costcache.disable()  # cold means cold; warm comes from the in-process memo alone
    ul = Ultralytics(a.ultralytics_python, a.ultralytics_env) if a.ultralytics_python else None
    rows, load = {}, [os.getloadavg()[0]]
    for name in a.presets or presets():
        with open(preset_path(name), encoding="utf-8") as fh:
            text = fh.read()
        ours(text)  # first-call dispatch set-up is paid once per process
        whole_model(text)
        cold, whole = [], []
        for _ in range(a.repeats):  # alternately, so both see the same moments of a shared machine
            whole.append(whole_model(text))
            MEMO.clear()
            ms, info = ours(text)
            cold.append(ms)
        warm = [ours(text)[0] for _ in range(a.repeats)]
        row = {**info, "whole_model": stats(whole), "cold": stats(cold), "warm": stats(warm)}
        line = (f"{name:<26} whole model {row['whole_model']['median_ms']:>6.1f} ms  cold "
                f"{row['cold']['median_ms']:>6.1f} ms  warm {row['warm']['median_ms']:>6.2f} ms")
        if ul:
            u = row["ultralytics"] = ul.time(preset_path(name), a.repeats)
            if "median_ms" in u:
                row["ultralytics_over_warm"] = round(u["median_ms"] / row["warm"]["median_ms"], 1)
                row["ultralytics_over_cold"] = round(u["median_ms"] / row["cold"]["median_ms"], 2)
                row["same_params"] = u["params"] == info["params"]
                line += (f"  ultralytics {u['median_ms']:>6.1f} ms ({row['ultralytics_over_warm']}x warm, "
                         f"{row['ultralytics_over_cold']}x cold{'' if row['same_params'] else ', PARAMS DIFFER'})")
            else:
                line += f"  ultralytics: {u['error']}"
        rows[name] = row
        print(line, flush=True)
    load.append(os.getloadavg()[0])
    if ul:
        ul.close()
    explored = time_explore() if a.explore else None
    result = {"benchmark": "parse + resolve + count at 640, meta device, 1 torch thread: cold / warm per-layer memo"
                           + (", beside Ultralytics DetectionModel + model_info" if ul else ""),
              "repeats": a.repeats, "command": " ".join(["python", *sys.argv]),
              "ultralytics": ul.version if ul else None, "load_average": load,
              "machine": {"python": platform.python_version(), "torch": torch.__version__,
                          "cpus": os.cpu_count(), "platform": platform.platform()},
              "presets": rows, **({"explore": explored} if explored else {})}
    os.makedirs(os.path.dirname(a.out), exist_ok=True)
    with open(a.out, "w") as fh:
        json.dump(result, fh, indent=1)
    print(f"wrote {a.out}")


if __name__ == "__main__":
    main()
