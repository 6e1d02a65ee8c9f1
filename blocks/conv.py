"""Convolution family: Conv (Conv2d + BN + SiLU), DWConv, Focus, and the two wiring blocks Concat
and nn.Upsample.

Structure as in YOLOv5 v7.0 / Ultralytics `Conv` (bias-free conv, BatchNorm, SiLU), so parameter
counts agree with their summaries. Each Conv owns its activation module; nothing is shared through
class attributes (upstream's Convs share one SiLU, `Conv.default_act`: the registry's `shared_act`
tells graph/counts.py, which counts modules as their summaries do).

The yaml's `activation:` key (YOLOv5 and Ultralytics set `Conv.default_act` from it, process-wide)
is here a context around building one model (`default_activation`, used by graph/model.py): every
Conv built with `act=True` inside it, the ones inside other blocks included, gets that activation.
Outside any context it is SiLU.
"""
from __future__ import annotations

import contextlib
import contextvars
import math
from typing import Callable

import torch
import torch.nn as nn

from .fuse import fold_bn
from .registry import (BOTH, EXAMPLE_DOWN, ONCE, SAME, SUM, Arg, c2_arg, conv_size, k_arg, k_max, register, s_arg,
                       stride_of)


# The activation factory of the model being built (None: SiLU). Set only by `default_activation`.
_DEFAULT_ACT: contextvars.ContextVar[Callable[[], nn.Module] | None] = contextvars.ContextVar(
    "default_act", default=None)


@contextlib.contextmanager
def default_activation(factory: Callable[[], nn.Module] | None):
    """Within the block, Convs built with `act=True` get `factory()` (None: SiLU), as upstream's
    `Conv.default_act = <yaml activation>` does, without changing anything for other models."""
    token = _DEFAULT_ACT.set(factory)
    try:
        yield
    finally:
        _DEFAULT_ACT.reset(token)


def default_act() -> nn.Module:
    """A new module of the activation in force (see `default_activation`)."""
    factory = _DEFAULT_ACT.get()
    return factory() if factory is not None else nn.SiLU()


def _silu_shared(m) -> bool | str:
    """Is this Conv's activation one upstream shares? There `act=True` is the class-wide
    `Conv.default_act` (SiLU, or the yaml's `activation:`), one module for every Conv and DWConv.
    A Conv's `default_act` may instead name another shared one (graph/counts.py counts each name
    once): upstream's end-to-end heads deep-copy their branches, and each copy shares its own."""
    return getattr(m, "default_act", False)


def autopad(k, p=None, d=1):
    """'same' padding for odd kernels, as YOLOv5 does it."""
    if d > 1:
        k = d * (k - 1) + 1 if isinstance(k, int) else [d * (x - 1) + 1 for x in k]
    if p is None:
        p = k // 2 if isinstance(k, int) else [x // 2 for x in k]
    return p


CONV_ARGS = (
    c2_arg(), k_arg(1), s_arg(1),
    Arg("p", "int?", None, "padding (None = same)", low=0, high=16),
    Arg("g", "int", 1, "groups", low=1),
    Arg("d", "int", 1, "dilation", low=1, high=8),
    Arg("act", "bool", True, "activation: SiLU, or the yaml's activation: (False = none)"),
)


@register("Conv", summary="Conv2d + BatchNorm + SiLU, the YOLO workhorse",
          source="YOLOv5 / Ultralytics", args=CONV_ARGS, stride=stride_of, size=conv_size,
          upstream=BOTH, shared_act=_silu_shared,
          example=(EXAMPLE_DOWN, (-1, 2, "Conv", (32, 3, 1)), (-1, 1, "Conv", (24, 1, 1, None, 1, 1, False))))
class Conv(nn.Module):
    def __init__(self, c1, c2, k=1, s=1, p=None, g=1, d=1, act=True):
        super().__init__()
        self.conv = nn.Conv2d(c1, c2, k, s, autopad(k, p, d), groups=g, dilation=d, bias=False)
        self.bn = nn.BatchNorm2d(c2)
        self.default_act = act is True  # upstream: `act is True` takes the shared Conv.default_act
        self.act = act if isinstance(act, nn.Module) else (default_act() if act else nn.Identity())

    def forward(self, x):
        return self.act(self.bn(self.conv(x)))

    def fuse(self):
        if isinstance(self.bn, nn.BatchNorm2d):
            self.conv, self.bn = fold_bn(self.conv, self.bn), nn.Identity()


