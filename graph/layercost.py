"""One layer's numbers, memoised: what graph/counts.py adds up for a design.

A layer's parameters, FLOPs under each convention, output shape, dead parameters and fused form depend
only on its block, its constructor arguments, the model's default activation and its input shapes —
never on the rest of the design. So each is worked out once, on the layer alone (built on the meta
device, run with the counting hooks of graph/flops.py), and kept under a canonical key (`layer_key`):
in this process (an LRU, shared by the page, the CLI and explore) and across processes
(graph/costcache.py, on disk). A design whose layers have all been seen is counted without building
anything; a new design builds each of its unseen layers once, and only for the passes it needs.

What is kept, per layer key:
- `Built` (no shapes): params, module counts as each tool counts them, which rule sets it needs;
- `Real` (the inputs at the design's image size): output shape, thop 0.1.1 multiply-adds, dead params;
- `Fused` (same inputs): params and multiply-adds of the deploy form (dead modules dropped, then fused);
- `Run` (any other inputs): output shape and multiply-adds by thop 0.1.1's rules ("thop": YOLOv5's
  stride image) or by ultralytics-thop's plus functional products ("ul": Ultralytics' proxies).
"""
from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import astuple, dataclass
from typing import Callable

import torch
import torch.nn as nn

from blocks import info_of
from blocks.conv import default_activation
from blocks.torchnn import activation_factory

from . import costcache
from . import dead as dead_weights
from .flops import FIXED_COST, LayerFailed, layer_macs, ul_layer_macs
from .model import count_params, fuse_blocks, make_layer
from .resolve import LayerNode

NOT_BY_AREA = (nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d, nn.Linear)  # exact types, as YOLOv5's shortcut sees them


@dataclass(frozen=True)
class Built:
    params: int
    modules: int  # len(list(layer.modules())): YOLOv5 7.0's layer count
    leaves: int  # modules without children: Ultralytics 8.4's
    acts: int  # activations upstream shares between modules (counted once per group, graph/counts.py)
    groups: tuple[str, ...]
    not_by_area: bool  # a cost that does not grow with the image: YOLOv5's shortcut needs a real pass
    fixed: bool  # FIXED_COST modules: Ultralytics extrapolates from two proxies
    quadratic: bool  # attention: from four
    fusable: bool  # some module in it folds or re-parameterises itself (`fuse`)


@dataclass(frozen=True)
class Real:
    out: tuple | None  # output shape; None when the output is not one map (a YOLOv5 head's tuple)
    macs: int
    dead: tuple[tuple[str, int], ...]  # (name within the layer, numel) of each parameter no pass reads
    dead_modules: tuple[str, ...]  # names within the layer of the modules the deploy form drops


@dataclass(frozen=True)
class Fused:
    params: int
    macs: int
    out: tuple | None  # output shape of the deploy form (the head's inference output)


@dataclass(frozen=True)
class Run:
    out: tuple | None
    macs: int
    products: int = 0  # of which functional matrix products (attention): Ultralytics then takes 4 proxies


KINDS = {"built": Built, "real": Real, "fused": Fused, "thop": Run, "ul": Run}


class _Solo(nn.Module):
    """One layer as a model of one layer: graph/flops.py's counters and graph/dead.py's finder read
    `model.model` and name parameters `model.0.<path in the layer>`."""

    def __init__(self, layer: nn.Module):
        super().__init__()
        self.model = nn.ModuleList([layer])

    def forward(self, x):
        return self.model[0](x)


PREFIX = "model.0."


def layer_key(node: LayerNode, activation: str | None) -> str | None:
    """The canonical key of what a layer is: block (name, class, builder), repeats, constructor args and
    the default activation; None when some argument has no faithful text form (then it is not kept)."""
    info = node.info
    make = info.build or info.cls
    key = repr((info.name, f"{info.cls.__module__}.{info.cls.__qualname__}",
                f"{make.__module__}.{make.__qualname__}", info.repeat, node.n, node.ctor,
                sorted(node.ctor_kw.items()), activation))
    return None if " at 0x" in key else key


class Memo:
    """The in-process LRU of layer results (`maxsize` entries), with the disk cache behind it."""

    def __init__(self, maxsize: int = 200_000):
        self.maxsize, self.table, self.lock = maxsize, OrderedDict(), threading.Lock()
        self.hits = self.misses = 0

    def get(self, kind: str, key: str | None, shapes: tuple, compute: Callable):
        if key is None:
            return compute()
        full = (kind, key, shapes)
        with self.lock:
            found = self.table.get(full)
            if found is not None:
                self.table.move_to_end(full)
                self.hits += 1
                return found
        stored = costcache.get(repr(full))
        if stored is not None:
            found = _load(kind, stored)
        if found is None:
            self.misses += 1
            found = compute()
            costcache.put(repr(full), list(astuple(found)))
        with self.lock:
            self.table[full] = found
            if len(self.table) > self.maxsize:
                self.table.popitem(last=False)
        return found

    def clear(self) -> None:
        with self.lock:
            self.table.clear()
            self.hits = self.misses = 0


