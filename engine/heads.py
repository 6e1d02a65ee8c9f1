"""The head table: everything that differs between detection-head families outside the head module
itself, in one row per head class (blocks/heads.py) — what people call it, its training loss, how its
eval output decodes to candidate boxes (through NMS or not), that output's layout, the ONNX export's
dynamic axes and how two of its outputs compare (onnxruntime against PyTorch). Rows: anchor-based
(YOLOv5), anchor-free (YOLOv8 / YOLO11, DFL or reg_max 1), end-to-end (YOLO26's `end2end: True`,
YOLOv10's v10Detect: (B, 300, 6) = [x1, y1, x2, y2, score, class], no NMS).

Everything else asks `head_kind(model or head)` and reads the row; no other code branches on a head's
class or name (where only text is at hand, an ONNX file's head, `head_kind(row.name)` finds the row:
the class's exact name, no aliases). A new head is its class in blocks/heads.py (built by the yaml
name `Detect` through `detect_head`, or by its own), a row here (its loss class in
engine/train/loss.py, its decode), and its template in templates/heads/; tests/test_heads.py checks
that every head class has a row and that the rows are what loss, decode, predict and export use.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch
import torch.nn as nn

from blocks.heads import DetectAnchor, DetectDFL, DetectE2E, DetectV10

from .train.boxes import xywh2xyxy
from .train.loss import DetectionLossAnchor, DetectionLossDFL
from .train.loss_e2e import DetectionLossE2E


class UnknownHead(TypeError, ValueError):
    """Not a head of the table (a TypeError to a loss's caller, a ValueError to decode's, as before)."""


@dataclass(frozen=True)
class HeadKind:
    cls: type[nn.Module]  # the head class: the row's key
    label: str  # what people read (the export summary, the page)
    loss: type  # the training loss (engine/train/loss.py): loss(head, **gains)
    # One image's rows (N, channels) -> (xyxy (n, 4), score (n,), class (n,)) in input pixels: the
    # candidates before the confidence filter and NMS (rows it drops are below `conf` anyway, or padding).
    decode: Callable[[torch.Tensor, float], tuple[torch.Tensor, torch.Tensor, torch.Tensor]]
    channel_axis: int  # the axis of the eval output (B, ., .) that holds a box's channels: 2 (B, N, C), 1 (B, C, N)
    extra: int  # a box's channels besides the class scores: xywh + obj = 5, xywh = 4; all of them without per_class
    onnx_axes: dict  # dynamic axes of the export's `output0` (with `dynamic`)
    per_class: bool = True  # a score channel per class (False: one row per detection, its class a channel)
    rows_fixed: int | None = None  # the number of rows when it is fixed (end-to-end: max_det), else one per anchor
    nms: bool = True  # candidates go through NMS (end-to-end heads: already one box per object, best first)
    # How far apart two eval outputs of this head are (export: onnxruntime against PyTorch), as numpy arrays.
    compare: Callable[[np.ndarray, np.ndarray], float] = lambda a, b: float(relative(a, b).max(initial=0.0))

    @property
    def name(self) -> str:
        """The head class's name: how a file that holds no module (an ONNX export, a bench record) names it."""
        return self.cls.__name__

    @property
    def layout(self) -> str:
        """The eval output's shape, in words: "(B, N, 5 + nc)", "(B, 300, 6)"."""
        c, n = f"{self.extra} + nc" if self.per_class else str(self.extra), self.rows_fixed or "N"
        return f"(B, {n}, {c})" if self.channel_axis == 2 else f"(B, {c}, {n})"

    def channels(self, nc: int) -> int:
        return self.extra + nc if self.per_class else self.extra

    def matches(self, out: torch.Tensor, nc: int) -> bool:
        """Is `out` this head's eval output for `nc` classes?"""
        rows_ok = self.rows_fixed is None or out.shape[3 - self.channel_axis] == self.rows_fixed
        return out.ndim == 3 and out.shape[self.channel_axis] == self.channels(nc) and rows_ok

    def rows(self, out: torch.Tensor) -> torch.Tensor:
        """The eval output as (B, N, extra + nc): one row per candidate box."""
        return out if self.channel_axis == 2 else out.transpose(1, 2)


