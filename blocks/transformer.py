"""C3TR: a C3 whose inner path is a small vision transformer (Dosovitskiy et al. 2020, as YOLOv5 /
Ultralytics use it): every H x W position becomes a token; a learnt linear position embedding is
added; n transformer layers follow, each multi-head self-attention (4 heads) over q / k / v linear
maps plus a two-layer linear feed-forward, both residual, no LayerNorm.

Structure as Ultralytics 8.4 builds it (facts read from its source and checked against its parameter
counts; code written here). As for every attention block the receptive field leaves the global mixing
out (blocks/psa.py says why): with `attend_globally` off each token attends to itself only.
"""
from __future__ import annotations

import torch.nn as nn
import torch.nn.functional as F

from .conv import Conv
from .csp import C3
from .registry import BOTH, EXAMPLE_DOWN, INSIDE, Arg, c2_arg, e_arg, register

class TransformerLayer(nn.Module):
    """Self-attention over the tokens (q, k, v linear maps, then nn.MultiheadAttention) and a linear
    feed-forward, each added to its input."""

    def __init__(self, c, num_heads):
        super().__init__()
        self.q, self.k, self.v = (nn.Linear(c, c, bias=False) for _ in range(3))
        self.ma = nn.MultiheadAttention(embed_dim=c, num_heads=num_heads)
        self.fc1 = nn.Linear(c, c, bias=False)
        self.fc2 = nn.Linear(c, c, bias=False)
        self.attend_globally = True

    def forward(self, x):  # (N, B, C) tokens
        if self.attend_globally:
            a = self.ma(self.q(x), self.k(x), self.v(x))[0]
        else:  # each token attends to itself: the attention is the value path alone
            c = x.shape[-1]
            a = self.ma.out_proj(F.linear(self.v(x), self.ma.in_proj_weight[2 * c:], self.ma.in_proj_bias[2 * c:]))
        x = x + a
        return x + self.fc2(self.fc1(x))


class TransformerBlock(nn.Module):
    """A 1x1 Conv when the channels change, a linear position embedding, then n TransformerLayers."""

    def __init__(self, c1, c2, num_heads, num_layers):
        super().__init__()
        self.conv = Conv(c1, c2) if c1 != c2 else None
        self.linear = nn.Linear(c2, c2)  # learnt position embedding
        self.tr = nn.Sequential(*(TransformerLayer(c2, num_heads) for _ in range(num_layers)))
        self.c2 = c2

    def forward(self, x):
        if self.conv is not None:
            x = self.conv(x)
        b, _, h, w = x.shape
        p = x.flatten(2).permute(2, 0, 1)  # (B, C, H, W) -> (HW, B, C)
        return self.tr(p + self.linear(p)).permute(1, 2, 0).reshape(b, self.c2, h, w)


def _heads_divide(layer):
    c_ = int(layer.args["c2"] * layer.args["e"])
    if c_ % 4 or c_ == 0:
        return f"the transformer's {c_} channels (c2 x e) must split evenly into its 4 heads"
    return None


@register("C3TR", summary="C3 whose inner path is n transformer layers (self-attention over all positions)",
          source="YOLOv5 / Ultralytics (ViT, Dosovitskiy et al. 2020)",
          args=(c2_arg(), Arg("shortcut", "bool", True, "kept for C3 compatibility"),
                Arg("g", "int", 1, "kept for C3 compatibility", low=1), e_arg()),
          repeat=INSIDE, upstream=BOTH, check=_heads_divide,
          reach=lambda a, n: 1,  # 1x1 convs and per-token linear maps; the attention is left out
          example=(EXAMPLE_DOWN, (-1, 2, "C3TR", (32,)), (-1, 1, "C3TR", (48, True, 1, 0.25))))
class C3TR(C3):
    def __init__(self, c1, c2, n=1, shortcut=True, g=1, e=0.5):
        self.layers = n  # read by inner(), which C3 calls
        super().__init__(c1, c2, 1, shortcut, g, e)
        self.m = self.m[0]  # the one TransformerBlock itself, not in a Sequential: upstream's module tree

    def inner(self, c_, shortcut, g):
        return TransformerBlock(c_, c_, 4, self.layers)  # 4 heads, as upstream
