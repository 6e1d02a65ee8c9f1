"""Benchmark: per preset, PyTorch eager vs onnxruntime latency of the deploy (fused) model at 320 and
640, and the effective GFLOP/s of each against a float32 matrix-multiply peak measured in the same run;
with the deploy targets (default on, --no-targets to skip; bench/deploy_targets.py) also the static
INT8 ONNX on onnxruntime and the OpenVINO fp32 / INT8 models of the same row, timed in the same blocks,
and (--map-checkpoints) every target's mAP50 / mAP50-95 for short-trained checkpoints.

For every preset and image size: build the model (untrained: its timing is real), fuse it
(engine.deploy.export.deploy_model) and export + check its ONNX (engine.deploy.export.export_onnx) into
a temp dir. Then time the forward only: torch eager under torch.inference_mode() on a (1, 3, s, s)
tensor, and onnxruntime InferenceSession.run (CPU provider, default session options) on the same
tensor. Per pass: two warm-up runs each, then N timed runs per backend in two rounds of blocks (torch,
onnx / onnx, torch, so drift hits both alike; blocks rather than run-by-run alternation, because each
backend's spinning pool threads slow the other's next run). The whole sweep is repeated (--repeats
passes, default 3, so a burst of noise hits one pass of a row, not all); a row's runs are pooled over
its passes: median and p90 (nearest rank) in ms, with each pass's median kept too.

Effective GFLOP/s = the fused model's GFLOPs at that size (graph.counts `fused_gflops`: 2 x
multiply-adds) / median seconds; utilisation = effective / matmul peak, the best torch.matmul
GFLOP/s (2 n^3 / t, n = 1024 and 2048) measured at the start, between passes and at the end
(onnxruntime's own MatMul peak is recorded alongside). With --stages (default) the pre / inference /
post medians of Predictor.benchmark on one synthetic 480x640 image are recorded too (post = decode +
NMS, on random weights: many boxes).

The machine is shared: another process on one of the 2 cores makes torch's 2-thread eager runs up to
tens of times slower. So each measurement first waits (bounded) for other processes to go quiet, the
CPU they used while each pass of a row was timed is recorded (`outside_load_cores`), disturbed
passes are left out of their row, and rows disturbed in every pass are re-timed (flagged when still
disturbed).

Writes bench/results/inference.json and prints a table.
Run: python bench/bench_inference.py [--presets yolov5n,yolov8n] [--sizes 320,640] [--runs-320 10]
     [--runs-640 5] [--repeats 3] [--no-stages] [--retry-passes 2] [--quiet-budget 240]
     [--no-targets] [--calib 64] [--map-checkpoints a.pt,b.pt] [--out F.json]
"""
from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402
import onnxruntime as ort  # noqa: E402
import torch  # noqa: E402

from deploy_targets import EXTRA, build_extra, extra_columns, map_rows  # noqa: E402
from engine.deploy.export import deploy_model, export_onnx  # noqa: E402
from engine.deploy.predictor import Predictor  # noqa: E402
from engine.heads import head_kind  # noqa: E402
from engine.loading import load_design  # noqa: E402
from graph.counts import count  # noqa: E402
from graph.resolve import resolve  # noqa: E402
from graph.spec import parse  # noqa: E402
from graph.templates import preset_path, presets  # noqa: E402

WARMUP = 2
BUSY_FIELDS = (0, 1, 2, 5, 6, 7)  # /proc/stat cpu: user nice system irq softirq steal (not idle, iowait)


class OutsideLoad:
    """CPU cores used by everything but this process (steal included) between start() and stop(),
    from /proc/stat and /proc/self/stat; None where /proc is not there. Another job on these 2 cores
    makes torch's 2-thread runs many times slower (seen: 61 -> 900 ms), so every row records it."""

    def __init__(self):
        self.t0 = self.busy0 = self.own0 = None

    @staticmethod
    def _read():
        try:
            with open("/proc/stat") as fh:
                cpu = [int(v) for v in fh.readline().split()[1:]]
            with open("/proc/self/stat") as fh:
                own = fh.read().rsplit(")", 1)[1].split()
            return sum(cpu[i] for i in BUSY_FIELDS if i < len(cpu)), int(own[11]) + int(own[12])
        except (OSError, ValueError, IndexError):
            return None, None

    def start(self) -> "OutsideLoad":
        self.t0 = time.perf_counter()
        self.busy0, self.own0 = self._read()
        return self

    def stop(self) -> float | None:
        busy, own = self._read()
        wall = time.perf_counter() - self.t0
        if busy is None or self.busy0 is None or wall <= 0:
            return None
        hz = os.sysconf("SC_CLK_TCK")
        return round(max(0.0, ((busy - self.busy0) - (own - self.own0)) / hz / wall), 2)


