"""Benchmark: per preset, PyTorch eager vs onnxruntime latency of the deploy (fused) model at 320 and
640, and the effective GFLOP/s of each against a float32 matrix-multiply peak measured in the same run;
with the deploy targets (default on, --no-targets to skip; bench/deploy_targets.py) also the static
INT8 ONNX on onnxruntime and the OpenVINO fp32 / INT8 models of the same row, timed in the same blocks,
and (--map-checkpoints) every target's mAP50 / mAP50-95 for short-trained checkpoints. The instruments
(load probe, quiet gate, matmul peaks, block timing) are in bench/inference_timing.py.

For every preset and image size: build the model (untrained: its timing is real), fuse it
(engine.deploy.export.deploy_model) and export + check its ONNX (engine.deploy.export.export_onnx) into
a temp dir. Then time the forward only: torch eager under torch.inference_mode() on a (1, 3, s, s)
tensor, and onnxruntime InferenceSession.run (CPU provider, default session options) on the same
tensor. Per pass: two warm-up runs each, then N timed runs per backend in two rounds of blocks. The
whole sweep is repeated (--repeats passes, default 3, so a burst of noise hits one pass of a row, not
all); a row's runs are pooled over its passes: median and p90 (nearest rank) in ms, with each pass's
median kept too. Each measurement first waits (bounded) for other processes to go quiet; passes
disturbed all the same are left out of their row, and rows disturbed in every pass are re-timed
(flagged when still disturbed).

Effective GFLOP/s = the fused model's GFLOPs at that size (graph.counts `fused_gflops`: 2 x
multiply-adds) / median seconds; utilisation = effective / matmul peak, the best torch.matmul
GFLOP/s (2 n^3 / t, n = 1024 and 2048) measured at the start, between passes and at the end
(onnxruntime's own MatMul peak is recorded alongside). With --stages (default) the pre / inference /
post medians of Predictor.benchmark on one synthetic 480x640 image are recorded too (post = decode +
NMS, on random weights: many boxes).

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
from inference_timing import (WARMUP, QuietGate, ort_matmul_peak, p90, quiet_peak,  # noqa: E402
                              session_options, time_both)


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
                                      for k in EXTRA if any(t.get(k) for t in attempts)},
            # fp32 / int8 onnxruntime within each pass (used or not): immune to the machine's drift between passes
            "int8_speedup_onnx_by_pass": [round(statistics.median(t["onnx"]) / statistics.median(t["onnx_int8"]), 3)
                                          for t in attempts if t.get("onnx_int8")]}


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
                                       f"weights, uint8 activations, MinMax on {a.calib} shapes train images, one range "
                                       "per concat group, the head's decode tail fp32), same session options as onnx; openvino_fp32 / "
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
                  f"{r['onnx_int8_ms_median']:.1f} ms ({r['int8_speedup_onnx']:.2f}x; by pass "
                  + ", ".join(f"{v:.2f}x" for v in r["int8_speedup_onnx_by_pass"]) + "); openvino fp32 "
                  f"{r['openvino_fp32_ms_median']:.1f} ms, int8 {r['openvino_int8_ms_median']:.1f} ms "
                  f"({r['int8_speedup_openvino_vs_onnx_fp32']:.2f}x the onnx fp32 speed)")
    for m in result.get("map", []):
        print(f"{m['checkpoint']} at {m['imgsz']}: " + "; ".join(
            f"{t['label']} mAP50 {t['mAP50']:.3f} / {t['mAP50-95']:.3f}, {t['median_ms']:.1f} ms" for t in m["targets"]))
    print(f"wrote {a.out} ({result['seconds']:.0f} s)")


if __name__ == "__main__":
    main()
