"""Ultralytics' re-parameterisable convs (RT-DETR, YOLOv9): `RepConv` — a 3x3 Conv + BN and a 1x1
Conv + BN summed, then SiLU; `fuse()` folds them into one 3x3 conv with bias (the RepVGG idea, as in
blocks/repvgg.py, without the identity branch) — and the blocks built on it: `RepBottleneck`,
`RepCSP` (C3 of RepBottlenecks, inside YOLOv9's RepNCSPELAN4, blocks/elan.py) and `RepC3` (RT-DETR's
neck block, registered).

Structures as Ultralytics 8.4 builds them (facts read from its source and checked against its
parameter counts; code written here).
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from .conv import Conv
from .csp import C3, Bottleneck
from .registry import EXAMPLE_DOWN, INSIDE, ULTRALYTICS, c2_arg, e_arg, register


class RepConv(nn.Module):
    """3x3 Conv + BN plus 1x1 Conv + BN (same stride and groups), summed, then SiLU."""

    def __init__(self, c1, c2, k=3, s=1, g=1):
        super().__init__()
        if k != 3:
            raise ValueError(f"RepConv is a 3x3 conv, got k={k}")
        self.conv1 = Conv(c1, c2, 3, s, 1, g=g, act=False)
        self.conv2 = Conv(c1, c2, 1, s, 0, g=g, act=False)
        self.conv = None  # the fused 3x3 conv, after fuse()
        self.act = nn.SiLU()
        # Upstream's RepConvs share one SiLU (`RepConv.default_act`, apart from Conv's); the name says
        # so to a layer count, as Conv's `default_act` does (graph/counts.py).
        self.default_act = "RepConv.default_act"

    def forward(self, x):
        if self.conv is not None:
            return self.act(self.conv(x))
        return self.act(self.conv1(x) + self.conv2(x))

    @torch.no_grad()
    def fuse(self):
        """Fold both BNs, pad the 1x1 kernel to 3x3 and add it in: one conv with bias, same output."""
        if self.conv is not None:
            return
        for m in (self.conv1, self.conv2):
            m.fuse()  # Conv.fuse: BN folded into its conv (a no-op when already done)
        big, small = self.conv1.conv, self.conv2.conv
        if not big.weight.is_meta:  # on the meta device only the shape of the result matters
            big.weight.copy_(big.weight + F.pad(small.weight, [1, 1, 1, 1]))
            big.bias.copy_(big.bias + small.bias)
        self.conv = big
        del self.conv1, self.conv2


class RepBottleneck(Bottleneck):
    """Bottleneck whose first conv is a RepConv: RepConv 3x3, Conv 3x3, residual when c1 == c2."""

    def __init__(self, c1, c2, shortcut=True, g=1, e=0.5):
        super().__init__(c1, c2, shortcut, g, e, k=(1, 3))  # cv2: the 3x3 Conv; cv1 replaced below
        self.cv1 = RepConv(c1, int(c2 * e), 3, 1)


class RepCSP(C3):
    """C3 whose n blocks are RepBottlenecks."""

    @staticmethod
    def inner(c_, shortcut, g):
        return RepBottleneck(c_, c_, shortcut, g, e=1.0)


@register("RepC3", summary="two 1x1 branches, n RepConvs (3x3 + 1x1, foldable) on one, summed, 1x1 out",
          source="RT-DETR (Zhao et al. 2023) / Ultralytics", args=(c2_arg(), e_arg(1.0)), repeat=INSIDE,
          upstream=(ULTRALYTICS,), reach=lambda a, n: 1 + 2 * n,  # n RepConvs (3x3) in series
          example=(EXAMPLE_DOWN, (-1, 3, "RepC3", (32,)), (-1, 1, "RepC3", (48, 0.5))))
class RepC3(nn.Module):
    def __init__(self, c1, c2, n=3, e=1.0):
        super().__init__()
        c_ = int(c2 * e)
        self.cv1 = Conv(c1, c_, 1, 1)
        self.cv2 = Conv(c1, c_, 1, 1)
        self.m = nn.Sequential(*(RepConv(c_, c_) for _ in range(n)))
        self.cv3 = Conv(c_, c2, 1, 1) if c_ != c2 else nn.Identity()

    def forward(self, x):
        return self.cv3(self.m(self.cv1(x)) + self.cv2(x))
