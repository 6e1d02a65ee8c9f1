"""GSConv slim-neck family (seed 002; Li et al., "Slim-neck by GSConv", 2022): GSConv, GSConvns,
GSBottleneck and VoVGSCSP.

GSConv = a dense Conv to half the channels, a cheap 5x5 depth-wise Conv of that half, concat, then a
channel shuffle that interleaves the two halves so the dense and depth-wise features mix.
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from .conv import Conv
from .registry import (EXAMPLE_DOWN, INSIDE, Arg, c2_arg, conv_size, e_arg, k_arg, k_max, odd_kernel, register,
                       s_arg, stride_of)
from .sources import cite

def _gs_reach(a, n):
    return k_max(a) + 4 * a["s"]  # k x k (stride s), then the 5x5 depth-wise on its output


GS_ARGS = (c2_arg(), k_arg(1), s_arg(1), Arg("g", "int", 1, "groups", low=1),
           Arg("act", "bool", True, "SiLU activation"))


def _even_c2(layer):
    if layer.args["c2"] % 2:
        return f"c2 must be even: half the channels are dense, half depth-wise (got {layer.args['c2']})"
    return None


@register("GSConv", summary="dense Conv to c/2 + depth-wise 5x5 of it, concat, channel shuffle",
          source=cite("gsconv", "slim-neck"), args=GS_ARGS, stride=stride_of, size=conv_size, check=_even_c2,
          reach=_gs_reach,
          example=((-1, 1, "GSConv", (32, 3, 2)), (-1, 1, "GSConv", (48, 1, 1))))
class GSConv(nn.Module):
    def __init__(self, c1, c2, k=1, s=1, g=1, act=True):
        super().__init__()
        c_ = c2 // 2
        self.cv1 = Conv(c1, c_, k, s, None, g, act=act)
        self.cv2 = Conv(c_, c_, 5, 1, None, c_, act=act)

    def mix(self, x1):
        return torch.cat((x1, self.cv2(x1)), 1)

    def forward(self, x):
        x2 = self.mix(self.cv1(x))  # (B, C, H, W): [dense | depth-wise]
        b, c, h, w = x2.shape
        # shuffle: the even channels, then the odd ones, so each half mixes dense and cheap features
        y = x2.reshape(b * c // 2, 2, h * w).permute(1, 0, 2).reshape(2, -1, c // 2, h, w)
        return torch.cat((y[0], y[1]), 1)


@register("GSConvns", summary="GSConv with a learned 1x1 'normative shuffle' + ReLU (TensorRT-friendly)",
          source=cite("gsconv", "slim-neck"), args=GS_ARGS, stride=stride_of, size=conv_size, check=_even_c2,
          reach=_gs_reach,
          example=((-1, 1, "GSConvns", (32, 3, 2)), (-1, 1, "GSConvns", (48, 1, 1))))
class GSConvns(GSConv):
    """The article constructs `nn.ReLU(x)` (a module) where it means to apply ReLU, and ignores the
    k / s / g / act it is given; here the ReLU is applied and the arguments are honoured."""

    def __init__(self, c1, c2, k=1, s=1, g=1, act=True):
        super().__init__(c1, c2, k, s, g, act)
        self.shuf = nn.Conv2d(c2 // 2 * 2, c2, 1, 1, 0, bias=False)

    def forward(self, x):
        return F.relu(self.shuf(self.mix(self.cv1(x))))


@register("GSBottleneck", summary="GSConv 1x1 to c/2, GSConv 3x3 (no act), plus a 1x1 Conv shortcut",
          source=cite("gsconv", "slim-neck"), stride=stride_of, check=odd_kernel,
          reach=lambda a, n: 5 + _gs_reach(a, n) - 1,  # GSConv 1x1 (5), then GSConv k, s
          args=(c2_arg(), Arg("k", "int", 3, "kernel of the second GSConv (odd)", low=1, high=15),
                s_arg(1), e_arg()),
          example=((-1, 1, "GSBottleneck", (32, 3, 2)), (-1, 1, "GSBottleneck", (32,))))
class GSBottleneck(nn.Module):
    def __init__(self, c1, c2, k=3, s=1, e=0.5):
        super().__init__()
        c_ = int(c2 * e)
        self.conv_lighting = nn.Sequential(GSConv(c1, c_, 1, 1), GSConv(c_, c2, k, s, act=False))
        self.shortcut = Conv(c1, c2, 1, s, act=False)

    def forward(self, x):
        return self.conv_lighting(x) + self.shortcut(x)


@register("VoVGSCSP", summary="one-shot-aggregation CSP of GSBottlenecks: the slim-neck's C3",
          source=cite("gsconv", "slim-neck"), repeat=INSIDE,
          reach=lambda a, n: 1 + 10 * n,  # n GSBottlenecks (k 3, s 1: 11 each) in series
          args=(c2_arg(), Arg("shortcut", "bool", True, "kept for C3 compatibility"),
                Arg("g", "int", 1, "groups", low=1), e_arg()),
          example=(EXAMPLE_DOWN, (-1, 2, "VoVGSCSP", (32,)), (-1, 1, "VoVGSCSP", (48,))))
class VoVGSCSP(nn.Module):
    """Upstream (the slim-neck repository's VoVGSCSP, for YOLOv5 and for Ultralytics) also builds a
    3x3 Conv `res` (c_ -> c_, BatchNorm, no activation) that its forward never calls. It is built here
    too, so the parameter count is the one upstream prints; graph/dead.py finds it unused, the counts
    report it as dead parameters, and the deploy form drops it."""

    def __init__(self, c1, c2, n=1, shortcut=True, g=1, e=0.5):
        super().__init__()
        c_ = int(c2 * e)
        self.cv1 = Conv(c1, c_, 1, 1)
        self.cv2 = Conv(c1, c_, 1, 1)
        self.gsb = nn.Sequential(*(GSBottleneck(c_, c_, e=1.0) for _ in range(n)))
        self.res = Conv(c_, c_, 3, 1, act=False)  # never used: upstream's, for its parameter count
        self.cv3 = Conv(2 * c_, c2, 1)

    def forward(self, x):
        return self.cv3(torch.cat((self.cv2(x), self.gsb(self.cv1(x))), 1))
