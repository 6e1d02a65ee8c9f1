"""build: LayerGraph -> DetectionModel, a torch nn.Module that runs the layers in order and keeps
the outputs later layers read (the YOLOv5 way). No dummy forward in the constructor: strides come
from the graph. `device="meta"` builds the same module without allocating weights, for counting.
"""
from __future__ import annotations

import torch
import torch.nn as nn

from blocks.conv import default_activation
from blocks.registry import STACK
from blocks.torchnn import activation_factory

from . import dead, limits
from .errors import SpecError
from .resolve import LayerGraph, LayerNode


def make_layer(node: LayerNode) -> nn.Module:
    make = node.info.make
    if node.info.repeat == STACK and node.n > 1:
        m = nn.Sequential(*(make(*node.ctor, **node.ctor_kw) for _ in range(node.n)))
    else:
        m = make(*node.ctor, **node.ctor_kw)
    m.i, m.f, m.type = node.index, node.sources, node.module  # where it sits, for forward and tables
    m.multi = node.info.inputs != 1  # takes a list of maps (Concat, ADD, Detect)
    return m


class DetectionModel(nn.Module):
    def __init__(self, graph: LayerGraph, device: str | torch.device | None = None):
        super().__init__()
        # the yaml's `activation:` for every Conv with the default act, this model only (blocks/conv.py)
        with torch.device(device or "cpu"), default_activation(activation_factory(graph.spec.activation)):
            self.model = nn.Sequential(*(make_layer(node) for node in graph.layers))
            self.register_buffer("stride", torch.tensor(graph.strides, dtype=torch.float), persistent=False)
        self.save = graph.save
        self.nc = graph.spec.nc
        self.ch, self.imgsz = graph.spec.ch, graph.imgsz  # the input a probe of dead weights runs (fuse)
        if not self.stride.is_meta:
            self._initialize()

    def _initialize(self):
        """BatchNorm as YOLOv5 / Ultralytics train it; head biases at sensible priors. Activations
        work in place, except a yaml layer that is one (`nn.ReLU`): its input may be kept for another."""
        layers = {id(m) for m in self.model} | {id(c) for m in self.model if isinstance(m, nn.Sequential) for c in m}
        for m in self.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.eps, m.momentum = 1e-3, 0.03
            elif isinstance(m, (nn.ReLU, nn.ReLU6, nn.SiLU, nn.Hardswish, nn.LeakyReLU)) and id(m) not in layers:
                m.inplace = True
        head = self.model[-1]
        if hasattr(head, "init_biases"):
            head.init_biases()

    def forward(self, x):
        kept, prev = {-1: x}, x
        for m in self.model:
            inputs = [prev if s == m.i - 1 else kept[s] for s in m.f]
            prev = m(inputs if m.multi else inputs[0])
            if m.i in self.save:
                kept[m.i] = prev
        return prev

    def dead_weights(self) -> dead.Dead:
        """The parameters no forward pass reads (graph/dead.py), found on a meta copy at the design's
        image size: what the deploy form drops, and what DistributedDataParallel must be told of
        (`find_unused_parameters`), as those parameters never get a gradient."""
        probe = torch.empty(1, self.ch, self.imgsz, self.imgsz, device="meta")
        return dead.unused(dead.meta_twin(self), probe)

    @torch.no_grad()
    def fuse(self, dead_modules: list[str] | None = None) -> "DetectionModel":
        """Deploy form: the modules no forward pass runs go (graph/dead.py: found by running a meta copy,
        unless the caller found them already, `dead_modules`), then every block folds its BatchNorms and
        re-parameterises itself (duck typing)."""
        dead.drop(self, self.dead_weights().modules if dead_modules is None else dead_modules)
        fuse_blocks(self)
        return self


@torch.no_grad()
def fuse_blocks(root: nn.Module) -> None:
    """Every module under `root` that can fold its BatchNorms or re-parameterise itself does (duck typing)."""
    for m in list(root.modules()):
        if m is not root and callable(getattr(m, "fuse", None)):
            m.fuse()


def count_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def checked_params(model: nn.Module) -> int:
    """count_params(model), or SpecError if that is over limits.MAX_PARAMS (give a meta-device model
    to check before anything is allocated)."""
    return within_limit(count_params(model))


def within_limit(params: int) -> int:
    """`params`, or SpecError if that is over limits.MAX_PARAMS."""
    if params > limits.MAX_PARAMS:
        raise SpecError(f"the model would have {params:,} parameters, over the limit of "
                        f"{limits.MAX_PARAMS:,}; lower the width, depth or channels")
    return params


def build(graph: LayerGraph, device: str | torch.device = "cpu") -> DetectionModel:
    """A real model with weights. Refused before allocating if it would be over the size limit."""
    checked_params(DetectionModel(graph, device="meta"))
    return DetectionModel(graph, device=device)
