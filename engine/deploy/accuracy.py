"""Accuracy of an exported model on this machine, measured the same way for every runtime:
a runtime is a plain function `run(x: (1, 3, S, S) float32) -> head output (numpy)`.

- `evaluate`: COCO mAP50 / mAP50-95 on a dataset's val split, exactly as training validates
  (engine/train/trainer.Trainer.validate): the val images letterboxed by YoloDataset (the one letterbox
  of engine/images), the head's decode with the validation thresholds (conf 0.001, IoU 0.6), boxes
  compared in the letterboxed frame, engine/train/metrics.DetectionMetrics (pycocotools).
- `ort_runner`: an onnxruntime CPU session as such a function, with its thread count.

Latency is not timed here: every timing goes through engine/deploy/latency.time_runner.
"""
from __future__ import annotations

import numpy as np
import torch

from ..data.config import load_data_config
from ..data.dataset import YoloDataset
from ..heads import head_kind
from ..train.boxes import label_rows
from ..train.metrics import DetectionMetrics
from ..train.trainer import TrainConfig
from .latency import cores, ort_session
from .predictor import decode


def ort_runner(path: str, threads: int | None = None):
    """(run, session) for an ONNX file on onnxruntime's CPU provider with `threads` intra-op threads
    (default: every core this process may use), the session latency.ort_session opens for timing."""
    sess = ort_session(path, int(threads or cores()))
    name = sess.get_inputs()[0].name

    def run(x: np.ndarray) -> np.ndarray:
        return sess.run(None, {name: x})[0]
    return run, sess


def val_set(data: str, imgsz: int, max_images: int | None = None) -> YoloDataset:
    """The val split of `data` ("shapes" or a data.yaml) as validation reads it."""
    cfg = load_data_config(data)
    paths = cfg["val"][:max_images] if max_images else cfg["val"]
    return YoloDataset(paths, cfg["names"], imgsz, augment=False)


def evaluate(run, kind, dataset: YoloDataset) -> dict:
    """{"mAP50", "mAP50-95", "precision", "recall", "images", "instances"} of `run` on `dataset`
    (module doc); `kind` is the head's row of the head table (or what head_kind takes)."""
    kind = head_kind(kind)
    c = TrainConfig()
    metrics = DetectionMetrics(nc=dataset.nc)
    for i in range(len(dataset)):
        img, labels, _, _ = dataset[i]
        out = torch.from_numpy(np.asarray(run(img[None].numpy()))).float()
        det = decode(out, kind, conf=c.val_conf, iou=c.val_iou)[0]
        s = dataset.imgsz
        gt = label_rows(labels[:, 0], labels[:, 1:5], s, s)
        metrics.add(i, det, gt, (s, s))
    return {k: (round(v, 5) if isinstance(v, float) else v) for k, v in metrics.compute().items()}
