"""FLOPs the way YOLOv5 / Ultralytics report them: thop's counting rules (multiply-adds per module
type, BatchNorm counted, activations / pooling / concat free), doubled into FLOPs by the caller.

Our own counter rather than thop itself so the count comes per layer and runs on the meta device
(shapes only, no arithmetic); tests check it against `thop.profile` on real models.
"""
from __future__ import annotations

import math

import torch
import torch.nn as nn

from blocks import info_of


def _conv(m, x, y):
    return y.numel() * (x.shape[1] // m.groups) * math.prod(m.weight.shape[2:])


def _norm(m, x, y):
    return x.numel() * (4 if getattr(m, "affine", False) or getattr(m, "elementwise_affine", False) else 2)


def _adaptive_avg(m, x, y):
    kernel = math.prod(a / b for a, b in zip(x.shape[2:], y.shape[2:]))
    return int((kernel + 1) * y.numel())


def _upsample(m, x, y):
    per = {"nearest": 1, "linear": 5, "bilinear": 11, "bicubic": 259}
    return y.numel() * per.get(m.mode, 0)


# thop 0.1.1's register_hooks, the types our blocks use (exact type match, like thop).
RULES = {
    nn.Conv2d: _conv,
    nn.BatchNorm2d: _norm,
    nn.LayerNorm: _norm,
    nn.Linear: lambda m, x, y: m.in_features * y.numel(),
    nn.AvgPool2d: lambda m, x, y: y.numel(),
    nn.AdaptiveAvgPool2d: _adaptive_avg,
    nn.Upsample: _upsample,
}


class LayerFailed(RuntimeError):
    def __init__(self, index: int, why: str):
        self.index, self.why = index, why
        super().__init__(f"layer {index}: {why}")


# Shape-preserving torch modules with no counted parts; blocks say so in their registry entry
# (`BlockInfo.elementwise`).
SHAPE_PRESERVING = (nn.BatchNorm2d, nn.ReLU, nn.ReLU6, nn.SiLU, nn.Hardswish, nn.Hardsigmoid,
                    nn.Sigmoid, nn.LeakyReLU)


def _elementwise(m: nn.Module) -> bool:
    if type(m) in SHAPE_PRESERVING:
        return True
    info = info_of(m)
    return info is not None and info.elementwise


def _same_shape(x):
    return x


@torch.no_grad()
def layer_macs(model: nn.Module, x: torch.Tensor, shapes: list | None = None) -> list[int]:
    """Multiply-adds of each top-level layer of `model.model` for one forward pass of `x`.

    If `shapes` is a list, each layer's output shape is appended to it. A layer that fails to run
    raises LayerFailed with its index."""
    layers = list(model.model)
    macs = [0] * len(layers)
    handles, passthrough, current = [], [], [0]
    for i, layer in enumerate(layers):
        handles.append(layer.register_forward_pre_hook(lambda mod, inp, i=i: current.__setitem__(0, i)))
        if shapes is not None:
            handles.append(layer.register_forward_hook(
                lambda mod, inp, out: shapes.append(tuple(out.shape) if isinstance(out, torch.Tensor) else None)))
        for m in layer.modules():
            if x.is_meta and _elementwise(m):
                # Their meta kernels are slow Python decompositions (~3 ms a call for BatchNorm and
                # ReLU6); the output shape is the input shape, so on meta they pass straight through.
                m.forward = _same_shape
                passthrough.append(m)
            rule = RULES.get(type(m))
            if rule is not None:
                def hook(mod, inp, out, i=i, rule=rule):
                    macs[i] += rule(mod, inp[0], out)
                handles.append(m.register_forward_hook(hook))
    was_training = model.training
    model.eval()
    try:
        model(x)
    except (RuntimeError, ValueError, TypeError, IndexError) as err:
        raise LayerFailed(current[0], str(err).strip().splitlines()[0] if str(err).strip() else repr(err)) from None
    finally:
        model.train(was_training)
        for h in handles:
            h.remove()
        for m in passthrough:
            del m.forward
    return macs
