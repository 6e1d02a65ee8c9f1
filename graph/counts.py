"""count: LayerGraph -> Counts, the numbers the page shows on every click.

- params: as YOLOv5 / Ultralytics summaries print them (every parameter, DFL's fixed conv included).
- layers: as the summary line of the file's own tool counts them (`layers_by` says which): YOLOv5
  7.0 every module (`len(list(model.modules()))`), Ultralytics 8.4 the leaf modules (modules without
  children); both see upstream's shared `Conv.default_act` once.
- gflops: 2 x multiply-adds of one forward at the real image size, thop 0.1.1's rules (graph/flops.py).
- gflops_stride: YOLOv5 7.0's printed figure — thop 0.1.1 at one stride-sized image (the largest
  stride, at least 32) scaled by (imgsz / stride)^2. It overstates layers whose cost does not
  grow with the image (squeeze-and-excite FCs), which is why both are given.
- gflops_ultralytics: Ultralytics 8.4's printed figure — ultralytics-thop's rules on stride-high
  proxy images, extrapolated to the image (graph/flops.py `ultralytics_macs`).
- fused_*: after every BatchNorm is folded and RepVGG blocks re-parameterised (the deploy form),
  without the dead parameters.
- dead_params: parameters the model builds (as upstream builds them, so `params` includes them) that
  no forward pass reads, found by running the model (graph/dead.py); `dead` says where.
- mac_bytes (+ _int8): the deploy form's memory traffic, per layer with its arithmetic intensity
  (graph/traffic.py).

Everything is counted on the meta device: no weights are allocated, only shapes flow. Each number is
a sum over the layers of what graph/layercost.py knows of each (worked out once per distinct layer, on
the layer alone, then remembered), so a design whose layers were seen before builds nothing.
"""
from __future__ import annotations

import contextlib
import gc
from dataclasses import asdict, dataclass, field

import torch.nn as nn

from .errors import SpecError
from .flops import LayerFailed, extrapolated
from .layercost import Layers, Real, shared_act
from .model import within_limit
from .resolve import LayerGraph
from .traffic import layer_traffic
from .traffic import totals as traffic_totals


@dataclass
class Counts:
    layers: int  # modules in the model, as the summary line of the file's tool counts them
    params: int
    gflops: float
    gflops_stride: float  # as YOLOv5 7.0 prints it
    fused_params: int
    fused_gflops: float
    imgsz: int
    per_layer: list[dict]
    gflops_ultralytics: float = 0.0  # as Ultralytics 8.4 prints it
    layers_by: str = ""  # whose convention `layers` follows: "YOLOv5 7.0" | "Ultralytics 8.4"
    dead_params: int = 0  # built and counted (as upstream), read by no forward pass; not in fused_params
    dead: list[str] = field(default_factory=list)  # where they are: "VoVGSCSP.res in layers 13, 17"
    mac_bytes: int = 0  # memory traffic of one forward of the deploy form at fp32 (graph/traffic.py)
    mac_bytes_int8: int = 0  # the same at int8 (1 byte an element)

    def as_dict(self) -> dict:
        return asdict(self)