class QuietGate:
    """Waits, before each measurement, until other processes use at most `max_load` cores over a
    1 s window: at most `cap_s` per wait and `budget_s` over the whole run, so a machine that never
    quiets down still finishes (the load actually seen is recorded with every row either way)."""

    def __init__(self, max_load: float, budget_s: float, cap_s: float = 30.0, window_s: float = 1.0):
        self.max_load, self.left, self.cap, self.window = max_load, budget_s, cap_s, window_s

    def wait(self) -> float:
        t0 = time.perf_counter()
        while self.left > 0 and time.perf_counter() - t0 < self.cap:
            probe = OutsideLoad().start()
            time.sleep(self.window)
            load = probe.stop()
            self.left -= self.window
            if load is None or load <= self.max_load:
                break
        return round(time.perf_counter() - t0, 1)


def p90(times: list[float]) -> float:
    """Nearest-rank 90th percentile (with 5 runs: the slowest)."""
    s = sorted(times)
    return s[min(len(s) - 1, max(0, -(-9 * len(s) // 10) - 1))]


def session_options() -> ort.SessionOptions:
    opts = ort.SessionOptions()  # defaults: intra_op_num_threads 0 (= one per physical core), ORT_ENABLE_ALL
    opts.log_severity_level = 3
    return opts


def torch_matmul_peak(sizes=(1024, 2048), trials: int = 5, min_s: float = 0.2) -> dict:
    """Best GFLOP/s of float32 torch.matmul per size: each trial repeats the product for >= min_s;
    plus the outside load while it ran."""
    out = {}
    load = OutsideLoad().start()
    gen = torch.Generator().manual_seed(0)
    for n in sizes:
        a, b = torch.randn(n, n, generator=gen), torch.randn(n, n, generator=gen)
        c = torch.empty(n, n)
        torch.matmul(a, b, out=c)
        reps = 1
        while True:  # calibrate: enough repetitions to fill min_s
            t0 = time.perf_counter()
            for _ in range(reps):
                torch.matmul(a, b, out=c)
            dt = time.perf_counter() - t0
            if dt >= min_s / 4:
                reps = max(1, int(reps * min_s / dt))
                break
            reps *= 4
        best = 0.0
        for _ in range(trials):
            t0 = time.perf_counter()
            for _ in range(reps):
                torch.matmul(a, b, out=c)
            best = max(best, 2 * n ** 3 * reps / (time.perf_counter() - t0) / 1e9)
        out[n] = round(best, 1)
    out["outside_load_cores"] = load.stop()
    return out


def quiet_peak(gate: QuietGate, tries: int = 3) -> dict:
    """torch_matmul_peak after the quiet gate, measured again (up to `tries` times) while other
    processes used more than the gate's limit; the best of the tries per size."""
    out: dict = {}
    max_load = gate.max_load
    for i in range(tries):
        gate.wait()
        got = torch_matmul_peak()
        for k, v in got.items():
            out[k] = v if k == "outside_load_cores" else max(v, out.get(k, 0.0))
        if (got["outside_load_cores"] or 0) <= max_load:
            break
    out["tries"] = i + 1
    return out


def ort_matmul_peak(n: int = 1024, trials: int = 5, reps: int = 10) -> float:
    """Best GFLOP/s of a single float32 MatMul node in onnxruntime (default session options)."""
    from onnx import TensorProto, helper

    graph = helper.make_graph([helper.make_node("MatMul", ["a", "b"], ["c"])], "mm",
                              [helper.make_tensor_value_info("a", TensorProto.FLOAT, [n, n]),
                               helper.make_tensor_value_info("b", TensorProto.FLOAT, [n, n])],
                              [helper.make_tensor_value_info("c", TensorProto.FLOAT, [n, n])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = min(model.ir_version, 9)
    sess = ort.InferenceSession(model.SerializeToString(), session_options(),
                                providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(0)
    feed = {k: rng.standard_normal((n, n), dtype=np.float32) for k in ("a", "b")}
    sess.run(None, feed)
    best = 0.0
    for _ in range(trials):
        t0 = time.perf_counter()
        for _ in range(reps):
            sess.run(None, feed)
        best = max(best, 2 * n ** 3 * reps / (time.perf_counter() - t0) / 1e9)
    return round(best, 1)


def time_both(model: torch.nn.Module, sess: ort.InferenceSession, imgsz: int, runs: int, rounds: int = 2,
              extra: dict | None = None):
    """Forward-only ms lists for torch eager and onnxruntime (and each `extra` runner of a numpy
    input) on the same (1, 3, s, s) tensor: {backend: [ms]}, and the outside load.

    Timed in blocks, not run by run: onnxruntime's pool threads spin after each run (its default
    session.intra_op.allow_spinning) and so do torch's OpenMP threads, and on 2 cores a run that
    starts right after the other backend's is slowed by them (seen: torch 25 -> 70 ms). So: WARMUP runs
    each, then `rounds` rounds (order swapped each round, against drift) of one untimed run plus a
    share of the timed runs per backend."""
    x = torch.rand(1, 3, imgsz, imgsz, generator=torch.Generator().manual_seed(0))
    feed = {sess.get_inputs()[0].name: x.numpy()}
    out_name = [sess.get_outputs()[0].name]
    fns = {"torch": lambda: model(x), "onnx": lambda: sess.run(out_name, feed)}
    fns.update({k: (lambda run=run, a=x.numpy(): run(a)) for k, run in (extra or {}).items()})
    times = {b: [] for b in fns}
    rounds = max(1, min(rounds, runs))
    load = OutsideLoad().start()
    shares = [runs // rounds + (1 if i < runs % rounds else 0) for i in range(rounds)]
    with torch.inference_mode():
        for b in fns:
            for _ in range(WARMUP):
                fns[b]()
        for i, k in enumerate(shares):
            for b in (list(fns) if i % 2 == 0 else list(fns)[::-1]):
                fns[b]()  # absorbs the other backend's spinning threads
                for _ in range(k):
                    t0 = time.perf_counter()
                    fns[b]()
                    times[b].append((time.perf_counter() - t0) * 1e3)
    return times, load.stop()


def prepare(name: str, text: str, imgsz: int, folder: str, calib: int = 0) -> dict:
    """Counts, the deploy (fused) torch model and its checked ONNX file, built once per row; with
    `calib` images, also the INT8 / OpenVINO targets (deploy_targets.build_extra)."""
    spec, _ = parse(text, name=name)
    c = count(resolve(spec, imgsz))
    loaded = load_design(text, imgsz, name)
    model = deploy_model(loaded.model)
    res = export_onnx(loaded, os.path.join(folder, f"{name}-{imgsz}.onnx"), imgsz)
    stride = int(model.stride.max())
    extra = build_extra(res.path, imgsz, stride, calib, lambda p: ort.InferenceSession(
        p, session_options(), providers=["CPUExecutionProvider"])) if calib else {"runners": {}}
    return {"preset": name, "imgsz": imgsz, "counts": c, "model": model, "onnx": res.path, "names": loaded.names,
            "head": head_kind(model).name, "diff": res.max_abs_diff, "extra": extra, "bytes": res.bytes,
            "nodes": [res.nodes_before["nodes"], res.nodes_after["nodes"]]}


def measure(prep: dict, runs: int, gate: QuietGate) -> dict:
    """One timed attempt of a row: fresh onnxruntime session, quiet gate, both backends."""
    sess = ort.InferenceSession(prep["onnx"], session_options(), providers=["CPUExecutionProvider"])
    gc.collect()
    waited = gate.wait()
    times, outside = time_both(prep["model"], sess, prep["imgsz"], runs, extra=prep["extra"]["runners"])
    return {**times, "outside_load_cores": outside, "quiet_wait_s": waited}


def stage_times(prep: dict) -> dict:
    """Predictor.benchmark medians (pre / inference / post, 3 runs) on a synthetic 480x640 image."""
    img = np.random.default_rng(0).integers(0, 256, (480, 640, 3), dtype=np.uint8)
    sess = ort.InferenceSession(prep["onnx"], session_options(), providers=["CPUExecutionProvider"])
    model, imgsz = prep["model"], prep["imgsz"]
    preds = {"torch": Predictor.from_torch(model, prep["names"], imgsz),
             "onnx": Predictor.from_onnx(sess, prep["head"], model.nc, prep["names"], imgsz)}
    return {b: p.benchmark(img, runs=3) for b, p in preds.items()}


def summarise(prep: dict, attempts: list[dict], max_load: float) -> dict:
    """A row from its attempts: the undisturbed ones (all, flagged, when none was), runs pooled."""
    clean = [t for t in attempts if (t["outside_load_cores"] or 0) <= max_load]
    used = clean or attempts
    t_torch = [v for t in used for v in t["torch"]]
    t_onnx = [v for t in used for v in t["onnx"]]
    tm, om = statistics.median(t_torch), statistics.median(t_onnx)
    g = prep["counts"].fused_gflops
    return {"preset": prep["preset"], "imgsz": prep["imgsz"], "fused_params": prep["counts"].fused_params,
            "gflops": round(g, 3), "gflops_unfused": round(prep["counts"].gflops, 3), "head": prep["head"],
            "runs": len(t_torch),
            "torch_ms_median": round(tm, 2), "torch_ms_p90": round(p90(t_torch), 2),
            "onnx_ms_median": round(om, 2), "onnx_ms_p90": round(p90(t_onnx), 2),
            "onnx_over_torch": round(om / tm, 3),
            "torch_gflops_per_s": round(g / (tm / 1e3), 2), "onnx_gflops_per_s": round(g / (om / 1e3), 2),
            "pass_medians_ms": {"torch": [round(statistics.median(t["torch"]), 2) for t in attempts],
                                "onnx": [round(statistics.median(t["onnx"]), 2) for t in attempts]},
            "outside_load_cores": [t["outside_load_cores"] for t in attempts],
            "attempts_used": len(used), "disturbed": not clean,
            "export_max_abs_diff": prep["diff"], "onnx_bytes": prep["bytes"], "onnx_nodes_before_after": prep["nodes"],
            **({"int8_bytes": prep["extra"]["int8_bytes"], "int8_build_s": prep["extra"]["calib_s"]}
               if "int8_bytes" in prep["extra"] else {}),
            **extra_columns(used, p90),
            "pass_medians_extra_ms": {k: [round(statistics.median(t[k]), 2) for t in attempts if t.get(k)]
                                      for k in EXTRA if any(t.get(k) for t in attempts)}}


def main() -> None:
    names = list(presets())
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--presets", default=",".join(names), help="comma-separated preset names (default: all)")
    ap.add_argument("--sizes", default="320,640", help="comma-separated image sizes (default: 320,640)")
    ap.add_argument("--runs-320", type=int, default=10, help="timed runs at sizes <= 320")
    ap.add_argument("--runs-640", type=int, default=5, help="timed runs at larger sizes")
    ap.add_argument("--no-stages", dest="stages", action="store_false",
                    help="skip the Predictor.benchmark pre / inference / post timings")
    ap.add_argument("--repeats", type=int, default=3,
                    help="timing passes over every row (default 3); a row's runs are pooled over its passes")
    ap.add_argument("--max-outside-load", type=float, default=0.25,
                    help="a pass timed while other processes used more CPU cores than this is left out "
                         "of its row, and a row with no other pass is re-timed (default 0.25)")
    ap.add_argument("--quiet-budget", type=float, default=240,
                    help="seconds in all the run may wait for other processes to go quiet before a "
                         "measurement (at most 30 s per wait; default 240)")
    ap.add_argument("--retry-passes", type=int, default=2,
                    help="extra passes at most over the rows disturbed in every pass (default 2)")
    ap.add_argument("--no-targets", dest="targets", action="store_false",
                    help="skip the INT8 onnxruntime and OpenVINO fp32 / INT8 columns")
    ap.add_argument("--calib", type=int, default=64, help="INT8 calibration images (shapes train split; default 64)")
    ap.add_argument("--map-checkpoints", default="", help="comma-separated checkpoints: every target's mAP50 / "
                    "mAP50-95 on their dataset's val split (the built-in shapes) and latency at their own size")
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "results", "inference.json"))
    a = ap.parse_args()
    chosen = [p.strip() for p in a.presets.split(",") if p.strip()]
    unknown = [p for p in chosen if p not in names]
    if unknown:
        ap.error(f"unknown preset(s) {', '.join(unknown)}; choose from {', '.join(names)}")
    sizes = [int(s) for s in a.sizes.split(",") if s.strip()]

    t_start = time.perf_counter()
    opts = session_options()
    print("matmul peak (start) ...", flush=True)
    gate = QuietGate(a.max_outside_load, a.quiet_budget)
    peak_start = quiet_peak(gate)
    gate.wait()
    ort_peak = ort_matmul_peak()
    print(f"  torch.matmul {peak_start} GFLOP/s, onnxruntime MatMul 1024: {ort_peak} GFLOP/s", flush=True)

    texts = {}
    for name in chosen:
        with open(preset_path(name), encoding="utf-8") as fh:
            texts[name] = fh.read()
    jobs = [(name, s) for name in chosen for s in sizes]
    built: dict = {}
    attempts: dict = {j: [] for j in jobs}
    stages: dict = {}
    peaks_mid = []
    with tempfile.TemporaryDirectory(prefix="yld-bench-inf-") as folder:
        for name, s in jobs:  # build + export everything first: timing passes are then back to back
            t0 = time.perf_counter()
            built[(name, s)] = prepare(name, texts[name], s, folder, a.calib if a.targets else 0)
            print(f"  built {name} at {s} ({time.perf_counter() - t0:.1f} s)", flush=True)
        passes = [("pass", i + 1, jobs) for i in range(max(1, a.repeats))]
        retries_left = max(0, a.retry_passes)
        k = 0
        while k < len(passes):
            _, num, todo = passes[k]
            print(f"pass {num}: timing {len(todo)} row(s) ...", flush=True)
            for j in todo:
                prep = built[j]
                got = measure(prep, a.runs_320 if j[1] <= 320 else a.runs_640, gate)
                attempts[j].append(got)
                if a.stages and j not in stages:
                    stages[j] = stage_times(prep)
                print(f"  {j[0]:<26} {j[1]:>4}  torch {statistics.median(got['torch']):>8.1f} ms"
                      f"  onnx {statistics.median(got['onnx']):>8.1f} ms  {prep['counts'].fused_gflops:>6.2f} GFLOPs"
                      + "".join(f"  {k} {statistics.median(got[k]):.1f} ms" for k in EXTRA if got.get(k))
                      + f"  outside load {got['outside_load_cores']} cores", flush=True)
            if k + 1 < len(passes):
                peaks_mid.append(quiet_peak(gate, tries=1))
            k += 1
            if k == len(passes) and retries_left:
                disturbed = [j for j in jobs if all((t["outside_load_cores"] or 0) > a.max_outside_load
                                                    for t in attempts[j])]
                if disturbed:
                    retries_left -= 1
                    print(f"re-timing {len(disturbed)} row(s) disturbed by other processes in every pass", flush=True)
                    passes.append(("retry", num + 1, disturbed))
    rows = []
    for j in jobs:
        row = summarise(built[j], attempts[j], a.max_outside_load)
        if j in stages:
            row["stages_ms"] = stages[j]
        rows.append(row)

    print("matmul peak (end) ...", flush=True)
    peak_end = quiet_peak(gate)
    gate.wait()
    ort_peak = max(ort_peak, ort_matmul_peak())
    samples = [peak_start, *peaks_mid, peak_end]
    peak = max(v for d in samples for k, v in d.items() if isinstance(k, int))
    if all((d.get("outside_load_cores") or 0) > a.max_outside_load for d in samples):
        print("warning: every matmul peak measurement was disturbed by other processes; "
              "utilisation is overstated", flush=True)
    for r in rows:
        r["torch_util"] = round(r["torch_gflops_per_s"] / peak, 4)
        r["onnx_util"] = round(r["onnx_gflops_per_s"] / peak, 4)

    result = {
        "benchmark": "deploy-model forward latency, torch eager vs onnxruntime, effective GFLOP/s vs matmul peak",
        "machine": {"python": platform.python_version(), "torch": torch.__version__,
                    "onnxruntime": ort.__version__, "cpus": os.cpu_count(), "platform": platform.platform(),
                    "torch_threads": torch.get_num_threads(),
                    "onnxruntime_intra_op_threads": opts.intra_op_num_threads,
                    "onnxruntime_intra_op_threads_note": "0 = onnxruntime default (one per physical core)",
                    "onnxruntime_graph_optimization": str(opts.graph_optimization_level)},
        "method": {"warmup": WARMUP, "runs_320": a.runs_320, "runs_640": a.runs_640, "repeats": a.repeats,
                   "timing": "forward only, per pass 2 rounds of per-backend blocks (1 untimed run each); "
                             "median and nearest-rank p90 of the runs pooled over the row's undisturbed passes",
                   "gflops": "graph.counts fused_gflops (2 x MACs of the deploy model at imgsz)",
                   "util": "effective GFLOP/s / matmul_peak_gflops",
                   "quiet_gate": f"before each measurement, wait (<= 30 s, <= {a.quiet_budget:g} s in all) "
                                 f"until other processes use <= {a.max_outside_load} cores over 1 s",
                   "outside_load_cores": "CPU cores used by other processes while each pass of a row was "
                                         f"timed; passes above {a.max_outside_load} are left out of the row "
                                         f"unless all are (then disturbed: true, after up to {a.retry_passes} "
                                         "extra passes)",
                   "stages_ms": "Predictor.benchmark on a synthetic 480x640 image, 3 runs, first pass only"},
        "matmul_peak_gflops": peak,
        "matmul_peak_detail": {"torch_start": peak_start, "torch_between_passes": peaks_mid, "torch_end": peak_end,
                               "onnxruntime_1024_best": ort_peak},
        "seconds": round(time.perf_counter() - t_start, 1),
        "rows": rows,
    }
    if a.targets:
        result["method"]["targets"] = (f"onnx_int8: engine/deploy/quantize.quantize_int8 (QDQ, per-channel int8 "
                                       f"weights, uint8 activations, MinMax on {a.calib} shapes train images, the "
                                       "head's decode tail fp32), same session options as onnx; openvino_fp32 / "
                                       "_int8: the fp32 / int8 ONNX compiled by OpenVINO's CPU plugin, f32 precision "
                                       "hint, LATENCY, one thread per core; timed in the same blocks as torch / onnx")
    if a.map_checkpoints:
        print("mAP of every target for the checkpoints ...", flush=True)
        with tempfile.TemporaryDirectory(prefix="yld-bench-map-") as folder:
            gate.wait()
            result["map"] = map_rows([c for c in a.map_checkpoints.split(",") if c], folder, a.calib, 20)
        result["seconds"] = round(time.perf_counter() - t_start, 1)
    os.makedirs(os.path.dirname(a.out), exist_ok=True)
    with open(a.out, "w") as fh:
        json.dump(result, fh, indent=1)

    print(f"\nmatmul peak {peak} GFLOP/s (torch, {torch.get_num_threads()} threads); "
          f"onnxruntime MatMul {ort_peak} GFLOP/s")
    print(f"{'preset':<26}{'size':>5}{'GFLOPs':>8}{'torch ms':>10}{'p90':>8}{'onnx ms':>9}{'p90':>8}"
          f"{'ort/pt':>7}{'pt GF/s':>9}{'ort GF/s':>9}{'pt %':>6}{'ort %':>6}")
    for r in rows:
        print(f"{r['preset']:<26}{r['imgsz']:>5}{r['gflops']:>8.2f}"
              f"{r['torch_ms_median']:>10.1f}{r['torch_ms_p90']:>8.1f}"
              f"{r['onnx_ms_median']:>9.1f}{r['onnx_ms_p90']:>8.1f}{r['onnx_over_torch']:>7.2f}"
              f"{r['torch_gflops_per_s']:>9.1f}{r['onnx_gflops_per_s']:>9.1f}"
              f"{100 * r['torch_util']:>6.1f}{100 * r['onnx_util']:>6.1f}"
              f"{'!' if r['disturbed'] else '':>2}")
    if any(r["disturbed"] for r in rows):
        print("! = every pass of the row was disturbed by other processes (see outside_load_cores)")
    for r in rows:
        if "onnx_int8_ms_median" in r:
            print(f"{r['preset']:<26}{r['imgsz']:>5}  onnx fp32 {r['onnx_ms_median']:.1f} ms, int8 "
                  f"{r['onnx_int8_ms_median']:.1f} ms ({r['int8_speedup_onnx']:.2f}x); openvino fp32 "
                  f"{r['openvino_fp32_ms_median']:.1f} ms, int8 {r['openvino_int8_ms_median']:.1f} ms "
                  f"({r['int8_speedup_openvino_vs_onnx_fp32']:.2f}x the onnx fp32 speed)")
    for m in result.get("map", []):
        print(f"{m['checkpoint']} at {m['imgsz']}: " + "; ".join(
            f"{t['label']} mAP50 {t['mAP50']:.3f} / {t['mAP50-95']:.3f}, {t['median_ms']:.1f} ms" for t in m["targets"]))
    print(f"wrote {a.out} ({result['seconds']:.0f} s)")


if __name__ == "__main__":
    main()
