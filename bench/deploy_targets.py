"""bench_inference.py's deploy targets: besides PyTorch eager and fp32 onnxruntime, the same row's
static INT8 ONNX on onnxruntime and the OpenVINO fp32 / INT8 compiled models, built with the product's
own code (engine/deploy: quantize.quantize_int8 calibrated on `shapes` train images through
calib.ImageReader, openvino_ir.read_onnx / compile_runner), each a callable of one (1, 3, s, s) input,
timed in bench_inference's blocks next to the other two. And the mAP section: each checkpoint given
(short-trained models) deployed to every target by engine/deploy/targets.deploy at its training size,
with mAP50 / mAP50-95 on the val split and each target's latency (median of `runs`, 2 threads).
"""
from __future__ import annotations

import os
import time

from engine.deploy.latency import cores
from engine.deploy.calib import ImageReader, calibration_paths
from engine.deploy.openvino_ir import compile_runner, read_onnx
from engine.deploy.options import DeployOptions
from engine.deploy.quantize import quantize_int8
from engine.deploy.targets import deploy
from engine.loading import load_any

EXTRA = ("onnx_int8", "openvino_fp32", "openvino_int8")


def build_extra(onnx_path: str, imgsz: int, stride: int, calib: int, session) -> dict:
    """{"runners": {name: run}, "int8_bytes": n, "calib_s": seconds}: the three extra targets of a row.
    `session(path)` opens an onnxruntime session the way the row's fp32 one was opened (same options);
    OpenVINO gets the thread count onnxruntime uses by default here (one per core)."""
    t0 = time.perf_counter()
    dst = os.path.splitext(onnx_path)[0] + "-int8.onnx"
    quantize_int8(onnx_path, dst, ImageReader(calibration_paths("shapes", calib), imgsz, stride))
    sess = session(dst)
    feed = sess.get_inputs()[0].name
    runners = {"onnx_int8": lambda x: sess.run(None, {feed: x}),
               "openvino_fp32": compile_runner(read_onnx(onnx_path), cores()),
               "openvino_int8": compile_runner(read_onnx(dst), cores())}
    return {"runners": runners, "int8_bytes": os.path.getsize(dst), "calib_s": round(time.perf_counter() - t0, 1)}


def map_rows(checkpoints: list[str], folder: str, calib: int, runs: int, threads: int | None = None) -> list[dict]:
    """Per checkpoint: every target's size, latency and mAP at the checkpoint's own image size."""
    out = []
    for path in checkpoints:
        loaded = load_any(path)
        t0 = time.perf_counter()
        opts = DeployOptions(format="openvino", int8=True, calib=calib, runs=runs, threads=threads, measure=True,
                             evaluate=True, sensitivity=None)
        stem = os.path.splitext(os.path.basename(path))[0]
        report = deploy(loaded, os.path.join(folder, f"map-{stem}-{len(out)}.onnx"), loaded.imgsz, opts=opts)
        out.append({"checkpoint": path, "imgsz": loaded.imgsz, "trained": loaded.meta,
                    "seconds": round(time.perf_counter() - t0, 1), "threads": report.threads,
                    "calibration": report.calibration, "accuracy_data": report.accuracy_data,
                    "sensitivity": report.sensitivity, "notes": report.as_dict()["notes"],
                    "targets": [{k: t[k] for k in ("label", "bytes", "median_ms", "p90_ms", "mAP50", "mAP50-95",
                                                   "check")} for t in report.targets]})
    return out


def extra_columns(attempts: list[dict], stats) -> dict:
    """The extra targets' pooled medians / p90 for a row, and int8's speed-up over fp32 onnxruntime."""
    import statistics

    row = {}
    onnx_ms = statistics.median([v for t in attempts for v in t["onnx"]])
    for name in EXTRA:
        times = [v for t in attempts for v in t.get(name, [])]
        if times:
            row[f"{name}_ms_median"] = round(statistics.median(times), 2)
            row[f"{name}_ms_p90"] = round(stats(times), 2)
    if "onnx_int8_ms_median" in row:
        row["int8_speedup_onnx"] = round(onnx_ms / row["onnx_int8_ms_median"], 3)
    if "openvino_int8_ms_median" in row:
        row["int8_speedup_openvino_vs_onnx_fp32"] = round(onnx_ms / row["openvino_int8_ms_median"], 3)
    return row
