"""FLOPs the way YOLOv5 / Ultralytics report them: thop's counting rules (multiply-adds per module
type, BatchNorm counted, activations / pooling / concat free), doubled into FLOPs by the caller.

Two rule sets, because the two tools count with different thops:
- RULES: thop 0.1.1, which YOLOv5 7.0 uses (exact module types; nearest upsampling 1 per output,
  a transposed conv as out elements x in channels x k x k). `layer_macs` uses them by default.
- UL_RULES: ultralytics-thop 2.2, which Ultralytics 8.4's `get_flops` uses (rules found through the
  class hierarchy; nearest upsampling free; a transposed conv as in elements x out channels x k x k;
  average pools by their windows; attention: nn.MultiheadAttention's products and the matrix products
  a block's forward runs itself, outside any counted module). `ultralytics_macs` also reproduces how
  8.4 gets to the image size: small stride-high proxy images, extrapolated (see there).

Our own counter rather than thop itself so the count comes per layer and runs on the meta device
(shapes only, no arithmetic); tests check it against `thop.profile` on real models, and the
Ultralytics figures against what Ultralytics 8.4 prints (tests/test_dialects.py).
"""
from __future__ import annotations

import contextlib
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
    nn.ConvTranspose2d: _conv,  # thop 0.1.1 counts it as a conv: out elements x (in / groups) x k x k
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


def _meta(x) -> bool:
    """Is the input (a map, or the list of maps a multi-input layer takes) on the meta device?"""
    return (x[0] if isinstance(x, (list, tuple)) else x).is_meta


def _keep_shape(shapes: list):
    return lambda mod, inp, out: shapes.append(tuple(out.shape) if isinstance(out, torch.Tensor) else None)


@torch.no_grad()
def layer_macs(model: nn.Module, x: torch.Tensor, shapes: list | None = None) -> list[int]:
    """Multiply-adds of each top-level layer of `model.model` for one forward pass of `x`.

    If `shapes` is a list, each layer's output shape is appended to it. A layer that fails to run
    raises LayerFailed with its index."""
    layers = list(model.model)
    macs = [0] * len(layers)
    handles, passthrough, current, meta = [], [], [0], _meta(x)
    for i, layer in enumerate(layers):
        handles.append(layer.register_forward_pre_hook(lambda mod, inp, i=i: current.__setitem__(0, i)))
        if shapes is not None:
            handles.append(layer.register_forward_hook(_keep_shape(shapes)))
        for m in layer.modules():
            if meta and _elementwise(m):
                # Their meta kernels are slow Python decompositions (~3 ms a call for BatchNorm and
                # ReLU6); the output shape is the input shape, so on meta they pass straight through.
                m.forward = _same_shape
                passthrough.append(m)
            rule = RULES.get(type(m))
            if rule is not None:
                def hook(mod, inp, out, i=i, rule=rule):
                    macs[i] += rule(mod, inp[0], out)
                handles.append(m.register_forward_hook(hook))
    try:
        with _hooked_eval(model, handles, passthrough):
            model(x)
    except (RuntimeError, ValueError, TypeError, IndexError) as err:
        raise LayerFailed(current[0], str(err).strip().splitlines()[0] if str(err).strip() else repr(err)) from None
    return macs


@contextlib.contextmanager
def _hooked_eval(model: nn.Module, handles: list, passthrough: list):
    """The model in eval mode for one hooked forward; afterwards its mode back, the hooks removed and
    the pass-through forwards (instance attributes) deleted. A model already in eval mode is left alone
    (a walk through every module twice per pass is a tenth of a cold count, graph/layercost.py)."""
    was_training = model.training
    if was_training:
        model.eval()
    try:
        yield
    finally:
        if was_training:
            model.train()
        for h in handles:
            h.remove()
        for m in passthrough:
            del m.forward


# ---------------------------------------------------------------- Ultralytics 8.4 (ultralytics-thop 2.2)

