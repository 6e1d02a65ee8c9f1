"""Detection heads. The yaml name `Detect` builds one through `detect_head` (the args decide, as in the
two yaml dialects, and so do the model's top-level keys, as in Ultralytics'):

- `Detect [nc, anchors]`: the YOLOv5 anchor-based head. One 1x1 conv per level predicting, for each
  of its anchors (given in pixels, as in YOLOv5 yaml), xywh + objectness + classes. Eval output:
  (B, sum(na * H * W), 5 + nc), boxes in input pixels.
- `Detect [nc]`: the YOLOv8 anchor-free head. Per level a box branch (two 3x3 Convs + 1x1 to
  4 * reg_max) and a class branch; boxes decoded from a distribution over reg_max = 16 bins (DFL),
  or with `reg_max: 1` regressed directly. Eval output: (B, 4 + nc, sum(H * W)), xywh in input
  pixels then class scores.
- `Detect [nc]` with `end2end: True` (YOLO26, with `reg_max: 1`), and `v10Detect [nc]` (YOLOv10):
  the end-to-end heads. A one-to-one copy of the branches makes the eval output, the 300 best
  (anchor, class) pairs: (B, 300, 6) = [x1, y1, x2, y2, score, class], no NMS; the one-to-many
  branches train alongside and go at `fuse()`.

Training mode returns the raw per-level maps for the losses (the end-to-end heads: both branches').
Strides come from `graph/resolve.py`, and so do the top-level keys (`Detect.model_options`).
Every head subclasses `Detect`; what differs between head families outside the module itself (loss,
decode, output layout, export axes) is one row per head class in engine/heads.py. A new head: its
class here, a branch in `detect_head` (or its own yaml name), its row there, its template.
"""
from __future__ import annotations

import math

import torch
import torch.nn as nn

from .conv import Conv
from .registry import BOTH, EXAMPLE_DOWN, HEAD, ONCE, ULTRALYTICS, Arg, register


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

    # Ultralytics' model yaml gives its Detect two top-level keys, and its blocks decide a third:
    # `end2end` (a one-to-one branch beside the one-to-many one), `reg_max` (DFL bins; 1 = no DFL,
    # distances regressed directly), and `legacy` (YOLOv8's class branch, two 3x3 Convs; False once
    # the model uses a block that clears it, C3k2 / A2C2f / C2fCIB: YOLO11's depth-wise one).
    @classmethod
    def model_options(cls, keys: dict, legacy: bool = True) -> dict:
        """This head's keyword args from the model yaml's other top-level `keys` and the model's
        `legacy` flag (graph/resolve.py passes them on); ValueError names a bad key."""
        out = {"legacy": bool(legacy)}
        if keys.get("end2end") is not None:
            e2e = keys["end2end"]
            if not isinstance(e2e, (bool, int)) or e2e not in (0, 1):
                raise ValueError(f"end2end must be True or False, got {e2e!r:.40}")
            out["end2end"] = bool(e2e)
        if keys.get("reg_max") is not None:
            r = keys["reg_max"]
            if isinstance(r, bool) or not isinstance(r, int) or not 1 <= r <= 64:
                raise ValueError(f"reg_max must be a whole number of DFL bins from 1 to 64, got {r!r:.40}")
            out["reg_max"] = r
        return out


def box_branches(ch, c2, reg_max):
    """Per level: two 3x3 Convs, then a 1x1 conv to 4 * reg_max (the four side distances)."""
    return nn.ModuleList(nn.Sequential(Conv(x, c2, 3), Conv(c2, c2, 3), nn.Conv2d(c2, 4 * reg_max, 1)) for x in ch)


def class_branches(ch, c3, nc, legacy=True):
    """Per level: YOLOv8's two 3x3 Convs (legacy), or YOLO11's depth-wise 3x3 + 1x1 pairs; then 1x1 to nc."""
    if legacy:
        return nn.ModuleList(nn.Sequential(Conv(x, c3, 3), Conv(c3, c3, 3), nn.Conv2d(c3, nc, 1)) for x in ch)
    return nn.ModuleList(nn.Sequential(nn.Sequential(Conv(x, x, 3, g=x), Conv(x, c3, 1)),
                                       nn.Sequential(Conv(c3, c3, 3, g=c3), Conv(c3, c3, 1)),
                                       nn.Conv2d(c3, nc, 1)) for x in ch)


