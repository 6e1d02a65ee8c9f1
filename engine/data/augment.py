"""Image + box transforms for the dataset layer (engine/data/dataset.py), in numpy + PIL (no OpenCV):
`random_affine` (scale / translate), `mosaic4`, `hsv_jitter`, `hflip`, and the box helpers that keep
labels in step with the pixels. The resize and letterbox are engine/images.py's, shared with inference.

Conventions: images are (H, W, 3) uint8 RGB; boxes are float32 (n, 5) arrays [cls, x0, y0, x1, y1]
in continuous pixel coordinates (a pixel column i spans x in [i, i + 1), so an image is [0, W] wide).
PIL's affine transform uses the same continuous convention, so a box maps exactly like its pixels.
Every random choice comes from the `numpy.random.Generator` passed in, in a fixed order.
"""
from __future__ import annotations

import numpy as np
from PIL import Image

from ..images import PAD_VALUE
MIN_BOX_PX = 2.0  # a box narrower or lower than this after a transform is dropped
MIN_AREA_FRAC = 0.1  # ... and so is one with less than this fraction of its area left inside the image


def xywhn_to_xyxy(labels: np.ndarray, w: float, h: float, padx: float = 0.0, pady: float = 0.0) -> np.ndarray:
    """(n, 5) [cls, xc, yc, w, h] normalised -> (n, 5) [cls, x0, y0, x1, y1] pixels (+ offset)."""
    out = np.zeros((len(labels), 5), dtype=np.float32)
    if len(labels):
        out[:, 0] = labels[:, 0]
        out[:, 1] = (labels[:, 1] - labels[:, 3] / 2) * w + padx
        out[:, 2] = (labels[:, 2] - labels[:, 4] / 2) * h + pady
        out[:, 3] = (labels[:, 1] + labels[:, 3] / 2) * w + padx
        out[:, 4] = (labels[:, 2] + labels[:, 4] / 2) * h + pady
    return out


def xyxy_to_xywhn(boxes: np.ndarray, w: float, h: float) -> np.ndarray:
    """(n, 5) [cls, x0, y0, x1, y1] pixels -> (n, 5) [cls, xc, yc, w, h] normalised to (w, h)."""
    out = np.zeros((len(boxes), 5), dtype=np.float32)
    if len(boxes):
        out[:, 0] = boxes[:, 0]
        out[:, 1] = (boxes[:, 1] + boxes[:, 3]) / 2 / w
        out[:, 2] = (boxes[:, 2] + boxes[:, 4]) / 2 / h
        out[:, 3] = (boxes[:, 3] - boxes[:, 1]) / w
        out[:, 4] = (boxes[:, 4] - boxes[:, 2]) / h
    return out


def box_areas(boxes: np.ndarray) -> np.ndarray:
    return ((boxes[:, 3] - boxes[:, 1]) * (boxes[:, 4] - boxes[:, 2])).astype(np.float32)


def clip_and_filter(boxes: np.ndarray, w: float, h: float, area0: np.ndarray | None = None) -> np.ndarray:
    """Clip boxes to [0, w] x [0, h]; drop those under MIN_BOX_PX wide/high or with less than
    MIN_AREA_FRAC of `area0` (their unclipped area, by default the area before this clip) left."""
    if not len(boxes):
        return boxes.reshape(0, 5).astype(np.float32)
    if area0 is None:
        area0 = box_areas(boxes)
    b = boxes.copy()
    b[:, [1, 3]] = b[:, [1, 3]].clip(0, w)
    b[:, [2, 4]] = b[:, [2, 4]].clip(0, h)
    bw, bh = b[:, 3] - b[:, 1], b[:, 4] - b[:, 2]
    keep = (bw >= MIN_BOX_PX) & (bh >= MIN_BOX_PX) & (bw * bh >= MIN_AREA_FRAC * np.maximum(area0, 1e-9))
    return b[keep].astype(np.float32)


