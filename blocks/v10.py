"""YOLOv10 blocks (Wang et al., "YOLOv10: Real-Time End-to-End Object Detection", 2024), as
Ultralytics 8.4 builds them (facts read from its source and checked against its parameter counts;
code written here):

- `SCDown`: spatial-channel decoupled downsampling, a 1x1 Conv then a k x k depth-wise stride-s Conv;
- `RepVGGDW`: a 7x7 and a 3x3 depth-wise conv + BN summed, then SiLU; `fuse()` folds them into one
  7x7 depth-wise conv (the 3x3 padded into its centre);
- `C2fCIB`: C2f whose inner blocks are compact inverted blocks (CIB: depth-wise 3x3, 1x1, depth-wise
  3x3 or, with `lk`, a RepVGGDW, 1x1, depth-wise 3x3). Upstream clears its `legacy` flag on it.
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from .conv import Conv
from .csp import C2f
from .fuse import fold_bn
from .registry import (EXAMPLE_DOWN, INSIDE, SAME, ULTRALYTICS, Arg, c2_arg, conv_size, e_arg, register, s_arg,
                       stride_of)


@register("SCDown", summary="1x1 Conv to c2, then a k x k depth-wise stride-s Conv (no activation)",
          source="YOLOv10 (Wang et al. 2024) / Ultralytics", stride=stride_of, size=conv_size,
          args=(c2_arg(), Arg("k", "int", 3, "depth-wise kernel", low=1, high=15), s_arg(2)),
          upstream=(ULTRALYTICS,),  # reach: the default, one k x k window (the 1x1 adds nothing)
          example=((-1, 1, "SCDown", (32, 3, 2)), (-1, 1, "SCDown", (48, 5, 1))))
class SCDown(nn.Module):
    def __init__(self, c1, c2, k=3, s=2):
        super().__init__()
        self.cv1 = Conv(c1, c2, 1, 1)
        self.cv2 = Conv(c2, c2, k, s, g=c2, act=False)

    def forward(self, x):
        return self.cv2(self.cv1(x))


def _conv_with_bias(m: Conv) -> nn.Conv2d:
    """A Conv's convolution with its BatchNorm folded in (or already folded by its own fuse())."""
    return fold_bn(m.conv, m.bn) if isinstance(m.bn, nn.BatchNorm2d) else m.conv


def repvggdw(c1, ed=None):
    """The yaml name `RepVGGDW`: upstream writes its channels (`ed`), which must be the input's."""
    return RepVGGDW(c1)


def _ed_check(layer):
    ed = layer.args["ed"]
    if ed is not None and ed != layer.c_in[0]:
        return f"RepVGGDW keeps its channels: ed must equal the input's {layer.c_in[0]}, got {ed}"
    return None


@register("RepVGGDW", summary="7x7 and 3x3 depth-wise conv + BN branches summed, SiLU; folds into one 7x7",
          source="YOLOv10 (Wang et al. 2024) / Ultralytics", channels=SAME, takes_c1=True, check=_ed_check,
          args=(Arg("ed", "int?", None, "channels, as upstream writes them (None = the input's)", low=1, high=16384),),
          build=repvggdw, upstream=(ULTRALYTICS,), reach=lambda a, n: 7,
          example=(EXAMPLE_DOWN, (-1, 1, "RepVGGDW", ()), (-1, 2, "RepVGGDW", (32,))))
class RepVGGDW(nn.Module):
    def __init__(self, ed):
        super().__init__()
        self.conv = Conv(ed, ed, 7, 1, 3, g=ed, act=False)
        self.conv1 = Conv(ed, ed, 3, 1, 1, g=ed, act=False)
        self.act = nn.SiLU()

    def forward(self, x):
        if self.conv1 is None:  # fused: one 7x7 depth-wise conv with bias
            return self.act(self.conv(x))
        return self.act(self.conv(x) + self.conv1(x))

    @torch.no_grad()
    def fuse(self):
        """Fold both BatchNorms, pad the 3x3 kernel to 7x7 and add it in: one conv, same output."""
        if self.conv1 is None:
            return
        big, small = _conv_with_bias(self.conv), _conv_with_bias(self.conv1)
        if not big.weight.is_meta:  # on the meta device only the shape of the result matters
            big.weight.copy_(big.weight + F.pad(small.weight, [2, 2, 2, 2]))
            big.bias.copy_(big.bias + small.bias)
        self.conv, self.conv1 = big, None


class CIB(nn.Module):
    """Compact inverted block: dw 3x3, 1x1 to 2c_, dw 3x3 (or RepVGGDW with `lk`), 1x1 to c2, dw 3x3;
    residual when `shortcut` and c1 == c2."""

    def __init__(self, c1, c2, shortcut=True, e=0.5, lk=False):
        super().__init__()
        c_ = int(c2 * e)
        self.cv1 = nn.Sequential(
            Conv(c1, c1, 3, g=c1),
            Conv(c1, 2 * c_, 1),
            RepVGGDW(2 * c_) if lk else Conv(2 * c_, 2 * c_, 3, g=2 * c_),
            Conv(2 * c_, c2, 1),
            Conv(c2, c2, 3, g=c2),
        )
        self.add = shortcut and c1 == c2

    def forward(self, x):
        return x + self.cv1(x) if self.add else self.cv1(x)


@register("C2fCIB", summary="C2f whose inner blocks are compact inverted blocks (CIB), 7x7 RepVGGDW with lk",
          source="YOLOv10 (Wang et al. 2024) / Ultralytics",
          args=(c2_arg(), Arg("shortcut", "bool", False, "residual adds in the CIBs"),
                Arg("lk", "bool", False, "large kernel: a 7x7 RepVGGDW in each CIB"),
                Arg("g", "int", 1, "groups (unused by CIB, kept for C2f compatibility)", low=1), e_arg()),
          repeat=INSIDE, upstream=(ULTRALYTICS,), clears_legacy=True,
          reach=lambda a, n: 1 + n * (10 if a["lk"] else 6),  # dw 3x3, dw 3x3 or 7x7, dw 3x3 per CIB
          example=(EXAMPLE_DOWN, (-1, 2, "C2fCIB", (32, True)), (-1, 1, "C2fCIB", (48, True, True))))
class C2fCIB(C2f):
    def __init__(self, c1, c2, n=1, shortcut=False, lk=False, g=1, e=0.5):
        self.lk = lk  # read by inner(), which C2f calls
        super().__init__(c1, c2, n, shortcut, g, e)

    def inner(self, n, shortcut, g) -> nn.Module:
        return nn.ModuleList(CIB(self.c, self.c, shortcut, e=1.0, lk=self.lk) for _ in range(n))
