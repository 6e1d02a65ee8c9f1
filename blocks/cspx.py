"""More CSP variants, as Ultralytics 8.4 (and YOLOv5 7.0, where it has them) builds them (facts read from its source and checked against its
parameter counts; code written here):

- `C2`: 1x1 to 2c, split; n Bottlenecks (3x3, 3x3) on one half; concat, 1x1 (YOLOv8 -p6 / -ghost-p6 era);
- `C3x`: C3 whose Bottlenecks are cross convs, 1x3 then 3x1;
- `BottleneckCSP`: the CSPNet block of YOLOv4 / early YOLOv5: a 1x1 Conv, n Bottlenecks and a plain 1x1
  conv on one path, a plain 1x1 conv on the other, BN + SiLU over their concat, 1x1 Conv out. The two
  tools build it differently: YOLOv5 7.0's Bottlenecks are 1x1 then 3x3, Ultralytics' 3x3 then 3x3
  (its dialect form, as for Bottleneck). `fuse()` folds the BN over the concat into the two plain
  convs, half each.
"""
from __future__ import annotations

import torch
import torch.nn as nn

from .conv import Conv
from .csp import C3, Bottleneck
from .fuse import fold_bn
from .registry import BOTH, EXAMPLE_DOWN, INSIDE, ULTRALYTICS, Arg, c2_arg, e_arg, register

SHORTCUT = Arg("shortcut", "bool", True, "residual adds in the Bottlenecks")
GROUPS = Arg("g", "int", 1, "groups of the Bottlenecks' second conv", low=1)
CSP_ARGS = (c2_arg(), SHORTCUT, GROUPS, e_arg())


@register("C2", summary="1x1 to 2c, split; n Bottlenecks (3x3, 3x3) on one half; concat, 1x1",
          source="Ultralytics YOLOv8", args=CSP_ARGS, repeat=INSIDE, upstream=(ULTRALYTICS,),
          reach=lambda a, n: 1 + 4 * n,  # n Bottlenecks (3x3, 3x3) in series
          example=(EXAMPLE_DOWN, (-1, 2, "C2", (32,)), (-1, 1, "C2", (48, False))))
class C2(nn.Module):
    def __init__(self, c1, c2, n=1, shortcut=True, g=1, e=0.5):
        super().__init__()
        self.c = int(c2 * e)
        self.cv1 = Conv(c1, 2 * self.c, 1, 1)
        self.cv2 = Conv(2 * self.c, c2, 1)
        self.m = nn.Sequential(*(Bottleneck(self.c, self.c, shortcut, g, e=1.0, k=(3, 3)) for _ in range(n)))

    def forward(self, x):
        a, b = self.cv1(x).chunk(2, 1)
        return self.cv2(torch.cat((self.m(a), b), 1))


@register("C3x", summary="C3 whose Bottlenecks are cross convs: 1x3 then 3x1",
          source="Ultralytics", args=CSP_ARGS, repeat=INSIDE, upstream=(ULTRALYTICS,),
          reach=lambda a, n: 1 + 2 * n,  # each cross Bottleneck widens the window by 2 each way
          example=(EXAMPLE_DOWN, (-1, 2, "C3x", (32,)), (-1, 1, "C3x", (48, False))))
class C3x(C3):
    @staticmethod
    def inner(c_, shortcut, g):
        return Bottleneck(c_, c_, shortcut, g, e=1.0, k=((1, 3), (3, 1)))


@torch.no_grad()
def _bn_part(bn: nn.BatchNorm2d, part: slice) -> nn.BatchNorm2d:
    """A BatchNorm of some of `bn`'s channels, with their weights and statistics (eval-mode equal)."""
    c = len(range(bn.num_features)[part])
    sub = nn.BatchNorm2d(c, eps=bn.eps, device=bn.weight.device, dtype=bn.weight.dtype)
    for name in ("weight", "bias", "running_mean", "running_var"):
        getattr(sub, name).copy_(getattr(bn, name)[part])
    return sub


@register("BottleneckCSP", summary="CSPNet block: Conv + n Bottlenecks + conv | conv; BN + SiLU over the concat; 1x1",
          source="CSPNet (Wang et al. 2020) / YOLOv5", args=CSP_ARGS, repeat=INSIDE, upstream=BOTH,
          reach=lambda a, n: 1 + 2 * n,  # n Bottlenecks (1x1, 3x3) in series
          example=(EXAMPLE_DOWN, (-1, 2, "BottleneckCSP", (32,)), (-1, 1, "BottleneckCSP", (48, False))))
class BottleneckCSP(nn.Module):
    def __init__(self, c1, c2, n=1, shortcut=True, g=1, e=0.5):
        super().__init__()
        c_ = int(c2 * e)
        self.cv1 = Conv(c1, c_, 1, 1)
        self.cv2 = nn.Conv2d(c1, c_, 1, 1, bias=False)
        self.cv3 = nn.Conv2d(c_, c_, 1, 1, bias=False)
        self.cv4 = Conv(2 * c_, c2, 1, 1)
        self.bn = nn.BatchNorm2d(2 * c_)  # over cat(cv3, cv2)
        self.act = nn.SiLU()
        self.m = nn.Sequential(*(self.inner(c_, shortcut, g) for _ in range(n)))

    @staticmethod
    def inner(c_, shortcut, g):
        return Bottleneck(c_, c_, shortcut, g, e=1.0)  # YOLOv5's: 1x1 then 3x3

    def forward(self, x):
        y = torch.cat((self.cv3(self.m(self.cv1(x))), self.cv2(x)), 1)
        return self.cv4(self.act(self.bn(y)))

    def fuse(self):
        """The BN over the concat is a per-channel affine map: its first half folds into cv3, the
        second into cv2."""
        if isinstance(self.bn, nn.BatchNorm2d):
            c_ = self.cv3.out_channels
            self.cv3 = fold_bn(self.cv3, _bn_part(self.bn, slice(0, c_)))
            self.cv2 = fold_bn(self.cv2, _bn_part(self.bn, slice(c_, 2 * c_)))
            self.bn = nn.Identity()


@register("BottleneckCSP", dialect=ULTRALYTICS, summary="CSPNet block with Ultralytics' 3x3 / 3x3 Bottlenecks",
          source="CSPNet (Wang et al. 2020) / Ultralytics", args=CSP_ARGS, repeat=INSIDE, upstream=(ULTRALYTICS,),
          reach=lambda a, n: 1 + 4 * n,  # n Bottlenecks (3x3, 3x3) in series
          example=(EXAMPLE_DOWN, (-1, 2, "BottleneckCSP", (32,)), (-1, 1, "BottleneckCSP", (48, False))))
class BottleneckCSPUltralytics(BottleneckCSP):
    @staticmethod
    def inner(c_, shortcut, g):
        return Bottleneck(c_, c_, shortcut, g, e=1.0, k=(3, 3))
