"""CSP family: Bottleneck, C3 (YOLOv5), C2f (YOLOv8), SPP and SPPF.

Structures as YOLOv5 v7.0 / Ultralytics define them (facts read from their papers and model
summaries; code written here), so parameter counts agree with their printed summaries.
"""
from __future__ import annotations

import torch
import torch.nn as nn

from .conv import Conv
from .registry import BOTH, EXAMPLE_DOWN, INSIDE, ULTRALYTICS, Arg, c2_arg, e_arg, odd_pools, register

SHORTCUT = Arg("shortcut", "bool", True, "residual add when c1 == c2")
GROUPS = Arg("g", "int", 1, "groups of the 3x3 conv", low=1)


@register("Bottleneck", summary="1x1 Conv then 3x3 Conv with a residual add",
          source="YOLOv5 / ResNet", args=(c2_arg(), SHORTCUT, GROUPS, e_arg()), upstream=BOTH,
          reach=lambda a, n: 3,  # 1x1 then 3x3
          example=(EXAMPLE_DOWN, (-1, 2, "Bottleneck", (32,)), (-1, 1, "Bottleneck", (48, False))))
class Bottleneck(nn.Module):
    def __init__(self, c1, c2, shortcut=True, g=1, e=0.5, k=(1, 3)):
        super().__init__()
        c_ = int(c2 * e)  # hidden channels
        self.cv1 = Conv(c1, c_, k[0], 1)
        self.cv2 = Conv(c_, c2, k[1], 1, g=g)
        self.add = shortcut and c1 == c2

    def forward(self, x):
        y = self.cv2(self.cv1(x))
        return x + y if self.add else y


@register("C3", summary="CSP bottleneck with 3 convs: two 1x1 branches, n Bottlenecks on one",
          source="YOLOv5 (CSPNet)", args=(c2_arg(), SHORTCUT, GROUPS, e_arg()), repeat=INSIDE, upstream=BOTH,
          reach=lambda a, n: 1 + 2 * n,  # n Bottlenecks (1x1, 3x3) in series; the other branch is 1x1
          example=(EXAMPLE_DOWN, (-1, 2, "C3", (32,)), (-1, 1, "C3", (48, False))))
class C3(nn.Module):
    def __init__(self, c1, c2, n=1, shortcut=True, g=1, e=0.5):
        super().__init__()
        c_ = int(c2 * e)
        self.cv1 = Conv(c1, c_, 1, 1)
        self.cv2 = Conv(c1, c_, 1, 1)
        self.cv3 = Conv(2 * c_, c2, 1)
        self.m = nn.Sequential(*(self.inner(c_, shortcut, g) for _ in range(n)))

    @staticmethod
    def inner(c_, shortcut, g):
        return Bottleneck(c_, c_, shortcut, g, e=1.0)

    def forward(self, x):
        return self.cv3(torch.cat((self.m(self.cv1(x)), self.cv2(x)), 1))


@register("C2f", summary="YOLOv8 CSP block: split, n Bottlenecks, concat every stage",
          source="Ultralytics YOLOv8",
          args=(c2_arg(), Arg("shortcut", "bool", False, "residual add in the Bottlenecks"),
                GROUPS, e_arg()), repeat=INSIDE, upstream=(ULTRALYTICS,),
          reach=lambda a, n: 1 + 4 * n,  # n Bottlenecks (3x3, 3x3) in series
          example=(EXAMPLE_DOWN, (-1, 2, "C2f", (32, True)), (-1, 1, "C2f", (48,))))
class C2f(nn.Module):
    def __init__(self, c1, c2, n=1, shortcut=False, g=1, e=0.5):
        super().__init__()
        self.c = int(c2 * e)  # hidden channels
        self.cv1 = Conv(c1, 2 * self.c, 1, 1)
        self.cv2 = Conv((2 + n) * self.c, c2, 1)
        self.m = self.inner(n, shortcut, g)

    def inner(self, n, shortcut, g) -> nn.Module:
        return nn.ModuleList(Bottleneck(self.c, self.c, shortcut, g, e=1.0, k=(3, 3)) for _ in range(n))

    def forward(self, x):
        y = list(self.cv1(x).chunk(2, 1))
        for m in self.m:
            y.append(m(y[-1]))
        return self.cv2(torch.cat(y, 1))


@register("SPP", summary="spatial pyramid pooling: parallel max-pools 5, 9, 13",
          source="YOLOv3-SPP / YOLOv5", check=odd_pools,
          args=(c2_arg(), Arg("k", "ints", (5, 9, 13), "pool sizes", low=1, high=31)), upstream=BOTH,
          example=(EXAMPLE_DOWN, (-1, 1, "SPP", (32, (5, 9, 13)))))
class SPP(nn.Module):
    def __init__(self, c1, c2, k=(5, 9, 13)):
        super().__init__()
        k = (k,) if isinstance(k, int) else tuple(k)
        c_ = c1 // 2
        self.cv1 = Conv(c1, c_, 1, 1)
        self.cv2 = Conv(c_ * (len(k) + 1), c2, 1, 1)
        self.m = nn.ModuleList(nn.MaxPool2d(x, 1, x // 2) for x in k)

    def forward(self, x):
        x = self.cv1(x)
        return self.cv2(torch.cat([x] + [m(x) for m in self.m], 1))


@register("SPPF", summary="fast SPP: one 5x5 max-pool applied three times in series",
          source="YOLOv5 v6 / Ultralytics", check=odd_pools, reach=lambda a, n: 1 + 3 * (a["k"] - 1),
          args=(c2_arg(), Arg("k", "int", 5, "pool size", low=1, high=31)), upstream=BOTH,
          example=(EXAMPLE_DOWN, (-1, 1, "SPPF", (32, 5))))
class SPPF(nn.Module):
    def __init__(self, c1, c2, k=5):
        super().__init__()
        c_ = c1 // 2
        self.cv1 = Conv(c1, c_, 1, 1)
        self.cv2 = Conv(c_ * 4, c2, 1, 1)
        self.m = nn.MaxPool2d(k, 1, k // 2)

    def forward(self, x):
        y = [self.cv1(x)]
        for _ in range(3):
            y.append(self.m(y[-1]))
        return self.cv2(torch.cat(y, 1))
