"""Images for INT8 calibration and for measuring accuracy: a dataset's images (the built-in `shapes`
set or an Ultralytics data.yaml, read by engine/data/config.py), fed to a model exactly as inference
feeds it (engine/images.read_image + letterbox to a square, RGB, 0..1 float, (1, 3, S, S)).

Calibration takes N images of the *train* split, evenly spaced through its sorted list (deterministic;
no randomness), so the accuracy measured on the val split is measured on images the calibration did not
see. A dataset with fewer images than asked gives all it has; one without any is a DataError.
"""
from __future__ import annotations

import numpy as np

from ..data.config import DataError, load_data_config
from ..images import letterbox, read_image
from .options import DEFAULT_CALIB


def pick_evenly(paths: list[str], n: int) -> list[str]:
    """`n` of `paths` (sorted), evenly spaced from the first; all of them when there are fewer."""
    paths = sorted(paths)
    if n >= len(paths):
        return paths
    return [paths[int(i * len(paths) / n)] for i in range(n)]


def calibration_paths(data: str, n: int = DEFAULT_CALIB, split: str = "train") -> list[str]:
    cfg = load_data_config(data)
    paths = pick_evenly(cfg.get(split) or [], int(n))
    if not paths:
        raise DataError(f"{data}: no {split} images to calibrate on")
    return paths


def model_input(path: str, imgsz: int, stride: int = 32) -> np.ndarray:
    """(1, 3, imgsz, imgsz) float32 in 0..1 of an image file, letterboxed as the predictor does."""
    img, _, _ = letterbox(read_image(path), imgsz, stride)
    return np.ascontiguousarray(img.transpose(2, 0, 1)[None], dtype=np.float32) / 255.0


class ImageReader:
    """An onnxruntime CalibrationDataReader over image files (duck-typed: `get_next` -> a feed dict or
    None when done; `rewind` starts again)."""

    def __init__(self, paths: list[str], imgsz: int, stride: int = 32, input_name: str = "images"):
        self.paths, self.imgsz, self.stride, self.input_name = list(paths), int(imgsz), int(stride), input_name
        self._i = 0

    def get_next(self) -> dict | None:
        if self._i >= len(self.paths):
            return None
        self._i += 1
        return {self.input_name: model_input(self.paths[self._i - 1], self.imgsz, self.stride)}

    def rewind(self) -> None:
        self._i = 0

    def __iter__(self):
        self.rewind()
        while (feed := self.get_next()) is not None:
            yield feed

    def __len__(self) -> int:
        return len(self.paths)
