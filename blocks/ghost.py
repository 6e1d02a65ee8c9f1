"""Ghost family (seed 001; GhostNet, Han et al., CVPR 2020): GhostConv, GhostBottleneck, C3Ghost,
C2fGhost.

GhostConv makes half its output with an ordinary Conv and the other half with a cheap 5x5
depth-wise Conv of that half, as YOLOv5 / Ultralytics build it. C2fGhost is the article's C2f whose
inner blocks are GhostBottlenecks (`n` passed inside).
"""
from __future__ import annotations

import torch
import torch.nn as nn

from .conv import Conv, DWConv
from .csp import C2f, C3
from .registry import (BOTH, EXAMPLE_DOWN, INSIDE, Arg, c2_arg, conv_size, e_arg, k_arg, k_max, register, s_arg,
                       stride_of)
from .sources import cite


@register("GhostConv", summary="half the channels from a Conv, half from a cheap 5x5 depth-wise Conv",
          source=cite("ghostnet", "ghostnet"), stride=stride_of, size=conv_size,
          reach=lambda a, n: k_max(a) + 4 * a["s"],  # k x k (stride s), then the 5x5 on its output
          args=(c2_arg(), k_arg(1), s_arg(1), Arg("g", "int", 1, "groups", low=1),
                Arg("act", "bool", True, "SiLU activation")), upstream=BOTH,
          example=((-1, 1, "GhostConv", (32, 3, 2)), (-1, 1, "GhostConv", (48, 1, 1))))
class GhostConv(nn.Module):
    def __init__(self, c1, c2, k=1, s=1, g=1, act=True):
        super().__init__()
        c_ = c2 // 2
        self.cv1 = Conv(c1, c_, k, s, None, g, act=act)
        self.cv2 = Conv(c_, c_, 5, 1, None, c_, act=act)  # the cheap operation

    def forward(self, x):
        y = self.cv1(x)
        return torch.cat((y, self.cv2(y)), 1)


def _ghost_residual(layer):
    if layer.args["s"] == 1 and layer.c_in[0] != layer.args["c2"]:
        return (f"a stride-1 GhostBottleneck adds its input to its output, so it needs "
                f"c_in == c_out (got {layer.c_in[0]} -> {layer.args['c2']})")
    return None


@register("GhostBottleneck", summary="two GhostConvs (depth-wise stride-2 between) plus a shortcut",
          source=cite("ghostnet", "ghostnet"), stride=stride_of, check=_ghost_residual,
          size=lambda a, h: conv_size(a, h) if a["s"] == 2 else h,
          # GhostConv 1x1 (+5x5): 5; the k x k depth-wise only at stride 2; GhostConv 1x1 (+5x5 at jump s)
          reach=lambda a, n: 9 if a["s"] == 1 else a["k"] + 4 + 4 * a["s"],
          args=(c2_arg(), Arg("k", "int", 3, "depth-wise kernel", low=1, high=15),
                s_arg(1, high=2)), upstream=BOTH,
          example=((-1, 1, "GhostBottleneck", (32, 3, 2)), (-1, 2, "GhostBottleneck", (32, 3, 1))))
class GhostBottleneck(nn.Module):
    def __init__(self, c1, c2, k=3, s=1):
        super().__init__()
        c_ = c2 // 2
        self.conv = nn.Sequential(
            GhostConv(c1, c_, 1, 1),  # point-wise
            DWConv(c_, c_, k, s, act=False) if s == 2 else nn.Identity(),  # depth-wise
            GhostConv(c_, c2, 1, 1, act=False),  # point-wise, linear
        )
        self.shortcut = (nn.Sequential(DWConv(c1, c1, k, s, act=False), Conv(c1, c2, 1, 1, act=False))
                         if s == 2 else nn.Identity())

    def forward(self, x):
        return self.conv(x) + self.shortcut(x)


@register("C3Ghost", summary="C3 with GhostBottlenecks inside", source="YOLOv5 / Ultralytics",
          args=(c2_arg(), Arg("shortcut", "bool", True, "kept for C3 compatibility"),
                Arg("g", "int", 1, "groups", low=1), e_arg()), repeat=INSIDE, upstream=BOTH,
          reach=lambda a, n: 1 + 8 * n,  # n stride-1 GhostBottlenecks (9 each) in series
          example=(EXAMPLE_DOWN, (-1, 2, "C3Ghost", (32,))))
class C3Ghost(C3):
    @staticmethod
    def inner(c_, shortcut, g):
        return GhostBottleneck(c_, c_)


@register("C2fGhost", summary="C2f whose inner blocks are GhostBottlenecks",
          source=cite("ghostnet"),
          args=(c2_arg(), Arg("shortcut", "bool", False, "kept for C2f compatibility"),
                Arg("g", "int", 1, "groups", low=1), e_arg()), repeat=INSIDE,
          reach=lambda a, n: 1 + 8 * n,  # n stride-1 GhostBottlenecks (9 each) in series
          example=(EXAMPLE_DOWN, (-1, 2, "C2fGhost", (32, True))))
class C2fGhost(C2f):
    def inner(self, n, shortcut, g) -> nn.Module:
        return nn.Sequential(*(GhostBottleneck(self.c, self.c) for _ in range(n)))
