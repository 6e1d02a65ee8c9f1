"""Detection heads, both under the yaml name `Detect`, built by `detect_head` (the args decide, as in the
two yaml dialects):

- `Detect [nc, anchors]`: the YOLOv5 anchor-based head. One 1x1 conv per level predicting, for each
  of its anchors (given in pixels, as in YOLOv5 yaml), xywh + objectness + classes. Eval output:
  (B, sum(na * H * W), 5 + nc), boxes in input pixels.
- `Detect [nc]`: the YOLOv8 anchor-free head. Per level a box branch (two 3x3 Convs + 1x1 to
  4 * reg_max) and a class branch; boxes decoded from a distribution over reg_max = 16 bins (DFL).
  Eval output: (B, 4 + nc, sum(H * W)), xywh in input pixels then class scores.

Training mode returns the raw per-level maps for the losses. Strides come from `graph/resolve.py`.
Every head subclasses `Detect`; what differs between head families outside the module itself (loss,
decode, output layout, export axes) is one row per head class in engine/heads.py. A new head: its
class here, a branch in `detect_head` (or its own yaml name), its row there, its template.
"""
from __future__ import annotations

import math

import torch
import torch.nn as nn

from .conv import Conv
from .registry import BOTH, EXAMPLE_DOWN, HEAD, ONCE, Arg, register


class DFL(nn.Module):
    """Distribution focal loss integral: expected value of a softmax over reg_max bins."""

    def __init__(self, c1=16):
        super().__init__()
        self.c1 = c1
        self.conv = nn.Conv2d(c1, 1, 1, bias=False).requires_grad_(False)
        if not self.conv.weight.is_meta:
            self.conv.weight.data[:] = torch.arange(c1, dtype=torch.float).view(1, c1, 1, 1)

    def forward(self, x):  # (B, 4 * c1, A) -> (B, 4, A)
        b, _, a = x.shape
        return self.conv(x.view(b, 4, self.c1, a).transpose(2, 1).softmax(1)).view(b, 4, a)


def make_anchor_points(feats, strides, offset=0.5):
    """Cell centres of every level, in grid units, and the stride of each: (A, 2), (A, 1)."""
    points, stride_col = [], []
    for x, s in zip(feats, strides):
        _, _, h, w = x.shape
        sy, sx = torch.meshgrid(torch.arange(h, device=x.device, dtype=x.dtype) + offset,
                                torch.arange(w, device=x.device, dtype=x.dtype) + offset, indexing="ij")
        points.append(torch.stack((sx, sy), -1).view(-1, 2))
        stride_col.append(torch.full((h * w, 1), float(s), device=x.device, dtype=x.dtype))
    return torch.cat(points), torch.cat(stride_col)


class Detect(nn.Module):
    """The base of every detection head (the registry entry `Detect` has it as its class); the yaml
    name builds a head through `detect_head`."""