@contextlib.contextmanager
def _paused_gc():
    """Building a model makes thousands of short-lived objects; a full garbage collection in the
    middle of a count costs more than the count (seen: 60 ms -> 1.5 s). Collect afterwards instead."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def count(graph: LayerGraph) -> Counts:
    with _paused_gc():
        return _count(graph)


def _count(graph: LayerGraph) -> Counts:
    """The sum of the layers' own numbers (graph/layercost.py: memoised per layer), each pass walking the
    layers in order with the shapes their sources give for that image."""
    layers = Layers(graph.layers, graph.spec.activation)
    built = [layers.built(i) for i in range(len(graph.layers))]
    params = within_limit(sum(b.params for b in built))
    ch, stride = graph.spec.ch, max(graph.max_stride, 32)
    real = _checked_pass(graph, layers)
    inputs = _inputs(graph, real)
    scale = (graph.imgsz / stride) ** 2
    macs = [r.macs for r in real]
    # Every layer's cost grows with image area except after a global pool (SE layers): only then
    # does the shortcut differ from the real count, and only then is a second pass needed.
    if any(b.not_by_area for b in built):
        macs_stride = [r.macs for r in _walk(graph, layers, (1, ch, stride, stride), "thop")]
    else:
        macs_stride = [m / scale for m in macs]

    def measure(h: int, w: int) -> tuple[int, int]:
        runs = layers.walk((1, ch, h, w), lambda i, x: layers.run("ul", i, x))
        return sum(r.macs for r in runs), sum(r.products for r in runs)

    macs_ul = extrapolated(measure, graph.imgsz, graph.max_stride, quadratic=any(b.quadratic for b in built),
                           fixed=any(b.fixed for b in built))
    fused = [layers.fused(i, x, r) for i, (x, r) in enumerate(zip(inputs, real))]
    per_layer = []
    for node, b, r, mac, mac_s in zip(graph.layers, built, real, macs, macs_stride):
        per_layer.append({
            "index": node.index, "from": node.from_, "n": node.n, "params": b.params,
            "module": node.module, "args": _plain(node.shown_args), "section": node.section,
            "out_shape": list(node.shape) if node.c_out else None, "stride": node.stride or None,
            "tap": node.tap or None, "gflops": 2 * mac / 1e9, "gflops_stride": 2 * mac_s * scale / 1e9,
            "dead_params": sum(n for _, n in r.dead),
        })
    ultralytics = graph.spec.dialect == "ultralytics"
    # as yolo_layer_count on the whole model: each shared activation counted once per name
    acts, groups = sum(b.acts for b in built), {g for b in built for g in b.groups}
    every = 2 + sum(b.modules for b in built)  # + the model and its nn.Sequential of layers
    n_layers = (sum(b.leaves for b in built) if ultralytics else every) - (acts - len(groups))
    dead_params = sum(row["dead_params"] for row in per_layer)
    traffic = layer_traffic(graph, [f.out for f in fused], [f.params for f in fused],
                            [2 * f.macs for f in fused])
    for row, t in zip(per_layer, traffic):
        row.update(t)
    return Counts(
        layers=n_layers, params=params, gflops=2 * sum(macs) / 1e9,
        gflops_stride=2 * sum(macs_stride) * scale / 1e9, fused_params=sum(f.params for f in fused),
        fused_gflops=2 * sum(f.macs for f in fused) / 1e9, imgsz=graph.imgsz, per_layer=per_layer,
        gflops_ultralytics=2 * macs_ul / 1e9, layers_by=LAYERS_BY[ultralytics],
        dead_params=dead_params, dead=_where(real, graph), **traffic_totals(traffic),
    )


def _inputs(graph: LayerGraph, real: list[Real]) -> list[tuple]:
    image = (1, graph.spec.ch, graph.imgsz, graph.imgsz)
    outs = [r.out for r in real]
    return [tuple(image if s < 0 else outs[s] for s in node.sources) for node in graph.layers]


def _walk(graph: LayerGraph, layers: Layers, image: tuple, kind: str) -> list:
    """A pass of every layer at another image; a layer that does not run there is a SpecError naming it."""
    try:
        return layers.walk(image, lambda i, x: layers.run(kind, i, x))
    except LayerFailed as err:
        node = graph.layers[err.index]
        raise SpecError(f"does not run at {image[-1]} pixels: {err.why}", layer=err.index, module=node.module) from None


def _where(real: list[Real], graph: LayerGraph) -> list[str]:
    """One phrase per (block, part) holding dead parameters: "VoVGSCSP.res in layers 13, 17, 20, 23".
    A part is a module that never runs, or else the unread parameter itself (copy numbers left out)."""
    parts: dict[str, list[int]] = {}
    for i, r in enumerate(real):
        for name, _ in r.dead:
            owner = next((m for m in r.dead_modules if name.startswith(m + ".")), name)
            path = ".".join(p for p in owner.split(".") if not p.isdigit())
            key = f"{graph.layers[i].module}.{path}" if path else graph.layers[i].module
            if i not in parts.setdefault(key, []):
                parts[key].append(i)
    return [f"{key} in layer{'s' if len(at) > 1 else ''} {', '.join(map(str, at))}" for key, at in parts.items()]


def _checked_pass(graph: LayerGraph, layers: Layers) -> list[Real]:
    """The counting pass at the real image size, which also holds every layer to the shape resolve
    promised: a block that does not run, or runs to another shape, is a SpecError naming it."""
    image = (1, graph.spec.ch, graph.imgsz, graph.imgsz)
    try:
        real = layers.walk(image, layers.real)
    except LayerFailed as err:
        node = graph.layers[err.index]
        raise SpecError(f"does not run: {err.why}", layer=err.index, module=node.module) from None
    for node, r in zip(graph.layers, real):
        if node.c_out and r.out is not None and tuple(r.out[1:]) != node.shape:
            raise SpecError(f"runs to shape {'x'.join(map(str, r.out[1:]))}, not the "
                            f"{'x'.join(map(str, node.shape))} its rules promise", layer=node.index, module=node.module)
    return real


LAYERS_BY = {False: "YOLOv5 7.0", True: "Ultralytics 8.4"}


def yolo_layer_count(model: nn.Module, leaves: bool = False) -> int:
    """Modules as YOLOv5's summary counts them (every module), or with `leaves` as Ultralytics 8.4's
    does (modules without children). Upstream's Convs share one activation module (counted once);
    ours each own theirs, so the activations a block's registry entry calls shared
    (`BlockInfo.shared_act`: True, or a name when blocks share one of their own) count once per name.
    A module no entry describes (a block's inner part) may say the same with its `default_act`
    attribute (True, or the name of the module it shares upstream, e.g. RepConv's own SiLU).
    `count` adds the same up layer by layer (graph/layercost.py `Built`)."""
    modules = list(model.modules())
    acts = [shared for shared in map(shared_act, modules) if shared]
    counted = [m for m in modules if not leaves or not m._modules]
    return len(counted) - (len(acts) - len(set(acts)))


def _plain(value):
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value