def decode_anchor_based(p: torch.Tensor, conf: float):
    """[cx, cy, w, h, obj, cls...] rows: score = obj * the best class probability."""
    p = p[p[:, 4] >= conf]  # score = obj * cls <= obj: a cheap pre-filter
    score, cls = (p[:, 5:] * p[:, 4:5]).max(1)
    return xywh2xyxy(p[:, :4]), score, cls


def decode_anchor_free(p: torch.Tensor, conf: float):
    """[cx, cy, w, h, cls...] rows: score = the best class probability."""
    score, cls = p[:, 4:].max(1)
    return xywh2xyxy(p[:, :4]), score, cls


def decode_end2end(p: torch.Tensor, conf: float):
    """[x1, y1, x2, y2, score, class] rows, best first; the padding rows (score 0) are no candidates."""
    p = p[p[:, 4] > 0]
    return p[:, :4], p[:, 4], p[:, 5].round().long()


def relative(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """|a - b|, relative where |b| > 1: box coordinates are pixels (hundreds), where float32 rounding of a
    trained model's activations alone exceeds an absolute 1e-3; scores and small values stay absolute."""
    return np.abs(a - b) / np.maximum(1.0, np.abs(b))


def compare_end2end(a: np.ndarray, b: np.ndarray, tol: float = 1e-3) -> float:
    """How far apart two (B, k, 6) end-to-end outputs are, ties forgiven: rows whose scores differ by
    less than rounding may come in either order, and at the cut (the k-th score) any of the tied
    rows may make it. The score columns (best first) must agree; every row above the cut, of either
    output, is matched to the closest row of the other with its class and nearly its score."""
    worst = float(np.abs(a[..., 4] - b[..., 4]).max(initial=0.0))
    for x, y in ((a, b), (b, a)):
        for xi, yi in zip(x, y):
            cut = max(xi[:, 4].min(initial=np.inf), yi[:, 4].min(initial=np.inf)) + tol
            xi = xi[xi[:, 4] > cut]
            d = relative(xi[:, None, :5], yi[None, :, :5]).max(-1)  # (n, k)
            d[(np.abs(xi[:, None, 4] - yi[None, :, 4]) > tol) | (xi[:, None, 5] != yi[None, :, 5])] = np.inf
            worst = max(worst, float(d.min(1, initial=np.inf).max(initial=0.0)))
    return worst


E2E = dict(channel_axis=2, extra=6, per_class=False, rows_fixed=DetectE2E.max_det, nms=False,
           onnx_axes={0: "batch"}, compare=compare_end2end)
HEADS: dict[type, HeadKind] = {row.cls: row for row in (
    HeadKind(DetectAnchor, "anchor-based (YOLOv5)", DetectionLossAnchor, decode_anchor_based,
             channel_axis=2, extra=5, onnx_axes={0: "batch", 1: "anchors"}),
    HeadKind(DetectDFL, "anchor-free (YOLOv8)", DetectionLossDFL, decode_anchor_free,
             channel_axis=1, extra=4, onnx_axes={0: "batch", 2: "anchors"}),
    HeadKind(DetectE2E, "end-to-end (YOLO26)", DetectionLossE2E, decode_end2end, **E2E),
    HeadKind(DetectV10, "end-to-end (YOLOv10)", DetectionLossE2E, decode_end2end, **E2E),
)}


def head_kind(x) -> HeadKind:
    """The row of a head: `x` is a row, a head class, a head module, a model ending in one
    (`model.model[-1]`, as DetectionModel), or a row's `name` (the head class's name, for what holds no
    module: an ONNX export). A subclass of a head class has its base's row."""
    if isinstance(x, HeadKind):
        return x
    if isinstance(x, str):
        row = next((row for row in HEADS.values() if row.name == x), None)
        if row is None:
            raise UnknownHead(f"unknown head kind {x!r}; the known heads are {_known()}")
        return row
    if isinstance(getattr(x, "model", None), nn.Sequential) and len(x.model):
        x = x.model[-1]
    klass = x if isinstance(x, type) else type(x)
    for k in klass.__mro__:
        if k in HEADS:
            return HEADS[k]
    what = f"a {klass.__name__}" if isinstance(x, (type, nn.Module)) else repr(x)[:40]
    raise UnknownHead(f"no head kind for {what}; the known heads are {_known()}")


def _known() -> str:
    return ", ".join(f"{row.name} ({row.label})" for row in HEADS.values())
