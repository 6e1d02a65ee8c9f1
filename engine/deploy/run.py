"""Inference jobs over a design or a checkpoint: the torch and onnxruntime predictors of one model,
built once and kept in a small cache, and `run_images` for the CLI and the Test tab.

The ONNX predictor runs the very file `engine/deploy/export.py` writes and checks, so its latency is the
deploy form's. The torch predictor runs the fused (deploy) model too, for a fair comparison.
"""
from __future__ import annotations

import functools
import hashlib
import os
import tempfile
import threading

import numpy as np
import torch

from ..heads import head_kind
from ..images import ImageError, read_image
from ..loading import Loaded, load_any, load_design
from .export import deploy_model, export_onnx
from .predictor import MAX_DRAW_SIDE, Predictor

BACKENDS = ("torch", "onnx")
_lock = threading.Lock()


@functools.lru_cache(maxsize=4)
def _predictors_cached(key: str, source_kind: str, source: str, yaml_text: str, imgsz: int) -> dict:
    loaded = load_any(source, imgsz) if source_kind == "checkpoint" else load_design(yaml_text, imgsz, source)
    return predictors_for(loaded, imgsz)


def onnx_threads() -> int:
    """onnxruntime's intra-op threads here: as many as torch uses, so the two timings compare."""
    return max(1, torch.get_num_threads())


def predictors_for(loaded: Loaded, imgsz: int) -> dict:
    """{"torch": Predictor, "onnx": Predictor, "onnx_threads": n} for a loaded model at `imgsz`."""
    import onnxruntime as ort

    model = deploy_model(loaded.model)
    folder = tempfile.mkdtemp(prefix="yld-predict-")
    result = export_onnx(loaded, os.path.join(folder, "model.onnx"), imgsz)
    options = ort.SessionOptions()
    options.intra_op_num_threads, options.inter_op_num_threads = onnx_threads(), 1
    session = ort.InferenceSession(result.path, options, providers=["CPUExecutionProvider"])
    return {
        "torch": Predictor.from_torch(model, loaded.names, imgsz),
        "onnx": Predictor.from_onnx(session, head_kind(model), model.nc, loaded.names, imgsz),
        "trained": loaded.trained, "names": loaded.names, "onnx_threads": options.intra_op_num_threads,
    }


def predictors(source: str | None = None, yaml_text: str | None = None, imgsz: int = 640,
               name: str = "design") -> dict:
    """Cached predictors of a checkpoint path (`source`) or of a design (`yaml_text`)."""
    with _lock:
        if source:
            stamp = f"{source}:{os.path.getmtime(source) if os.path.exists(source) else 0}"
            return _predictors_cached(stamp, "checkpoint", source, "", imgsz)
        key = hashlib.sha256((yaml_text or "").encode()).hexdigest()[:16]
        return _predictors_cached(key, "design", name, yaml_text or "", imgsz)


def _one_line(err: BaseException) -> str:
    text = " ".join(str(err).split()) or type(err).__name__
    return text if len(text) <= 160 else text[:157] + "..."


def run_images(preds: dict, images: list, conf: float = 0.25, iou: float = 0.45, backend: str = "torch",
               timing_runs: int = 5, max_side: int | None = MAX_DRAW_SIDE) -> dict:
    """Detect on each image (paths or arrays). -> {results: [...], errors: [...], latency: {...}}.

    An image that fails is one line in `errors`; the others still come back. Each result's "image"
    (annotated) has its long side at most `max_side` px; its detections are in the image's pixels.
    latency: per backend (see `measure`), over `timing_runs` runs on the first good image, with the
    threads it ran on."""
    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}; use one of {', '.join(BACKENDS)}")
    results, errors, first = [], [], None
    for item in images:
        label = os.path.basename(item) if isinstance(item, str) else "image"
        try:
            img = read_image(item) if not isinstance(item, np.ndarray) else item
            out = preds[backend].predict(img, conf=conf, iou=iou, max_side=max_side)
        except ImageError as err:
            errors.append(str(err))
            continue
        except Exception as err:  # one image's failure never loses the others
            errors.append(f"{label}: detection failed ({_one_line(err)})")
            continue
        results.append({"name": label, "detections": out["detections"], "image": out["image"],
                        "timing_ms": out["timing_ms"], "shape": list(img.shape)})
        first = img if first is None else first
    latency = {b: measure(preds[b], first, timing_runs, conf, iou) for b in BACKENDS} if first is not None else {}
    for b, t in latency.items():
        t["threads"] = torch.get_num_threads() if b == "torch" else preds.get("onnx_threads")
    return {"results": results, "errors": errors, "latency": latency, "backend": backend,
            "trained": preds["trained"]}


def measure(pred, img: np.ndarray, runs: int = 5, conf: float = 0.25, iou: float = 0.45) -> dict:
    """Latency of one predictor on `img` after a warm-up run, in ms: the median of each stage (pre,
    inference, post) and of their total, and the total's spread (p10, p90, min, max) over `runs`
    runs — a busy machine shows as a wide spread, not as one misleading number."""
    if not isinstance(pred, Predictor):  # a stand-in with its own benchmark: medians only
        return dict(pred.benchmark(img, runs=runs, conf=conf, iou=iou), runs=runs)
    img = pred._check(img)
    pred._stages(img, conf, iou, 300)
    times = [pred._stages(img, conf, iou, 300)[1] for _ in range(max(1, int(runs)))]
    totals = np.array([t["pre"] + t["inference"] + t["post"] for t in times])
    out = {k: round(float(np.median([t[k] for t in times])), 3) for k in ("pre", "inference", "post")}
    p10, p90 = np.percentile(totals, [10, 90])
    return {**out, "total": round(float(np.median(totals)), 3), "p10": round(float(p10), 3),
            "p90": round(float(p90), 3), "min": round(float(totals.min()), 3), "max": round(float(totals.max()), 3),
            "runs": len(times)}