class DetectDFL(Detect):
    """YOLOv8 anchor-free head (reg_max 16)."""

    reg_max = 16

    def __init__(self, nc, ch, strides):
        super().__init__()
        self.nc, self.nl = nc, len(ch)
        self.no = nc + 4 * self.reg_max
        self.strides = [float(s) for s in strides]
        c2, c3 = max(16, ch[0] // 4, self.reg_max * 4), max(ch[0], min(nc, 100))
        self.cv2 = nn.ModuleList(
            nn.Sequential(Conv(x, c2, 3), Conv(c2, c2, 3), nn.Conv2d(c2, 4 * self.reg_max, 1)) for x in ch)
        self.cv3 = nn.ModuleList(
            nn.Sequential(Conv(x, c3, 3), Conv(c3, c3, 3), nn.Conv2d(c3, nc, 1)) for x in ch)
        self.dfl = DFL(self.reg_max)

    def init_biases(self):
        for a, b, s in zip(self.cv2, self.cv3, self.strides):
            a[-1].bias.data[:] = 1.0
            b[-1].bias.data[: self.nc] = math.log(5 / self.nc / (640 / s) ** 2)

    def forward(self, x):
        x = [torch.cat((self.cv2[i](x[i]), self.cv3[i](x[i])), 1) for i in range(self.nl)]
        if self.training:
            return x
        b = x[0].shape[0]
        flat = torch.cat([xi.view(b, self.no, -1) for xi in x], 2)  # (B, no, A)
        box, cls = flat.split((4 * self.reg_max, self.nc), 1)
        points, strides = make_anchor_points(x, self.strides)
        lt, rb = self.dfl(box).chunk(2, 1)  # distances left-top / right-bottom, grid units
        p = points.transpose(0, 1).unsqueeze(0)  # (1, 2, A)
        x1y1, x2y2 = p - lt, p + rb
        xywh = torch.cat(((x1y1 + x2y2) / 2, x2y2 - x1y1), 1) * strides.transpose(0, 1)
        return torch.cat((xywh, cls.sigmoid()), 1)  # (B, 4 + nc, A)


class DetectAnchor(Detect):
    """YOLOv5 anchor-based head."""

    def __init__(self, nc, anchors, ch, strides):
        super().__init__()
        self.nc, self.no, self.nl = nc, nc + 5, len(anchors)
        self.na = len(anchors[0]) // 2
        self.strides = [float(s) for s in strides]
        # anchors in pixels, (nl, na, 2)
        self.register_buffer("anchors", torch.tensor(anchors, dtype=torch.float).view(self.nl, self.na, 2))
        self.m = nn.ModuleList(nn.Conv2d(x, self.no * self.na, 1) for x in ch)

    def init_biases(self):
        for mi, s in zip(self.m, self.strides):
            b = mi.bias.view(self.na, -1)
            b.data[:, 4] += math.log(8 / (640 / s) ** 2)  # ~8 objects per 640 image
            b.data[:, 5:] += math.log(0.6 / (self.nc - 0.99999))

    def forward(self, x):
        out, z = [], []
        for i in range(self.nl):
            y = self.m[i](x[i])
            bs, _, ny, nx = y.shape
            y = y.view(bs, self.na, self.no, ny, nx).permute(0, 1, 3, 4, 2).contiguous()
            out.append(y)
            if not self.training:
                gy, gx = torch.meshgrid(torch.arange(ny, device=y.device, dtype=y.dtype),
                                        torch.arange(nx, device=y.device, dtype=y.dtype), indexing="ij")
                grid = torch.stack((gx, gy), -1).view(1, 1, ny, nx, 2) - 0.5
                anchor = self.anchors[i].view(1, self.na, 1, 1, 2)
                p = y.sigmoid()
                xy = (p[..., :2] * 2 + grid) * self.strides[i]
                wh = (p[..., 2:4] * 2) ** 2 * anchor
                z.append(torch.cat((xy, wh, p[..., 4:]), -1).view(bs, -1, self.no))
        return out if self.training else torch.cat(z, 1)  # (B, sum(na*H*W), 5 + nc)


def _detect_check(layer):
    a = layer.args
    if a["anchors"] is not None:
        anchors = a["anchors"]
        if len(anchors) != len(layer.c_in):
            return (f"{len(anchors)} anchor levels for {len(layer.c_in)} inputs: "
                    f"Detect needs one list of anchors per input")
        if len({len(lv) for lv in anchors}) != 1 or len(anchors[0]) % 2:
            return "every anchor level needs the same number of (width, height) pairs"
    strides = list(layer.strides)
    if sorted(set(strides)) != strides:
        return f"Detect inputs must go from fine to coarse, each at its own stride (got strides {strides})"
    return None


def detect_head(nc, anchors=None, *, ch, strides) -> Detect:
    """The yaml name `Detect`: `[nc, anchors]` the anchor-based head, `[nc]` the anchor-free one."""
    if anchors is None:
        return DetectDFL(nc, ch, strides)
    return DetectAnchor(nc, anchors, ch, strides)


register("Detect", summary="detection head: [nc, anchors] = YOLOv5 anchor-based, [nc] = YOLOv8 anchor-free (DFL)",
         source="YOLOv5 / Ultralytics YOLOv8", channels=HEAD, repeat=ONCE, inputs=0, check=_detect_check,
         args=(Arg("nc", "int", help="number of classes", low=1, high=10000),
               Arg("anchors", "anchors", None, "anchors in pixels per level; omit for anchor-free")),
         upstream=BOTH, example=(EXAMPLE_DOWN,),  # the test detector's own head is the example
         build=detect_head)(Detect)
