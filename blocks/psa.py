"""Position-sensitive attention family (YOLOv10, Wang et al. 2024; Ultralytics YOLO11): the conv-built
multi-head self-attention `Attention`, `PSABlock` (attention + a 1x1 feed-forward, both residual), and
the blocks that use them: `PSA`, `C2PSA` (n PSABlocks on half the channels) and `C2fPSA` (C2f with
PSABlocks).

Structures and channel math as Ultralytics 8.4 builds them (facts read from its source and checked
against its parameter counts; code written here): heads = max(c // 64, 1), keys of half a head's
width, a 3x3 depth-wise positional encoding of the values.

Receptive field: attention mixes every position; like squeeze-and-excite's global pool that is left
out (see `BlockInfo.reach`), so each block's `reach` is its local path, with attention as if every
position attended to itself. `attend_globally = False` gives exactly that path (the receptive-field
test measures it).
"""
from __future__ import annotations

import torch
import torch.nn as nn

from .conv import Conv
from .csp import C2f
from .registry import EXAMPLE_DOWN, INSIDE, ULTRALYTICS, Arg, c2_arg, e_arg, register


def psa_heads(c: int) -> int:
    """Attention heads of a PSA block on `c` channels: one per 64 channels, at least one."""
    return max(c // 64, 1)


class Attention(nn.Module):
    """Multi-head self-attention over all H x W positions, made of convs: a 1x1 conv gives each head
    its queries, keys (key_dim = attn_ratio x head width) and values; the attended values plus a 3x3
    depth-wise encoding of the values go through a 1x1 projection."""

    def __init__(self, dim, num_heads=8, attn_ratio=0.5):
        super().__init__()
        self.heads = num_heads
        self.head_dim = dim // num_heads
        self.key_dim = int(self.head_dim * attn_ratio)
        self.scale = self.key_dim ** -0.5
        self.qkv = Conv(dim, dim + 2 * self.key_dim * num_heads, 1, act=False)
        self.proj = Conv(dim, dim, 1, act=False)
        self.pe = Conv(dim, dim, 3, 1, g=dim, act=False)
        self.attend_globally = True

    def forward(self, x):
        b, c, h, w = x.shape
        q, k, v = self.qkv(x).view(b, self.heads, 2 * self.key_dim + self.head_dim, h * w).split(
            (self.key_dim, self.key_dim, self.head_dim), 2)  # (B, heads, d, N)
        if self.attend_globally:
            weights = ((q * self.scale).transpose(-2, -1) @ k).softmax(-1)  # (B, heads, N, N)
            y = v @ weights.transpose(-2, -1)
        else:
            y = v
        v = v.reshape(b, c, h, w)
        return self.proj(y.reshape(b, c, h, w) + self.pe(v))


class PSABlock(nn.Module):
    """Attention then a 1x1 feed-forward (c -> 2c -> c), each added to its input when `shortcut`."""

    def __init__(self, c, attn_ratio=0.5, num_heads=4, shortcut=True):
        super().__init__()
        self.attn = Attention(c, num_heads, attn_ratio)
        self.ffn = nn.Sequential(Conv(c, 2 * c, 1), Conv(2 * c, c, 1, act=False))
        self.add = shortcut

    def forward(self, x):
        x = x + self.attn(x) if self.add else self.attn(x)
        return x + self.ffn(x) if self.add else self.ffn(x)


def heads_check(c: int) -> str | None:
    """Attention on `c` channels needs them to split evenly into its heads."""
    heads = psa_heads(c)
    if c < 2 or c % heads:
        return (f"the attention's {c} hidden channels must split evenly into its {heads} heads "
                f"(one per 64 channels); change c2 or e")
    return None


def _same_channels(name):
    def check(layer):
        c1, c2 = layer.c_in[0], layer.args["c2"]
        if c1 != c2:
            return f"{name} keeps its channels: c_in must equal c2 (got {c1} -> {c2})"
        return heads_check(int(c1 * layer.args["e"]))
    return check


@register("PSA", summary="position-sensitive attention on half the channels, then a 1x1 feed-forward",
          source="YOLOv10 (Wang et al. 2024) / Ultralytics", args=(c2_arg("output channels (= input)"), e_arg()),
          check=_same_channels("PSA"), upstream=(ULTRALYTICS,),
          reach=lambda a, n: 3,  # 1x1 convs around the attention's 3x3 positional encoding
          example=(EXAMPLE_DOWN, (-1, 1, "PSA", (32,)), (-1, 2, "PSA", (32, 0.25))))
class PSA(nn.Module):
    def __init__(self, c1, c2, e=0.5):
        super().__init__()
        self.c = int(c1 * e)
        self.cv1 = Conv(c1, 2 * self.c, 1, 1)
        self.cv2 = Conv(2 * self.c, c1, 1)
        self.attn = Attention(self.c, psa_heads(self.c), attn_ratio=0.5)
        self.ffn = nn.Sequential(Conv(self.c, 2 * self.c, 1), Conv(2 * self.c, self.c, 1, act=False))

    def forward(self, x):
        a, b = self.cv1(x).split((self.c, self.c), 1)
        b = b + self.attn(b)
        b = b + self.ffn(b)
        return self.cv2(torch.cat((a, b), 1))


@register("C2PSA", summary="split in two; n PSABlocks (attention + feed-forward) on one half; concat, 1x1",
          source="Ultralytics YOLO11", args=(c2_arg("output channels (= input)"), e_arg()), repeat=INSIDE,
          check=_same_channels("C2PSA"), upstream=(ULTRALYTICS,),
          reach=lambda a, n: 1 + 2 * n,  # n PSABlocks, each a 3x3 positional encoding
          example=(EXAMPLE_DOWN, (-1, 2, "C2PSA", (32,)), (-1, 1, "C2PSA", (32, 0.25))))
class C2PSA(nn.Module):
    def __init__(self, c1, c2, n=1, e=0.5):
        super().__init__()
        self.c = int(c1 * e)
        self.cv1 = Conv(c1, 2 * self.c, 1, 1)
        self.cv2 = Conv(2 * self.c, c1, 1)
        self.m = nn.Sequential(*(PSABlock(self.c, 0.5, psa_heads(self.c)) for _ in range(n)))

    def forward(self, x):
        a, b = self.cv1(x).split((self.c, self.c), 1)
        return self.cv2(torch.cat((a, self.m(b)), 1))


@register("C2fPSA", summary="C2f whose inner blocks are PSABlocks (attention + feed-forward)",
          source="Ultralytics", args=(c2_arg("output channels (= input)"), e_arg()), repeat=INSIDE,
          check=_same_channels("C2fPSA"), upstream=(ULTRALYTICS,),
          reach=lambda a, n: 1 + 2 * n,  # n PSABlocks in series
          example=(EXAMPLE_DOWN, (-1, 2, "C2fPSA", (32,)), (-1, 1, "C2fPSA", (32, 0.25))))
class C2fPSA(C2f):
    def __init__(self, c1, c2, n=1, e=0.5):
        super().__init__(c1, c2, n, False, 1, e)

    def inner(self, n, shortcut, g) -> nn.Module:
        return nn.ModuleList(PSABlock(self.c, 0.5, psa_heads(self.c)) for _ in range(n))
