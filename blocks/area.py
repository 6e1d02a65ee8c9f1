"""Area attention (YOLO12, Tian et al. 2025): `AAttn` splits the map into `area` horizontal bands and
runs multi-head self-attention inside each (heads 32 channels wide, a 7x7 depth-wise positional
encoding of the values); `ABlock` adds a 1x1 MLP; `A2C2f` is the R-ELAN block: a 1x1 Conv, n stages
each of two ABlocks (or a C3k when `a2` is off), every stage's output concatenated, a 1x1 Conv, and
optionally a residual scaled by a learnt per-channel gamma.

Upstream's parse_model appends (residual=True, mlp_ratio=1.2) to A2C2f's args at the l / x scales (the
`scale_rule` below) and clears its `legacy` flag. Facts read from Ultralytics 8.4's source and checked
against its parameter counts; code written here. As for every attention block, `reach` leaves the
global mixing out (blocks/psa.py says why): it is the 7x7 encodings and 1x1 convs.
"""
from __future__ import annotations

import torch
import torch.nn as nn

from .c3k2 import C3k
from .conv import Conv
from .registry import EXAMPLE_DOWN, INSIDE, ULTRALYTICS, Arg, c2_arg, e_arg, register

class AAttn(nn.Module):
    """Self-attention within each of `area` bands of rows (area <= 1: the whole map)."""

    def __init__(self, dim, num_heads, area=1):
        super().__init__()
        self.area, self.heads = area, num_heads
        self.head_dim = dim // num_heads
        self.all_dim = inner = self.head_dim * num_heads
        self.qkv = Conv(dim, 3 * inner, 1, act=False)
        self.proj = Conv(inner, dim, 1, act=False)
        self.pe = Conv(inner, inner, 7, 1, 3, g=inner, act=False)
        self.attend_globally = True

    def forward(self, x):
        b, _, h, w = x.shape
        n = h * w
        # (B, N, 3 * inner); permute + reshape rather than flatten + transpose, whose gradient into the
        # BatchNorm before it comes out wrong for a batch of one on torch 2.13's CPU kernels
        qkv = self.qkv(x).permute(0, 2, 3, 1).reshape(b, n, 3 * self.all_dim)
        if self.area > 1:  # each band of rows is its own sequence
            qkv = qkv.reshape(b * self.area, n // self.area, 3 * self.all_dim)
        seqs, length = qkv.shape[:2]
        q, k, v = qkv.view(seqs, length, self.heads, 3 * self.head_dim).permute(0, 2, 3, 1).split(
            (self.head_dim,) * 3, 2)  # (B', heads, head_dim, N')
        if self.attend_globally:
            weights = ((q * self.head_dim ** -0.5).transpose(-2, -1) @ k).softmax(-1)  # (B', heads, N', N')
            y = v @ weights.transpose(-2, -1)
        else:
            y = v
        y, v = (t.permute(0, 3, 1, 2).reshape(b, h, w, self.all_dim).permute(0, 3, 1, 2) for t in (y, v))
        return self.proj(y + self.pe(v.contiguous()))


class ABlock(nn.Module):
    """Area attention then a 1x1 MLP (dim -> mlp_ratio x dim -> dim), both residual."""

    def __init__(self, dim, num_heads, mlp_ratio=1.2, area=1):
        super().__init__()
        self.attn = AAttn(dim, num_heads, area)
        hidden = int(dim * mlp_ratio)
        self.mlp = nn.Sequential(Conv(dim, hidden, 1), Conv(hidden, dim, 1, act=False))
        for m in self.modules():  # upstream's init: truncated normal (std 0.02) conv weights
            if isinstance(m, nn.Conv2d) and not m.weight.is_meta:
                nn.init.trunc_normal_(m.weight, std=0.02)

    def forward(self, x):
        x = x + self.attn(x)
        return x + self.mlp(x)


def _large_scale_args(raw: tuple, scale: str | None) -> tuple:
    """parse_model's rule: at l / x it appends (residual=True, mlp_ratio=1.2) to the written args."""
    return (*raw, True, 1.2) if scale in ("l", "x") else raw


def _a2c2f_check(layer):
    a, (c, h, w) = layer.args, layer.shapes[0]
    hidden = int(a["c2"] * a["e"])
    if hidden % 32 or hidden == 0:
        return f"hidden channels c2 x e = {hidden} must be a multiple of 32 (one attention head per 32 channels)"
    if a["a2"] and a["area"] > 1 and (h * w) % a["area"]:
        return f"a {h}x{w} map ({h * w} cells) does not split into {a['area']} equal areas"
    if a["a2"] and a["residual"] and c != a["c2"]:
        return f"the residual adds the input to the output, so it needs c_in == c2 (got {c} -> {a['c2']})"
    return None


@register("A2C2f", summary="YOLO12 R-ELAN block: n stages of two area-attention blocks (or C3k), all concatenated",
          source="YOLO12 (Tian et al. 2025) / Ultralytics",
          args=(c2_arg(), Arg("a2", "bool", True, "area-attention stages (False: C3k stages)"),
                Arg("area", "int", 1, "horizontal bands the attention is split into (1 or less: none)",
                    low=-1, high=64),
                Arg("residual", "bool", False, "add the input back, scaled by a learnt per-channel gamma"),
                Arg("mlp_ratio", "float", 2.0, "MLP expansion in each attention block", low=0.1, high=8.0),
                e_arg(), Arg("g", "int", 1, "groups of the C3k convs", low=1),
                Arg("shortcut", "bool", True, "residual adds inside the C3k stages")),
          repeat=INSIDE, upstream=(ULTRALYTICS,), check=_a2c2f_check, scale_rule=_large_scale_args,
          clears_legacy=True,
          reach=lambda a, n: 1 + n * (12 if a["a2"] else 8),  # two 7x7 encodings per stage; C3k: 4 3x3s
          example=(EXAMPLE_DOWN, (-1, 2, "A2C2f", (64, True, 4)), (-1, 1, "A2C2f", (64, False, -1)),
                   (-1, 1, "A2C2f", (64, True, 1, True, 1.2))))
class A2C2f(nn.Module):
    def __init__(self, c1, c2, n=1, a2=True, area=1, residual=False, mlp_ratio=2.0, e=0.5, g=1, shortcut=True):
        super().__init__()
        c_ = int(c2 * e)
        self.cv1 = Conv(c1, c_, 1, 1)
        self.cv2 = Conv((1 + n) * c_, c2, 1)
        self.gamma = nn.Parameter(0.01 * torch.ones(c2)) if a2 and residual else None
        self.m = nn.ModuleList(
            nn.Sequential(*(ABlock(c_, c_ // 32, mlp_ratio, area) for _ in range(2))) if a2  # 32-wide heads
            else C3k(c_, c_, 2, shortcut, g) for _ in range(n))

    def forward(self, x):
        y = [self.cv1(x)]
        y.extend(m(y[-1]) for m in self.m)
        y = self.cv2(torch.cat(y, 1))
        return x + self.gamma.view(1, -1, 1, 1) * y if self.gamma is not None else y
