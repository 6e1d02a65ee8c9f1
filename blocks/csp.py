"""CSP family: Bottleneck, C3 (YOLOv5), C2f (YOLOv8), SPP and SPPF (YOLOv5 and YOLO26 forms).

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


def _two_odd_kernels(layer) -> str | None:
    k = layer.args["k"]
    if not isinstance(k, tuple) or len(k) != 2:
        return f"k is the two convs' kernel sizes, [k1, k2] (Ultralytics' default [3, 3]), got {k!r}"
    if any(x % 2 == 0 for x in k):
        return f"kernel sizes must be odd to keep the map size, got {list(k)}"
    return None


# Ultralytics' Bottleneck is another block under the same name: its args are (c2, shortcut, g, k, e)
# and its default k is (3, 3), where YOLOv5's are (c2, shortcut, g, e) and 1x1 then 3x3. Both keep
# e = 0.5. (C3 is one block in both: its inner Bottlenecks are 1x1 then 3x3, e = 1.0, in each.)
@register("Bottleneck", dialect=ULTRALYTICS, summary="3x3 Conv then 3x3 Conv with a residual add (Ultralytics)",
          source="Ultralytics (YOLOv3 / ResNet)", check=_two_odd_kernels, upstream=(ULTRALYTICS,),
          args=(c2_arg(), SHORTCUT, GROUPS, Arg("k", "ints", (3, 3), "kernel sizes of the two convs", low=1, high=15),
                e_arg()),
          reach=lambda a, n: a["k"][0] + a["k"][1] - 1 if isinstance(a["k"], tuple) else 2 * a["k"] - 1,
          example=(EXAMPLE_DOWN, (-1, 2, "Bottleneck", (32,)), (-1, 1, "Bottleneck", (48, False, 1, (1, 5), 0.25))))
class BottleneckUltralytics(Bottleneck):
    def __init__(self, c1, c2, shortcut=True, g=1, k=(3, 3), e=0.5):
        super().__init__(c1, c2, shortcut, g, e=e, k=k)


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


def _sppf_reach(a, n):
    return 1 + (3 if a["n"] is None else a["n"]) * (a["k"] - 1)  # n k x k pools in series


@register("SPPF", summary="fast SPP: one k x k max-pool applied n (3) times in series, all concatenated",
          source="YOLOv5 v6 / Ultralytics (YOLO26: n pools, linear cv1, shortcut)", check=odd_pools,
          reach=_sppf_reach, upstream=BOTH,
          args=(c2_arg(), Arg("k", "int", 5, "pool size", low=1, high=31),
                Arg("n", "int?", None, "pools in series; written (YOLO26's form) the first 1x1 Conv is linear, "
                                       "as upstream; None = 3 and the classic activated form", low=1, high=8),
                Arg("shortcut", "bool", False, "add the input to the output when c_in == c2 (YOLO26)")),
          example=(EXAMPLE_DOWN, (-1, 1, "SPPF", (32, 5)), (-1, 1, "SPPF", (32, 5, 3, True)),
                   (-1, 1, "SPPF", (48, 3, 2))))
class SPPF(nn.Module):
    def __init__(self, c1, c2, k=5, n=None, shortcut=False):
        super().__init__()
        c_ = c1 // 2
        self.n = 3 if n is None else n
        self.cv1 = Conv(c1, c_, 1, 1, act=n is None)  # upstream: linear unless the yaml row is [c2] / [c2, k]
        self.cv2 = Conv(c_ * (self.n + 1), c2, 1, 1)
        self.m = nn.MaxPool2d(k, 1, k // 2)
        self.add = shortcut and c1 == c2

    def forward(self, x):
        y = [self.cv1(x)]
        for _ in range(self.n):
            y.append(self.m(y[-1]))
        y = self.cv2(torch.cat(y, 1))
        return x + y if self.add else y