@register("DWConv", summary="depth-wise Conv (groups = gcd(c1, c2)) + BN + SiLU",
          source="YOLOv5 / Ultralytics",
          args=(c2_arg(), k_arg(1), s_arg(1), Arg("d", "int", 1, "dilation", low=1, high=8),
                Arg("act", "bool", True, "SiLU activation")),
          stride=stride_of, size=conv_size, upstream=BOTH, shared_act=_silu_shared,
          example=((-1, 1, "DWConv", (32, 3, 2)), (-1, 1, "DWConv", (64, 5, 1))))
class DWConv(Conv):
    def __init__(self, c1, c2, k=1, s=1, d=1, act=True):
        super().__init__(c1, c2, k, s, g=math.gcd(c1, c2), d=d, act=act)


def _even_input(layer):
    _, h, w = layer.shapes[0]
    if h % 2 or w % 2:
        return f"Focus needs an even input size, got {h}x{w}"
    return None


@register("Focus", summary="space-to-depth slicing (x4 channels, /2 size) then Conv",
          source="YOLOv5 v5.0 stem", stride=lambda a: 2 * a["s"], check=_even_input,
          size=lambda a, h: conv_size(a, (h + 1) // 2), upstream=BOTH, example=((-1, 1, "Focus", (32, 3)),),
          reach=lambda a, n: 2 * k_max(a),  # a 2x2 slice (jump 2), then k x k: 2 + (k - 1) * 2
          args=(c2_arg(), k_arg(1), s_arg(1), Arg("p", "int?", None, "padding", low=0, high=16),
                Arg("g", "int", 1, "groups", low=1), Arg("act", "bool", True, "SiLU activation")))
class Focus(nn.Module):
    def __init__(self, c1, c2, k=1, s=1, p=None, g=1, act=True):
        super().__init__()
        self.conv = Conv(c1 * 4, c2, k, s, p, g, act=act)

    def forward(self, x):  # (B, C, H, W) -> (B, 4C, H/2, W/2) -> conv
        return self.conv(torch.cat((x[..., ::2, ::2], x[..., 1::2, ::2],
                                    x[..., ::2, 1::2], x[..., 1::2, 1::2]), 1))


def _same_size(layer):
    sizes = {(h, w) for _, h, w in layer.shapes}
    if len(sizes) > 1:
        detail = ", ".join(f"layer {s} is {h}x{w}" if s >= 0 else f"the image is {h}x{w}"
                           for s, (_, h, w) in zip(layer.sources, layer.shapes))
        return f"inputs differ in spatial size ({detail}); add an Upsample or a stride-2 layer"
    return None


def _concat_check(layer):
    if layer.args["d"] != 1:
        return f"Concat only joins channels (dimension 1), got dimension {layer.args['d']}"
    return _same_size(layer)


@register("Concat", summary="joins feature maps along channels", source="YOLOv5 / Ultralytics",
          args=(Arg("d", "int", 1, "dimension (always 1: channels)"),),
          channels=SUM, repeat=ONCE, inputs=0, check=_concat_check, upstream=BOTH,
          example=(EXAMPLE_DOWN, (-1, 1, "Conv", (16, 3, 1)), ((-1, -2), 1, "Concat", (1,))))
class Concat(nn.Module):
    def __init__(self, d=1):
        super().__init__()
        self.d = d

    def forward(self, x):
        return torch.cat(x, self.d)


def _upsample_check(layer):
    a = layer.args
    if a["size"] is not None:
        return "nn.Upsample with a fixed size is not supported; use [None, 2, 'nearest']"
    if a["scale_factor"] != int(a["scale_factor"]) or a["scale_factor"] < 1:
        return f"scale_factor must be a whole number >= 1, got {a['scale_factor']}"
    return None


register("nn.Upsample", family="conv", summary="nearest-neighbour upsampling (x2)",
         source="PyTorch, as used by YOLOv5 / Ultralytics necks",
         args=(Arg("size", "int?", None, "fixed output size (unsupported; keep None)"),
               Arg("scale_factor", "float", 2.0, "upsampling factor", low=1, high=8),
               Arg("mode", "str", "nearest", "interpolation", choices=("nearest", "bilinear"))),
         channels=SAME, stride=lambda a: 1 / a["scale_factor"], check=_upsample_check,
         aliases=("Upsample", "torch.nn.Upsample"), upstream=BOTH,
         reach=lambda a, n: 2 if a["mode"] == "bilinear" else 1,  # bilinear mixes two neighbours
         example=(EXAMPLE_DOWN, (-1, 1, "Conv", (32, 3, 2)), (-1, 1, "nn.Upsample", (None, 2, "nearest"))))(nn.Upsample)