def random_affine(img: np.ndarray, boxes: np.ndarray, rng: np.random.Generator, out_size: int,
                  scale: float = 0.5, translate: float = 0.1,
                  area0: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Scale by a gain in [1 - scale, 1 + scale] about the image centre, put that centre at the
    output centre moved by up to `translate` x out_size, and warp into an out_size square (grey 114
    outside). Boxes follow; then clip_and_filter (area0: the boxes' unclipped areas in `img`)."""
    h, w = img.shape[:2]
    g = float(rng.uniform(1 - scale, 1 + scale))
    tx = out_size * (0.5 + float(rng.uniform(-translate, translate)))
    ty = out_size * (0.5 + float(rng.uniform(-translate, translate)))
    # forward: x' = g * (x - w/2) + tx; PIL wants the inverse (output -> input) coefficients
    coeffs = (1 / g, 0.0, w / 2 - tx / g, 0.0, 1 / g, h / 2 - ty / g)
    out = Image.fromarray(img).transform((out_size, out_size), Image.AFFINE, coeffs,
                                         resample=Image.BILINEAR, fillcolor=(PAD_VALUE,) * 3)
    if area0 is None:
        area0 = box_areas(boxes) if len(boxes) else np.zeros(0, np.float32)
    b = boxes.astype(np.float32).copy()
    if len(b):
        b[:, [1, 3]] = g * (b[:, [1, 3]] - w / 2) + tx
        b[:, [2, 4]] = g * (b[:, [2, 4]] - h / 2) + ty
    return np.asarray(out), clip_and_filter(b, out_size, out_size, area0 * g * g)


def mosaic4(items: list[tuple[np.ndarray, np.ndarray]], size: int,
            rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Four (img, boxes) pairs (each image's long side <= size) into a 2*size square canvas (grey
    114), meeting at a random centre in the middle half: top-left, top-right, bottom-left,
    bottom-right. Returns (canvas, boxes clipped to the canvas, their unclipped areas)."""
    s2 = 2 * size
    canvas = np.full((s2, s2, 3), PAD_VALUE, dtype=np.uint8)
    xc = int(rng.uniform(size / 2, 3 * size / 2))
    yc = int(rng.uniform(size / 2, 3 * size / 2))
    all_boxes = []
    for k, (img, boxes) in enumerate(items):
        h, w = img.shape[:2]
        # destination rectangle on the canvas, the image's corner touching the centre
        x0 = xc - w if k in (0, 2) else xc
        y0 = yc - h if k in (0, 1) else yc
        ax0, ay0 = max(x0, 0), max(y0, 0)
        ax1, ay1 = min(x0 + w, s2), min(y0 + h, s2)
        canvas[ay0:ay1, ax0:ax1] = img[ay0 - y0:ay1 - y0, ax0 - x0:ax1 - x0]
        if len(boxes):
            b = boxes.astype(np.float32).copy()
            b[:, [1, 3]] += x0
            b[:, [2, 4]] += y0
            all_boxes.append(b)
    boxes = np.concatenate(all_boxes) if all_boxes else np.zeros((0, 5), np.float32)
    area0 = box_areas(boxes) if len(boxes) else np.zeros(0, np.float32)
    b = boxes.copy()
    if len(b):
        b[:, [1, 2, 3, 4]] = b[:, [1, 2, 3, 4]].clip(0, s2)
    return canvas, b, area0


def hsv_jitter(img: np.ndarray, rng: np.random.Generator, hgain: float = 0.015, sgain: float = 0.7,
               vgain: float = 0.4) -> np.ndarray:
    """Shift hue by up to +-hgain of the colour circle; scale saturation and value by 1 +- s/vgain."""
    dh, ds, dv = rng.uniform(-1, 1, 3) * (hgain, sgain, vgain)
    if not (hgain or sgain or vgain):
        return img
    x = np.arange(256, dtype=np.float32)
    lut_h = ((x + dh * 256) % 256).astype(np.uint8)
    lut_s = np.clip(x * (1 + ds), 0, 255).astype(np.uint8)
    lut_v = np.clip(x * (1 + dv), 0, 255).astype(np.uint8)
    hsv = np.asarray(Image.fromarray(img).convert("HSV"))
    hsv = np.stack([lut_h[hsv[..., 0]], lut_s[hsv[..., 1]], lut_v[hsv[..., 2]]], axis=-1)
    return np.asarray(Image.fromarray(hsv, "HSV").convert("RGB"))


def hflip(img: np.ndarray, boxes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mirror left-right; x -> W - x for the boxes."""
    w = img.shape[1]
    b = boxes.copy()
    if len(b):
        b[:, 1], b[:, 3] = w - boxes[:, 3], w - boxes[:, 1]
    return np.ascontiguousarray(img[:, ::-1]), b
