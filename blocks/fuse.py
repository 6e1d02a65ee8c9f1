"""Folding BatchNorm into the convolution before it: the deploy form every block offers.

`fold_bn(conv, bn)` returns one Conv2d (with bias) equal to `bn(conv(x))` in eval mode. Blocks call
it from their own `fuse()`; `fuse_sequential` does it for every Conv2d -> BatchNorm2d pair inside an
nn.Sequential, the shape most article blocks are written in. Works on the meta device too, so
`graph/counts.py` can count the fused model without real weights.
"""
from __future__ import annotations

import torch
import torch.nn as nn


@torch.no_grad()
def fold_bn(conv: nn.Conv2d, bn: nn.BatchNorm2d) -> nn.Conv2d:
    fused = nn.Conv2d(
        conv.in_channels, conv.out_channels, conv.kernel_size, conv.stride, conv.padding,
        conv.dilation, conv.groups, bias=True, device=conv.weight.device, dtype=conv.weight.dtype,
    )
    if conv.weight.is_meta:  # counting: only the shape of the result matters
        return fused.requires_grad_(False)
    scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)  # (C2,)
    fused.weight.copy_(conv.weight * scale.view(-1, 1, 1, 1))
    bias = conv.bias if conv.bias is not None else torch.zeros_like(bn.running_mean)
    fused.bias.copy_((bias - bn.running_mean) * scale + bn.bias)
    fused.requires_grad_(False)
    return fused


def fuse_sequential(seq: nn.Sequential) -> None:
    """Fold each Conv2d immediately followed by a BatchNorm2d, in place (the BN becomes Identity)."""
    mods = list(seq)
    for i in range(len(mods) - 1):
        if isinstance(mods[i], nn.Conv2d) and isinstance(mods[i + 1], nn.BatchNorm2d):
            seq[i] = fold_bn(mods[i], mods[i + 1])
            seq[i + 1] = nn.Identity()


def fuse_children(module: nn.Module) -> None:
    """Fuse every nn.Sequential directly or deeply inside `module` that is not itself a block
    with its own `fuse()` (those are asked by the model)."""
    for child in module.children():
        if isinstance(child, nn.Sequential):
            fuse_sequential(child)
            fuse_children(child)
        elif not hasattr(child, "fuse"):
            fuse_children(child)
