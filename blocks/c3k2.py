"""C3k2, the CSP block of Ultralytics YOLO11 and YOLO26: a C2f whose n inner blocks are one of three
kinds, picked by its flags —

- plain: a Bottleneck of two 3x3 Convs at half the width (e = 0.5 inside, unlike C2f's);
- `c3k`: a C3k, i.e. a C3 with two 3x3 / 3x3 Bottlenecks;
- `attn` (YOLO26): a Bottleneck followed by a PSABlock (blocks/psa.py); it wins over `c3k`.

Upstream's parse_model turns `c3k` on for the m / l / x scales whatever the yaml says (the
`scale_rule` below) and, on meeting C3k2, clears its `legacy` flag so the model's Detect builds the
YOLO11 head. Facts read from Ultralytics 8.4's source and checked against its parameter counts; code
written here.
"""
from __future__ import annotations

import torch.nn as nn

from .csp import C2f, C3, Bottleneck
from .psa import PSABlock, heads_check, psa_heads
from .registry import EXAMPLE_DOWN, INSIDE, ULTRALYTICS, Arg, c2_arg, e_arg, register

LARGE_SCALES = ("m", "l", "x")


class C3k(C3):
    """C3 whose Bottlenecks are two 3x3 Convs (upstream's default k = 3 is the only one used)."""

    @staticmethod
    def inner(c_, shortcut, g):
        return Bottleneck(c_, c_, shortcut, g, e=1.0, k=(3, 3))


def _c3k_at_large_scales(raw: tuple, scale: str | None) -> tuple:
    """parse_model's rule: at m / l / x the second arg (c3k) is True, written or not."""
    return (*raw[:1], True, *raw[2:]) if scale in LARGE_SCALES else raw


def _c3k2_step(a: dict) -> int:
    """Cells one inner block adds to the reach: Bottleneck 3x3 + 3x3 (4); + PSABlock's 3x3 (6); C3k (8)."""
    return 6 if a["attn"] else 8 if a["c3k"] else 4


def _c3k2_check(layer):
    if layer.args["attn"]:
        return heads_check(int(layer.args["c2"] * layer.args["e"]))
    return None


@register("C3k2", summary="YOLO11 CSP block: C2f with half-width Bottlenecks, C3k blocks or Bottleneck + attention",
          source="Ultralytics YOLO11 / YOLO26",
          args=(c2_arg(), Arg("c3k", "bool", False, "inner blocks are C3k (two 3x3 Bottlenecks); on at m / l / x"),
                e_arg(),
                Arg("attn", "bool", False, "inner blocks are a Bottleneck + PSABlock attention (YOLO26)"),
                Arg("g", "int", 1, "groups of the inner 3x3 convs", low=1),
                Arg("shortcut", "bool", True, "residual adds in the inner Bottlenecks")),
          repeat=INSIDE, upstream=(ULTRALYTICS,), check=_c3k2_check, scale_rule=_c3k_at_large_scales,
          clears_legacy=True, reach=lambda a, n: 1 + n * _c3k2_step(a),
          example=(EXAMPLE_DOWN, (-1, 2, "C3k2", (32, False, 0.25)), (-1, 1, "C3k2", (48, True)),
                   (-1, 1, "C3k2", (48, True, 0.5, True)), (-1, 2, "C3k2", (64, False, 0.5, False, 2, False))))
class C3k2(C2f):
    def __init__(self, c1, c2, n=1, c3k=False, e=0.5, attn=False, g=1, shortcut=True):
        self.kind = "attn" if attn else "c3k" if c3k else "plain"  # read by inner(), which C2f calls
        super().__init__(c1, c2, n, shortcut, g, e)

    def inner(self, n, shortcut, g) -> nn.Module:
        c = self.c
        if self.kind == "attn":
            return nn.ModuleList(nn.Sequential(Bottleneck(c, c, shortcut, g, k=(3, 3)), PSABlock(c, 0.5, psa_heads(c)))
                                 for _ in range(n))
        if self.kind == "c3k":
            return nn.ModuleList(C3k(c, c, 2, shortcut, g) for _ in range(n))
        return nn.ModuleList(Bottleneck(c, c, shortcut, g, k=(3, 3)) for _ in range(n))
