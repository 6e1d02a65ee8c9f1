"""GELAN blocks of YOLOv9 (Wang et al., "YOLOv9: Learning What You Want to Learn Using Programmable
Gradient Information", 2024), as Ultralytics 8.4 builds them (facts read from its source and checked
against its parameter counts; code written here):

- `RepNCSPELAN4`: 1x1 Conv to c3, split in two; one half through two stages in series (each a RepCSP
  of n RepBottlenecks then a 3x3 Conv, c4 wide); both halves and both stage outputs concatenated, 1x1;
- `ELAN1`: the same with each stage a single 3x3 Conv (YOLOv9-t / -s);
- `SPPELAN`: 1x1 Conv to c3, three k x k max-pools in series, all four concatenated, 1x1;
- `ADown`: 2x2 average (stride 1), split in two: a 3x3 stride-2 Conv on one half, a 3x3 stride-2
  max-pool and a 1x1 Conv on the other, concatenated (stride 2);
- `AConv`: 2x2 average (stride 1), then a 3x3 stride-2 Conv;
- `CBLinear` / `CBFuse`: YOLOv9-E's auxiliary reversible branch. CBLinear is one k x k conv (with
  bias, no BatchNorm) whose output is several maps of the widths it is given (unscaled, as upstream);
  CBFuse picks one of them from each CBLinear it reads, resizes each to its last input's size
  (nearest) and sums them with it. Upstream's CBLinear returns the maps as a tuple; here it returns
  them stacked on channels and CBFuse slices its map out (the resolver hands it the widths), which
  keeps every layer's output one tensor: same parameters, same numbers.

c3 and c4 are written as they are: upstream scales only c2 by width. The pools of ADown and AConv are
functional, as upstream, so thop-style FLOP counts leave them out just as Ultralytics' do.
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from .conv import Conv
from .registry import EXAMPLE_DOWN, ONCE, PICK, SPLIT, ULTRALYTICS, Arg, c2_arg, odd_kernel, register
from .rep import RepCSP


def _hidden_arg(name: str, help: str) -> Arg:
    return Arg(name, "int", help=help + " (not scaled by width, as upstream)", low=1, high=16384)


def _even_c3(layer):
    if layer.args["c3"] % 2:
        return f"c3 is split into two halves, so it must be even, got {layer.args['c3']}"
    return None


@register("RepNCSPELAN4", summary="YOLOv9 GELAN block: 1x1, split; two (RepCSP + 3x3) stages in series; concat all, 1x1",
          source="YOLOv9 (Wang et al. 2024) / Ultralytics",
          args=(c2_arg(), _hidden_arg("c3", "channels after the first 1x1 (split in two)"),
                _hidden_arg("c4", "channels of each stage"),
                Arg("n", "int", 1, "RepBottlenecks in each stage's RepCSP", low=1, high=64)),
          check=_even_c3, upstream=(ULTRALYTICS,),
          reach=lambda a, n: 5 + 8 * a["n"],  # per stage n x (3x3, 3x3) and a 3x3; two stages in series
          example=(EXAMPLE_DOWN, (-1, 1, "RepNCSPELAN4", (32, 32, 16, 1)), (-1, 1, "RepNCSPELAN4", (48, 32, 24, 2))))
class RepNCSPELAN4(nn.Module):
    def __init__(self, c1, c2, c3, c4, n=1):
        super().__init__()
        self.cv1 = Conv(c1, c3, 1, 1)
        self.cv2, self.cv3 = self.stages(c3 // 2, c4, n)
        self.cv4 = Conv(c3 + 2 * c4, c2, 1, 1)

    @staticmethod
    def stages(c, c4, n):
        return (nn.Sequential(RepCSP(c, c4, n), Conv(c4, c4, 3, 1)),
                nn.Sequential(RepCSP(c4, c4, n), Conv(c4, c4, 3, 1)))

    def forward(self, x):
        y = list(self.cv1(x).chunk(2, 1))
        y.extend(m(y[-1]) for m in (self.cv2, self.cv3))
        return self.cv4(torch.cat(y, 1))


@register("ELAN1", summary="light GELAN block: 1x1, split; two 3x3 Convs in series; concat all, 1x1",
          source="YOLOv9 (Wang et al. 2024) / Ultralytics",
          args=(c2_arg(), _hidden_arg("c3", "channels after the first 1x1 (split in two)"),
                _hidden_arg("c4", "channels of each 3x3 stage")),
          check=_even_c3, upstream=(ULTRALYTICS,), reach=lambda a, n: 5,  # 1x1, then two 3x3 in series
          example=(EXAMPLE_DOWN, (-1, 1, "ELAN1", (32, 32, 16)), (-1, 2, "ELAN1", (32, 16, 8))))
class ELAN1(RepNCSPELAN4):
    def __init__(self, c1, c2, c3, c4):
        super().__init__(c1, c2, c3, c4)

    @staticmethod
    def stages(c, c4, n):
        return Conv(c, c4, 3, 1), Conv(c4, c4, 3, 1)


@register("SPPELAN", summary="SPP-ELAN: 1x1 to c3, three k x k max-pools in series, concat all four, 1x1",
          source="YOLOv9 (Wang et al. 2024) / Ultralytics",
          args=(c2_arg(), _hidden_arg("c3", "channels of the pooled maps"),
                Arg("k", "int", 5, "pool size", low=1, high=31)),
          check=lambda layer: odd_kernel(layer), upstream=(ULTRALYTICS,),
          reach=lambda a, n: 1 + 3 * (a["k"] - 1),  # three k x k pools in series
          example=(EXAMPLE_DOWN, (-1, 1, "SPPELAN", (32, 16)), (-1, 1, "SPPELAN", (48, 24, 3))))
class SPPELAN(nn.Module):
    def __init__(self, c1, c2, c3, k=5):
        super().__init__()
        self.cv1 = Conv(c1, c3, 1, 1)
        self.cv2, self.cv3, self.cv4 = (nn.MaxPool2d(k, 1, k // 2) for _ in range(3))
        self.cv5 = Conv(4 * c3, c2, 1, 1)

    def forward(self, x):
        y = [self.cv1(x)]
        y.extend(m(y[-1]) for m in (self.cv2, self.cv3, self.cv4))
        return self.cv5(torch.cat(y, 1))


def _even_split(layer):
    c1, c2 = layer.c_in[0], layer.args["c2"]
    if c1 % 2 or c2 % 2:
        return f"ADown splits its input and builds its output in two halves: c_in and c2 must be even (got {c1}, {c2})"
    return None


def _halved(a, h):
    """Output size after the 2x2 stride-1 average (h - 1) and a stride-2 3x3 window padded by 1."""
    return h // 2


@register("ADown", summary="2x2 average, split: 3x3 stride-2 Conv | 3x3 stride-2 max-pool + 1x1 Conv; concat",
          source="YOLOv9 (Wang et al. 2024) / Ultralytics", args=(c2_arg(),), stride=lambda a: 2, size=_halved,
          check=_even_split, upstream=(ULTRALYTICS,),
          reach=lambda a, n: 4,  # the 2x2 average, then a 3x3 window at stride 2
          example=((-1, 1, "ADown", (32,)), (-1, 1, "Conv", (48, 3, 1))))
class ADown(nn.Module):
    def __init__(self, c1, c2):
        super().__init__()
        self.c = c2 // 2
        self.cv1 = Conv(c1 // 2, self.c, 3, 2, 1)
        self.cv2 = Conv(c1 // 2, self.c, 1, 1, 0)

    def forward(self, x):
        x1, x2 = F.avg_pool2d(x, 2, 1, 0, False, True).chunk(2, 1)
        return torch.cat((self.cv1(x1), self.cv2(F.max_pool2d(x2, 3, 2, 1))), 1)


@register("AConv", summary="2x2 average (stride 1), then a 3x3 stride-2 Conv",
          source="YOLOv9 (Wang et al. 2024) / Ultralytics", args=(c2_arg(),), stride=lambda a: 2, size=_halved,
          upstream=(ULTRALYTICS,), reach=lambda a, n: 4,  # the 2x2 average, then a 3x3 window
          example=((-1, 1, "AConv", (32,)), (-1, 1, "Conv", (48, 3, 1))))
class AConv(nn.Module):
    def __init__(self, c1, c2):
        super().__init__()
        self.cv1 = Conv(c1, c2, 3, 2, 1)

    def forward(self, x):
        return self.cv1(F.avg_pool2d(x, 2, 1, 0, False, True))


@register("CBLinear", summary="YOLOv9-E: one k x k conv (bias, no BN) giving several maps of the given widths",
          source="YOLOv9 (Wang et al. 2024) / Ultralytics",
          args=(Arg("c2s", "ints", help="widths of the maps it gives (not scaled by width, as upstream)",
                    low=1, high=16384),
                Arg("k", "int", 1, "kernel size", low=1, high=15), Arg("s", "int", 1, "stride", low=1, high=4),
                Arg("p", "int?", None, "padding (None: k // 2)", low=0, high=15),
                Arg("g", "int", 1, "groups", low=1, high=16384)),
          channels=SPLIT, repeat=ONCE, takes_c1=True, stride=lambda a: a["s"],
          size=lambda a, h: (h + 2 * (a["k"] // 2 if a["p"] is None else a["p"]) - a["k"]) // a["s"] + 1,
          upstream=(ULTRALYTICS,), example=(((-1, 1, "CBLinear", ((16, 16),)), EXAMPLE_DOWN)))
class CBLinear(nn.Module):
    def __init__(self, c1, c2s, k=1, s=1, p=None, g=1):
        super().__init__()
        self.c2s = [c2s] if isinstance(c2s, int) else list(c2s)
        self.conv = nn.Conv2d(c1, sum(self.c2s), k, s, k // 2 if p is None else p, groups=g, bias=True)

    def forward(self, x):
        return self.conv(x)


@register("CBFuse", summary="YOLOv9-E: one map picked from each CBLinear, resized to the last input, summed with it",
          source="YOLOv9 (Wang et al. 2024) / Ultralytics",
          args=(Arg("idx", "ints", help="which map of each CBLinear input to take", low=0, high=63),),
          channels=PICK, repeat=ONCE, inputs=0, upstream=(ULTRALYTICS,),
          example=((-1, 1, "CBLinear", ((16, 32),)), (-2, 1, "Conv", (32, 3, 2)), ((-2, -1), 1, "CBFuse", ((1,),))))
class CBFuse(nn.Module):
    def __init__(self, idx, splits=()):
        super().__init__()
        self.idx = [idx] if isinstance(idx, int) else list(idx)
        self.splits = [list(w) for w in splits]

    def forward(self, xs):
        last = xs[-1]
        out = []
        for x, j, widths in zip(xs[:-1], self.idx, self.splits):
            start = sum(widths[:j])
            out.append(F.interpolate(x[:, start:start + widths[j]], size=last.shape[2:], mode="nearest"))
        return torch.stack(out + [last]).sum(0)