class DetectDFL(Detect):
    """Ultralytics' anchor-free head (YOLOv8, YOLO11): reg_max 16 DFL bins by default; reg_max 1
    regresses the four distances directly (no DFL)."""

    reg_max = 16

    def __init__(self, nc, ch, strides, reg_max=16, legacy=True):
        super().__init__()
        self.nc, self.nl, self.reg_max, self.legacy = nc, len(ch), int(reg_max), bool(legacy)
        self.no = nc + 4 * self.reg_max
        self.strides = [float(s) for s in strides]
        self.c2, self.c3 = max(16, ch[0] // 4, self.reg_max * 4), max(ch[0], min(nc, 100))
        self.cv2 = box_branches(ch, self.c2, self.reg_max)
        self.cv3 = class_branches(ch, self.c3, nc, self.legacy)
        self.dfl = DFL(self.reg_max) if self.reg_max > 1 else nn.Identity()

    def init_biases(self):
        for a, b, s in zip(self.cv2, self.cv3, self.strides):
            a[-1].bias.data[:] = 1.0 if self.reg_max > 1 else 2.0  # no DFL: 2 cells a side to start
            b[-1].bias.data[: self.nc] = math.log(5 / self.nc / (640 / s) ** 2)

    def maps(self, x, box, cls):
        """Per level the (B, 4 * reg_max + nc, H, W) map of the branches `box` and `cls`."""
        return [torch.cat((box[i](x[i]), cls[i](x[i])), 1) for i in range(self.nl)]

    def decode(self, x):
        """Maps -> boxes (B, 4, A) xyxy in input pixels, class probabilities (B, nc, A)."""
        b = x[0].shape[0]
        flat = torch.cat([xi.view(b, self.no, -1) for xi in x], 2)  # (B, no, A)
        box, cls = flat.split((4 * self.reg_max, self.nc), 1)
        points, strides = make_anchor_points(x, self.strides)
        lt, rb = self.dfl(box).chunk(2, 1)  # distances left-top / right-bottom, grid units
        p = points.transpose(0, 1).unsqueeze(0)  # (1, 2, A)
        return torch.cat((p - lt, p + rb), 1) * strides.transpose(0, 1), cls.sigmoid()

    def forward(self, x):
        x = self.maps(x, self.cv2, self.cv3)
        if self.training:
            return x
        xyxy, cls = self.decode(x)
        x1y1, x2y2 = xyxy.chunk(2, 1)
        return torch.cat(((x1y1 + x2y2) / 2, x2y2 - x1y1, cls), 1)  # (B, 4 + nc, A): xywh, classes


class DetectE2E(DetectDFL):
    """Ultralytics' end-to-end head (YOLO26: `end2end: True`, `reg_max: 1`): the one-to-many branches
    (cv2, cv3) and a copy of them, the one-to-one branches, which alone make the eval output — the
    `max_det` best (anchor, class) pairs, no NMS. Training returns both branches' maps; the one-to-one
    branches read the features detached (their loss does not reach the backbone). `fuse()` drops
    the one-to-many branches (the deploy form); before that, eval runs them too, as upstream's
    forward does (so the counted FLOPs agree)."""

    max_det = 300

    def __init__(self, nc, ch, strides, reg_max=16, legacy=True):
        super().__init__(nc, ch, strides, reg_max, legacy)
        self.one2one_cv2 = box_branches(ch, self.c2, self.reg_max)
        self.one2one_cv3 = class_branches(ch, self.c3, nc, self.legacy)
        if not self.cv2[0][-1].weight.is_meta:  # the same starting weights, as upstream's deep copy
            self.one2one_cv2.load_state_dict(self.cv2.state_dict())
            self.one2one_cv3.load_state_dict(self.cv3.state_dict())
        for name in ("one2one_cv2", "one2one_cv3"):  # upstream's copy of a branch shares its own SiLU
            for m in getattr(self, name).modules():
                if getattr(m, "default_act", False) is True:
                    m.default_act = name  # (the Conv's note to graph/counts.py's layer count)

    def init_biases(self):
        super().init_biases()
        self.one2one_cv2.load_state_dict(self.cv2.state_dict())
        self.one2one_cv3.load_state_dict(self.cv3.state_dict())

    def fuse(self):
        """The deploy form: the one-to-many branches, unused at inference, go."""
        self.cv2 = self.cv3 = None

    def forward(self, x):
        if self.training:
            return {"one2many": self.maps(x, self.cv2, self.cv3),
                    "one2one": self.maps([xi.detach() for xi in x], self.one2one_cv2, self.one2one_cv3)}
        if self.cv2 is not None:
            self.maps(x, self.cv2, self.cv3)  # upstream computes (and we count) them before fusing
        return self.top(*self.decode(self.maps(x, self.one2one_cv2, self.one2one_cv3)))

    def top(self, xyxy, cls):
        """(B, 4, A) boxes, (B, nc, A) scores -> (B, max_det, 6) [x1, y1, x2, y2, score, class], the best
        (anchor, class) pairs by score, best first. `max_det` zero rows pad the candidates, so the layout
        never depends on the image size (a padding row that makes the cut: zeros, class 0)."""
        b, k, nc = xyxy.shape[0], self.max_det, self.nc
        boxes = torch.cat((xyxy.transpose(1, 2), xyxy.new_zeros(b, k, 4)), 1)  # (B, A + k, 4)
        scores = torch.cat((cls.transpose(1, 2), cls.new_zeros(b, k, nc)), 1)  # (B, A + k, nc)
        best = scores.amax(-1).topk(k, 1).indices  # the k anchors whose best class is best
        scores = scores.gather(1, best.unsqueeze(-1).expand(-1, -1, nc)).flatten(1)  # (B, k * nc)
        score, pair = scores.topk(k, 1)
        anchor = best.gather(1, torch.div(pair, nc, rounding_mode="floor"))
        label = torch.where(score > 0, pair % nc, torch.zeros_like(pair))
        box = boxes.gather(1, anchor.unsqueeze(-1).expand(-1, -1, 4))
        return torch.cat((box, score.unsqueeze(-1), label.unsqueeze(-1).to(box.dtype)), -1)


class DetectV10(DetectE2E):
    """YOLOv10's head (yaml `v10Detect [nc]`): end-to-end, DFL boxes (reg_max 16), the light class
    branch (depth-wise 3x3 + 1x1, twice); the model's top-level keys do not reach it, as upstream."""

    def __init__(self, nc, ch, strides):
        super().__init__(nc, ch, strides, reg_max=16, legacy=False)

    @classmethod
    def model_options(cls, keys: dict, legacy: bool = True) -> dict:
        return {}


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
    if a.get("anchors") is not None:
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


def detect_head(nc, anchors=None, *, ch, strides, end2end=False, reg_max=16, legacy=True) -> Detect:
    """The yaml name `Detect`: `[nc, anchors]` the anchor-based head, `[nc]` the anchor-free one — or,
    with the model's `end2end: True`, the end-to-end one (`reg_max`, `legacy`: Detect.model_options)."""
    if anchors is not None:
        return DetectAnchor(nc, anchors, ch, strides)
    if end2end:
        return DetectE2E(nc, ch, strides, reg_max, legacy)
    return DetectDFL(nc, ch, strides, reg_max, legacy)


NC_ARG = Arg("nc", "int", help="number of classes", low=1, high=10000)
register("Detect", summary="detection head: [nc, anchors] = YOLOv5 anchor-based, [nc] = YOLOv8 anchor-free (DFL); "
         "top-level end2end: True = end-to-end, no NMS (YOLO26, with reg_max: 1)",
         source="YOLOv5 / Ultralytics YOLOv8, YOLO26", channels=HEAD, repeat=ONCE, inputs=0, check=_detect_check,
         args=(NC_ARG, Arg("anchors", "anchors", None, "anchors in pixels per level; omit for anchor-free")),
         upstream=BOTH, example=(EXAMPLE_DOWN,),  # the test detector's own head is the example
         build=detect_head)(Detect)
register("v10Detect", summary="YOLOv10 end-to-end head: one-to-many + one-to-one branches, DFL boxes, depth-wise "
         "class branch; no NMS (the best 300)", source="YOLOv10 (Wang et al., 2024) / Ultralytics",
         channels=HEAD, repeat=ONCE, inputs=0, check=_detect_check, args=(NC_ARG,), upstream=(ULTRALYTICS,),
         example=(EXAMPLE_DOWN,))(DetectV10)
