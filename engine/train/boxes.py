"""Box helpers for the losses and the predictor's decode: xywh -> xyxy, element-wise IoU / GIoU /
DIoU / CIoU, and the distance <-> box transforms of the anchor-free (DFL) head.

Boxes are (..., 4) tensors, either xywh (centre, size) or xyxy (corners). Written from the papers:
GIoU (Rezatofighi et al., 2019), DIoU / CIoU (Zheng et al., 2020).
"""
from __future__ import annotations

import math

import torch


def xywh2xyxy(b: torch.Tensor) -> torch.Tensor:
    """(..., 4+) [cx, cy, w, h, ...] -> (..., 4) [x1, y1, x2, y2]."""
    xy, wh = b[..., :2], b[..., 2:4]
    return torch.cat((xy - wh / 2, xy + wh / 2), -1)


def bbox_iou(box1: torch.Tensor, box2: torch.Tensor, xywh: bool = True, GIoU: bool = False,
             DIoU: bool = False, CIoU: bool = False, eps: float = 1e-7) -> torch.Tensor:
    """IoU of box1 and box2 element by element (shapes broadcast over the leading dims); (..., 1).

    With one of the flags set, the generalised / distance / complete variant:
    - GIoU = IoU - (C - U) / C, C the area of the smallest enclosing box;
    - DIoU = IoU - rho^2 / c^2, rho the distance between the centres, c the enclosing box's diagonal;
    - CIoU = DIoU - alpha * v, v = 4 / pi^2 * (atan(w2 / h2) - atan(w1 / h1))^2 measures the aspect
      mismatch and alpha = v / (1 - IoU + v) is its trade-off weight, held constant for the gradient
      (computed without grad, as the paper treats it).
    """
    if xywh:
        a1, a2 = xywh2xyxy(box1), xywh2xyxy(box2)
    else:
        a1, a2 = box1, box2
    ax1, ay1, ax2, ay2 = a1.unbind(-1)
    bx1, by1, bx2, by2 = a2.unbind(-1)
    w1, h1 = ax2 - ax1, (ay2 - ay1).clamp(min=eps)
    w2, h2 = bx2 - bx1, (by2 - by1).clamp(min=eps)

    iw = (torch.minimum(ax2, bx2) - torch.maximum(ax1, bx1)).clamp(min=0)
    ih = (torch.minimum(ay2, by2) - torch.maximum(ay1, by1)).clamp(min=0)
    inter = iw * ih
    union = w1 * h1 + w2 * h2 - inter + eps
    iou = inter / union
    if GIoU or DIoU or CIoU:
        cw = torch.maximum(ax2, bx2) - torch.minimum(ax1, bx1)  # enclosing box
        ch = torch.maximum(ay2, by2) - torch.minimum(ay1, by1)
        if GIoU:
            c_area = cw * ch + eps
            iou = iou - (c_area - union) / c_area
        else:
            c2 = cw ** 2 + ch ** 2 + eps
            rho2 = ((bx1 + bx2 - ax1 - ax2) ** 2 + (by1 + by2 - ay1 - ay2) ** 2) / 4
            iou = iou - rho2 / c2
            if CIoU:
                v = (4 / math.pi ** 2) * (torch.atan(w2 / h2) - torch.atan(w1 / h1)) ** 2
                with torch.no_grad():
                    alpha = v / (v - (inter / union) + (1 + eps))
                iou = iou - alpha * v
    return iou.unsqueeze(-1)


def dist2bbox(dist: torch.Tensor, points: torch.Tensor) -> torch.Tensor:
    """(left, top, right, bottom) distances from points -> xyxy boxes (same units)."""
    lt, rb = dist[..., :2], dist[..., 2:4]
    return torch.cat((points - lt, points + rb), -1)


def bbox2dist(points: torch.Tensor, boxes: torch.Tensor, high: float) -> torch.Tensor:
    """xyxy boxes -> (left, top, right, bottom) distances from points, clamped to [0, high]."""
    return torch.cat((points - boxes[..., :2], boxes[..., 2:4] - points), -1).clamp(0, high)


def label_rows(cls: torch.Tensor, xywh: torch.Tensor, w: int, h: int) -> torch.Tensor:
    """YOLO labels (class, normalised centre x, y, width, height) -> (n, 5) rows of class and x1, y1, x2,
    y2 in pixels of a w x h image: the ground truth the metrics compare detections with."""
    gt = torch.zeros((len(cls), 5))
    if len(cls):
        gt[:, 0] = cls
        gt[:, 1:] = xywh2xyxy(xywh.float() * torch.tensor([w, h, w, h], dtype=torch.float32))
    return gt
