"""Dead parameters: weights a model builds that no forward pass reads, found by running it.

Upstream code sometimes builds weights its forward never uses (the slim-neck's VoVGSCSP builds a 3x3
`res` Conv and never calls it). We build them too, so parameter counts equal upstream's, and say so
apart: `unused` runs the model on the meta device (shapes only) in eval and, if something is still
unread, in training mode, and records every parameter a torch function is given (a
TorchFunctionMode) and every module that runs (forward pre-hooks). A parameter nobody read is dead;
a module that never ran and holds only dead parameters is what the deploy form drops
(DetectionModel.fuse). No list of blocks: whatever a block builds and leaves alone is found.

Cheap first: graph/counts.py watches its counting pass with the hooks alone (`functions=False`), where
a torch layer that runs (nn.Conv2d, nn.BatchNorm2d ...) reads its own parameters. Only a model with
a parameter left unread that way (a dead one, or one a block reads itself) pays for the full passes.
"""
from __future__ import annotations

import contextlib
import copy
from dataclasses import dataclass, field

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.overrides import TorchFunctionMode

# Shape-preserving functions that return their input at once on the meta device: their meta kernels
# are slow Python decompositions, and a training-mode batch_norm refuses a 1x1 map of one image.
# Their parameters are recorded before that, like every other function's.
SHAPE_KEEPING = frozenset({F.batch_norm, F.layer_norm, F.group_norm, F.instance_norm, F.silu, F.relu, F.relu6,
                           F.hardswish, F.hardsigmoid, F.leaky_relu, F.gelu, F.mish})


@dataclass
class Seen:
    read: set = field(default_factory=set)  # ids of the parameters some torch function was given
    ran: set = field(default_factory=set)  # ids of the modules whose forward was called


@dataclass
class Dead:
    params: dict  # qualified name -> numel of each parameter no forward pass reads
    modules: list  # qualified names of the outermost modules that never run and hold only those

    @property
    def total(self) -> int:
        return sum(self.params.values())


def _leaves(value):
    if isinstance(value, (list, tuple)):
        for v in value:
            yield from _leaves(v)
    elif isinstance(value, dict):
        for v in value.values():
            yield from _leaves(v)
    else:
        yield value


class _Reading(TorchFunctionMode):
    def __init__(self, seen: Seen):
        super().__init__()
        self.seen = seen

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        for a in _leaves((args, kwargs)):
            if isinstance(a, nn.Parameter):
                self.seen.read.add(id(a))
        if func in SHAPE_KEEPING and args and isinstance(args[0], torch.Tensor) and args[0].is_meta:
            return args[0]
        return func(*args, **kwargs)


def _torch_layer(m: nn.Module) -> bool:
    return not m._modules and type(m).__module__.startswith("torch.")


@contextlib.contextmanager
def watching(model: nn.Module, seen: Seen | None = None, functions: bool = True):
    """Within the block, what the model's forward passes run, and the parameters they read, are
    recorded in the Seen it yields: the parameters every torch function is given (unless
    `functions` is False), and those of each torch layer that runs (so a caller that short-cuts a
    norm's forward, like graph/flops.py on meta, still has them read)."""
    seen = seen if seen is not None else Seen()
    layers = {id(m) for m in model.modules() if _torch_layer(m)}

    def ran(module, inputs):
        seen.ran.add(id(module))
        if id(module) in layers:
            seen.read.update(id(p) for p in module.parameters(recurse=False))

    handles = [m.register_forward_pre_hook(ran) for m in model.modules()]
    try:
        with _Reading(seen) if functions else contextlib.nullcontext():
            yield seen
    finally:
        for h in handles:
            h.remove()


def _all_read(model: nn.Module, seen: Seen) -> bool:
    return all(id(p) in seen.read for p in model.parameters())


@torch.no_grad()
def unused(model: nn.Module, x: torch.Tensor, seen: Seen | None = None) -> Dead:
    """The dead parameters of `model` (meta device) for input `x` (meta). `seen`: what an eval pass
    already watched (graph/counts.py watches its counting pass); when that read everything, nothing
    runs here. Else a fully watched eval pass, and a training pass when something is still unread
    (a branch only training uses)."""
    seen = seen if seen is not None else Seen()
    was = model.training
    try:
        for training in (False, True):
            if _all_read(model, seen):
                break
            model.train(training)
            with watching(model, seen):
                model(x)
    finally:
        model.train(was)
    params = {name: p.numel() for name, p in model.named_parameters() if id(p) not in seen.read}
    return Dead(params, _droppable(model, seen))


def _droppable(model: nn.Module, seen: Seen) -> list[str]:
    """The outermost modules that never ran, hold parameters, and hold none that was read."""
    out: list[str] = []
    for name, m in model.named_modules():
        if not name or any(name.startswith(o + ".") for o in out) or id(m) in seen.ran:
            continue
        params = list(m.parameters())
        if params and all(id(p) not in seen.read for p in params):
            out.append(name)
    return out


def meta_twin(model: nn.Module) -> nn.Module:
    """A copy of `model` with every parameter and buffer on the meta device (no weights copied)."""
    memo = {}
    for t in (*model.parameters(), *model.buffers()):
        meta = torch.empty_like(t, device="meta")
        memo[id(t)] = nn.Parameter(meta, t.requires_grad) if isinstance(t, nn.Parameter) else meta
    return copy.deepcopy(model, memo)


def drop(model: nn.Module, names: list[str]) -> int:
    """Remove the named submodules (`Dead.modules`) from `model`; returns the parameters removed."""
    removed = 0
    for name in names:
        parent, _, child = name.rpartition(".")
        owner = model.get_submodule(parent)
        removed += sum(p.numel() for p in getattr(owner, child).parameters())
        delattr(owner, child)
    return removed