def _ul_conv(m, x, y):
    return y.numel() * (x.shape[1] // m.groups) * math.prod(m.weight.shape[2:])


def _ul_tconv(m, x, y):
    return x.numel() * (y.shape[1] // m.groups) * math.prod(m.weight.shape[2:])


def _ul_norm(m, x, y):
    return 2 * x.numel() * (2 if getattr(m, "affine", False) or getattr(m, "elementwise_affine", False) else 1)


def _ul_avgpool(m, x, y):
    """One add per input of every window (padding counted where the pool counts it), one divide per output."""
    k = (m.kernel_size,) * 2 if isinstance(m.kernel_size, int) else tuple(m.kernel_size)
    s = (m.stride,) * 2 if isinstance(m.stride, int) else tuple(m.stride)
    p = (m.padding,) * 2 if isinstance(m.padding, int) else tuple(m.padding)
    windows = 1
    for size, out, kk, ss, pp in zip(x.shape[-2:], y.shape[-2:], k, s, p):
        lo, hi = (-pp, size + pp) if m.count_include_pad else (0, size)
        windows *= sum(max(min(i * ss - pp + kk, hi) - max(i * ss - pp, lo), 0) for i in range(out))
    return math.prod(x.shape[:-2]) * windows + y.numel()


def _ul_adaptive_avg(m, x, y):
    """The windows the pool really slices (output j of o over i inputs: [j*i//o, ceil((j+1)*i/o)))."""
    total = 1
    for i, o in zip(x.shape, y.shape):
        total *= o if i == o else sum(-(-(j + 1) * i // o) - j * i // o for j in range(o))
    return total + y.numel()


def _ul_upsample(m, x, y):
    per = {"nearest": 0, "nearest-exact": 0, "linear": 5, "bilinear": 11, "bicubic": 259, "trilinear": 31}
    return per.get(m.mode, 0) * y.numel()


def _softmax_ops(rows: int, n: int) -> int:
    return rows * (n + max(n - 1, 0) + n)  # exp, add, divide


def _ul_softmax(m, x, y):
    dim = m.dim if m.dim is not None else (0 if x.dim() in (0, 1, 3) else 1)
    n = x.shape[dim] if x.dim() else 1
    return _softmax_ops(x.numel() // n if n else 0, n)


def _ul_mha(m, inputs, y):
    """nn.MultiheadAttention: input / output projections, the two attention products, the softmax."""
    out = y[0] if isinstance(y, tuple) else y
    weights = y[1] if isinstance(y, tuple) and len(y) > 1 else None
    first = getattr(m, "batch_first", False)
    tgt = out.shape[-2] if first or out.dim() == 2 else out.shape[0]
    batch = 1 if out.dim() == 2 else out.shape[0 if first else 1]
    extra = (m.bias_k is not None) + m.add_zero_attn
    if weights is not None:
        keys = weights.shape[-1]
    else:
        key = inputs[1]
        keys = (key.shape[-2] if first or key.dim() == 2 else key.shape[0]) + extra
    proj = m.embed_dim * (2 * tgt * m.embed_dim + (keys - extra) * (m.kdim + m.vdim))
    return batch * (proj + 2 * tgt * keys * m.embed_dim) + _softmax_ops(batch * m.num_heads * tgt, keys)


def _with_inputs(rule):
    """A rule that needs every positional input (attention reads the key), not only the first."""
    rule.all_inputs = True
    return rule


# Keyed by the class that carries the rule; a module takes the rule of its nearest class that has one.
UL_RULES = {
    nn.modules.conv._ConvNd: _ul_conv,
    nn.modules.conv._ConvTransposeNd: _ul_tconv,
    nn.modules.batchnorm._NormBase: _ul_norm,
    nn.LayerNorm: _ul_norm,
    nn.GroupNorm: _ul_norm,
    nn.PReLU: lambda m, x, y: x.numel(),
    nn.Softmax: _ul_softmax,
    nn.AvgPool2d: _ul_avgpool,
    nn.AdaptiveAvgPool2d: _ul_adaptive_avg,
    nn.Linear: lambda m, x, y: m.in_features * y.numel(),
    nn.Upsample: _ul_upsample,
    nn.MultiheadAttention: _with_inputs(_ul_mha),
}


def ul_rule(m: nn.Module):
    for klass in type(m).__mro__:
        if klass in UL_RULES:
            return UL_RULES[klass]
    return None


def _matmul(args, kwargs, y):
    a = args[0] if args else kwargs["input"]
    return y.numel() * a.shape[-1]


def _sdpa(args, kwargs, y):
    q, k, v = (list(args) + [kwargs.get(n) for n in ("query", "key", "value")[len(args):]])[:3]
    return y.numel() // v.shape[-1] * k.shape[-2] * (q.shape[-1] + v.shape[-1])


# Matrix products a forward runs as functions, which no module hook sees (attention blocks).
PRODUCTS = {torch.matmul: _matmul, torch.Tensor.matmul: _matmul, torch.Tensor.__matmul__: _matmul,
            torch.bmm: _matmul, torch.Tensor.bmm: _matmul, nn.functional.linear: _matmul,
            nn.functional.scaled_dot_product_attention: _sdpa}


class _Products(torch.overrides.TorchFunctionMode):
    """Counts PRODUCTS run outside every module that has a rule of its own (nn.Linear's own
    F.linear is the Linear rule's), into the layer running."""

    def __init__(self, macs: list, current: list, depth: list):
        super().__init__()
        self.macs, self.current, self.depth = macs, current, depth

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        y = func(*args, **kwargs)
        rule = PRODUCTS.get(func)
        if rule is not None and not self.depth[0]:
            self.macs[self.current[0]] += rule(args, kwargs, y)
        return y


@torch.no_grad()
def ul_layer_macs(model: nn.Module, x: torch.Tensor, shapes: list | None = None) -> tuple[list[int], int]:
    """Multiply-adds of each top-level layer by UL_RULES (plus functional products), and how many of
    them came from functional products. `shapes` as for `layer_macs`."""
    layers = list(model.model)
    macs, products = [0] * len(layers), [0] * len(layers)
    handles, passthrough, current, depth, meta = [], [], [0], [0], _meta(x)
    for i, layer in enumerate(layers):
        handles.append(layer.register_forward_pre_hook(lambda mod, inp, i=i: current.__setitem__(0, i)))
        if shapes is not None:
            handles.append(layer.register_forward_hook(_keep_shape(shapes)))
        for m in layer.modules():
            if meta and _elementwise(m):
                m.forward = _same_shape
                passthrough.append(m)
            rule = ul_rule(m)
            if rule is None:
                continue
            every = getattr(rule, "all_inputs", False)

            def hook(mod, inp, out, i=i, rule=rule, every=every):
                depth[0] -= 1
                macs[i] += rule(mod, inp if every else inp[0], out)
            handles.append(m.register_forward_pre_hook(lambda mod, inp: depth.__setitem__(0, depth[0] + 1)))
            handles.append(m.register_forward_hook(hook))
    with _hooked_eval(model, handles, passthrough), _Products(products, current, depth):
        model(x)
    return [a + b for a, b in zip(macs, products)], sum(products)


FIXED_COST = (nn.Linear, nn.Bilinear, nn.modules.pooling._AdaptiveAvgPoolNd, nn.modules.pooling._AdaptiveMaxPoolNd,
              nn.RNNBase, nn.RNNCellBase)


def ultralytics_macs(model: nn.Module, ch: int, imgsz: int, max_stride: int, device="meta") -> float:
    """Multiply-adds as Ultralytics 8.4's `get_flops` gets them (2x this is its GFLOPs x 1e9), of a
    whole model; see `extrapolated` for how."""
    modules = list(model.modules())

    def measure(h: int, w: int) -> tuple[int, int]:
        macs, products = ul_layer_macs(model, torch.empty(1, ch, h, w, device=device))
        return sum(macs), products

    return extrapolated(measure, imgsz, max_stride,
                        quadratic=any(isinstance(m, nn.MultiheadAttention) for m in modules),
                        fixed=any(isinstance(m, FIXED_COST) for m in modules))


def extrapolated(measure, imgsz: int, max_stride: int, quadratic: bool, fixed: bool) -> float:
    """Ultralytics 8.4's way to the image size. `measure(h, w)` -> (multiply-adds by UL_RULES of an
    h x w image, how many of them were functional products); `quadratic`: the model holds attention
    modules; `fixed`: it holds a module whose cost does not grow with the area (FIXED_COST).

    It profiles proxy images one stride s = max(max_stride, 32) high and k strides wide, k = 1, 2, ...,
    and extrapolates to the imgsz x imgsz image's cells = (imgsz / s)^2 by forward differences: one
    proxy when every cost grows with the area; two when some cost does not (a Linear, an adaptive pool:
    a straight line then); four when attention may grow with the square of the area (then the fourth
    must agree with the quadratic through the first three). It measures the real image instead when
    the proxies would not be much smaller (4 x their planned cells > cells) or do not fit."""
    s = max(max_stride, 32)
    cells = (imgsz // s) ** 2
    need = 4 if quadratic else 2 if fixed else 1
    ops: list[float] = []
    if imgsz % s == 0 and 4 * (need + need * (need - 1) // 2) <= cells:
        try:
            while len(ops) < need:
                macs, products = measure(s, s * (len(ops) + 1))
                ops.append(macs)
                need = 4 if products else need
        except (RuntimeError, ValueError, TypeError, IndexError):
            ops = []
    if ops and (len(ops) < 4 or ops[3] - 3 * ops[2] + 3 * ops[1] - ops[0] == 0):
        t = cells - 1
        d1 = ops[1] - ops[0] if len(ops) > 1 else ops[0]
        d2 = ops[2] - 2 * ops[1] + ops[0] if len(ops) > 2 else 0
        return ops[0] + t * d1 + t * (t - 1) // 2 * d2
    return measure(imgsz, imgsz)[0]