def _load(kind: str, values: list):
    """A stored result back into its class (tuples where json wrote lists); None if it does not fit."""
    def tup(v):
        return tuple(tup(x) for x in v) if isinstance(v, list) else v
    try:
        return KINDS[kind](*(tup(v) for v in values))
    except TypeError:
        return None


MEMO = Memo()


class Layers:
    """The layers of one count: each unseen layer built at most once (on the meta device, in eval
    mode), its results looked up or worked out by kind."""

    def __init__(self, nodes: list[LayerNode], activation: str | None):
        self.nodes, self.activation = nodes, activation
        self.keys = [layer_key(node, activation) for node in nodes]
        self.solos: dict[int, _Solo] = {}

    def solo(self, i: int) -> _Solo:
        if i not in self.solos:
            with torch.device("meta"), default_activation(activation_factory(self.activation)):
                self.solos[i] = _Solo(make_layer(self.nodes[i])).eval()
        return self.solos[i]

    def built(self, i: int) -> Built:
        return MEMO.get("built", self.keys[i], (), lambda: _built(self.solo(i).model[0]))

    def real(self, i: int, inputs: tuple) -> Real:
        return MEMO.get("real", self.keys[i], inputs, lambda: _real(self.solo(i), inputs))

    def run(self, kind: str, i: int, inputs: tuple) -> Run:
        return MEMO.get(kind, self.keys[i], inputs, lambda: _run(kind, self.solo(i), inputs))

    def fused(self, i: int, inputs: tuple, real: Real) -> Fused:
        """Last: fusing changes the built layer, which is dropped after. A layer with nothing to fold or
        drop is its own deploy form."""
        built = self.built(i)
        if not built.fusable and not real.dead_modules:
            return Fused(built.params, real.macs, real.out)

        def compute():
            solo = self.solo(i)
            del self.solos[i]
            dead_weights.drop(solo, [PREFIX + name for name in real.dead_modules])
            fuse_blocks(solo)
            run = _run("thop", solo, inputs)
            return Fused(count_params(solo), run.macs, run.out)
        return MEMO.get("fused", self.keys[i], inputs, compute)

    def walk(self, image: tuple, pass_: Callable[[int, tuple], object]) -> list:
        """Every layer's result for one image (1, C, H, W), in order, each fed its sources' output shapes."""
        outs: dict[int, tuple | None] = {-1: image}
        results = []
        for i, node in enumerate(self.nodes):
            inputs = tuple(outs[s] for s in node.sources)
            if any(shape is None for shape in inputs):
                raise LayerFailed(i, "reads an output that is not a feature map")
            try:
                result = pass_(i, inputs)
            except LayerFailed as err:
                raise LayerFailed(i, err.why) from None
            outs[node.index] = result.out
            results.append(result)
        return results


def _tensors(inputs: tuple, multi: bool):
    maps = [torch.empty(shape, device="meta") for shape in inputs]
    return maps if multi else maps[0]


def _built(layer: nn.Module) -> Built:
    modules = list(layer.modules())
    acts = [shared for shared in map(shared_act, modules) if shared]
    return Built(
        params=count_params(layer), modules=len(modules), leaves=sum(1 for m in modules if not m._modules),
        acts=len(acts), groups=tuple(sorted(set(acts))),
        not_by_area=any(type(m) in NOT_BY_AREA for m in modules),
        fixed=any(isinstance(m, FIXED_COST) for m in modules),
        quadratic=any(isinstance(m, nn.MultiheadAttention) for m in modules),
        fusable=any(callable(getattr(m, "fuse", None)) for m in modules))


def shared_act(m: nn.Module) -> str | None:
    """The name of the activation module upstream shares that `m` stands for, or None: the registry
    entry's `shared_act` (True, or a name), else the module's own `default_act` attribute."""
    info = info_of(m)
    if info is not None and info.shared_act is not None:
        shared = info.shared_act(m)
    else:
        shared = getattr(m, "default_act", False)
    if shared is True:
        return "Conv.default_act"
    return shared if isinstance(shared, str) and shared else None


def _real(solo: _Solo, inputs: tuple) -> Real:
    x = _tensors(inputs, solo.model[0].multi)
    shapes: list = []
    with dead_weights.watching(solo, functions=False) as seen:  # the hooks only: cheap
        macs = layer_macs(solo, x, shapes)
    found = dead_weights.unused(solo, x, seen)
    return Real(out=shapes[0] if shapes else None, macs=macs[0],
                dead=tuple((name[len(PREFIX):], n) for name, n in found.params.items()),
                dead_modules=tuple(name[len(PREFIX):] for name in found.modules))


def _run(kind: str, solo: _Solo, inputs: tuple) -> Run:
    """One pass of the layer alone: by thop 0.1.1's rules ("thop") or Ultralytics' ("ul")."""
    x, shapes = _tensors(inputs, solo.model[0].multi), []
    if kind == "thop":
        macs, products = layer_macs(solo, x, shapes), 0
    else:
        try:
            macs, products = ul_layer_macs(solo, x, shapes)
        except (RuntimeError, ValueError, TypeError, IndexError) as err:
            raise LayerFailed(0, str(err).strip().splitlines()[0] if str(err).strip() else repr(err)) from None
    return Run(shapes[0] if shapes else None, macs[0], products)
