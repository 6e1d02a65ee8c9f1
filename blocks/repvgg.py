"""RepVGG block (seed 004; Ding et al., "RepVGG: Making VGG-style ConvNets Great Again", CVPR 2021).

Trains as three branches — k x k conv + BN, 1x1 conv + BN, and an identity BN when shapes allow —
summed and passed through SiLU; `reparameterize()` folds all three into one k x k conv with bias,
whose outputs are the same (the deploy form the article converts to before inference).
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from .fuse import fold_bn
from .registry import Arg, c2_arg, odd_kernel, register, s_arg, stride_of
from .sources import cite


def _conv_bn(c1, c2, k, s, p):
    return nn.Sequential(nn.Conv2d(c1, c2, k, s, p, bias=False), nn.BatchNorm2d(c2))


@register("RepVGGBlock", summary="train-time 3x3+BN, 1x1+BN and identity-BN branches; folds into one 3x3",
          source=cite("repvgg", "repvgg"), stride=stride_of,
          check=lambda layer: odd_kernel(layer, "to fold the 1x1 branch into its centre"),
          args=(c2_arg(), Arg("k", "int", 3, "kernel size (odd)", low=1, high=7), s_arg(1, high=2)),
          example=((-1, 1, "RepVGGBlock", (32, 3, 2)), (-1, 2, "RepVGGBlock", (32, 3, 1)),
                   (-1, 1, "RepVGGBlock", (48, 1, 1))))
class RepVGGBlock(nn.Module):
    def __init__(self, c1, c2, k=3, s=1):
        super().__init__()
        self.k, self.s = k, s
        self.rbr_dense = _conv_bn(c1, c2, k, s, k // 2)
        self.rbr_1x1 = _conv_bn(c1, c2, 1, s, 0)
        self.rbr_identity = nn.BatchNorm2d(c1) if c1 == c2 and s == 1 else None
        self.rbr_reparam = None
        self.act = nn.SiLU()

    def forward(self, x):
        if self.rbr_reparam is not None:
            return self.act(self.rbr_reparam(x))
        y = self.rbr_dense(x) + self.rbr_1x1(x)
        if self.rbr_identity is not None:
            y = y + self.rbr_identity(x)
        return self.act(y)

    @torch.no_grad()
    def reparameterize(self):
        """Fold the three branches into `rbr_reparam`, one k x k conv with bias; drop the branches."""
        if self.rbr_reparam is not None:
            return
        dense = fold_bn(self.rbr_dense[0], self.rbr_dense[1])
        if dense.weight.is_meta:  # counting: only the shape of the result matters
            self._adopt(dense)
            return
        one = fold_bn(self.rbr_1x1[0], self.rbr_1x1[1])
        pad = self.k // 2
        weight = dense.weight + F.pad(one.weight, [pad, pad, pad, pad])
        bias = dense.bias + one.bias
        if self.rbr_identity is not None:  # identity = a k x k conv with a 1 at each centre
            c = dense.in_channels
            eye = torch.zeros_like(dense.weight)
            eye[torch.arange(c), torch.arange(c), pad, pad] = 1.0
            ident = fold_bn(_as_conv(eye), self.rbr_identity)
            weight, bias = weight + ident.weight, bias + ident.bias
        dense.weight.copy_(weight)
        dense.bias.copy_(bias)
        self._adopt(dense)

    def _adopt(self, conv):
        self.rbr_reparam = conv
        del self.rbr_dense, self.rbr_1x1
        self.rbr_identity = None

    fuse = reparameterize


def _as_conv(weight):
    c2, c1, k, _ = weight.shape
    conv = nn.Conv2d(c1, c2, k, 1, k // 2, bias=False, device=weight.device, dtype=weight.dtype)
    conv.weight.data = weight
    return conv
