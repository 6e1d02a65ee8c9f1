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

Everything is counted on the meta device: no weights are allocated, only shapes flow.
"""
from __future__ import annotations

import contextlib
import gc
from dataclasses import asdict, dataclass, field

import torch
import torch.nn as nn

from blocks import info_of

from . import dead as dead_weights
from .errors import SpecError
from .flops import LayerFailed, layer_macs, ultralytics_macs
from .model import DetectionModel, checked_params, count_params
from .resolve import LayerGraph


NOT_BY_AREA = (nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d, nn.Linear)


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

    def as_dict(self) -> dict:
        return asdict(self)


def _image(graph: LayerGraph, size: int) -> torch.Tensor:
    return torch.empty(1, graph.spec.ch, size, size, device="meta")


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
    model = DetectionModel(graph, device="meta")
    params = checked_params(model)
    stride = max(graph.max_stride, 32)
    with dead_weights.watching(model, functions=False) as seen:  # the hooks only: cheap
        macs = _checked_pass(graph, model)
    found = dead_weights.unused(model, _image(graph, graph.imgsz), seen)
    dead_by_layer = _by_layer(found.params)
    scale = (graph.imgsz / stride) ** 2
    # Every layer's cost grows with image area except after a global pool (SE layers): only then
    # does the shortcut differ from the real count, and only then is a second pass needed.
    if any(type(m) in NOT_BY_AREA for m in model.modules()):
        macs_stride = layer_macs(model, _image(graph, stride))
    else:
        macs_stride = [m / scale for m in macs]
    per_layer = []
    for node, layer, mac, mac_s in zip(graph.layers, model.model, macs, macs_stride):
        per_layer.append({
            "index": node.index, "from": node.from_, "n": node.n, "params": count_params(layer),
            "module": node.module, "args": _plain(node.shown_args), "section": node.section,
            "out_shape": list(node.shape) if node.c_out else None, "stride": node.stride or None,
            "tap": node.tap or None, "gflops": 2 * mac / 1e9, "gflops_stride": 2 * mac_s * scale / 1e9,
            "dead_params": dead_by_layer.get(node.index, 0),
        })
    ultralytics = graph.spec.dialect == "ultralytics"
    n_layers = yolo_layer_count(model, leaves=ultralytics)
    macs_ul = ultralytics_macs(model, graph.spec.ch, graph.imgsz, graph.max_stride)
    where = _where(found, graph)
    model.fuse(found.modules)
    fused_macs = layer_macs(model, _image(graph, graph.imgsz))
    return Counts(
        layers=n_layers, params=params, gflops=2 * sum(macs) / 1e9,
        gflops_stride=2 * sum(macs_stride) * scale / 1e9, fused_params=count_params(model),
        fused_gflops=2 * sum(fused_macs) / 1e9, imgsz=graph.imgsz, per_layer=per_layer,
        gflops_ultralytics=2 * macs_ul / 1e9, layers_by=LAYERS_BY[ultralytics],
        dead_params=found.total, dead=where,
    )


def _layer_of(name: str) -> int:
    return int(name.split(".")[1])  # model.<layer>.<path in the block>


def _by_layer(params: dict[str, int]) -> dict[int, int]:
    out: dict[int, int] = {}
    for name, numel in params.items():
        out[_layer_of(name)] = out.get(_layer_of(name), 0) + numel
    return out


def _where(found: dead_weights.Dead, graph: LayerGraph) -> list[str]:
    """One phrase per (block, part) holding dead parameters: "VoVGSCSP.res in layers 13, 17, 20, 23".
    A part is a module that never runs, or else the unread parameter itself (copy numbers left out)."""
    parts: dict[str, list[int]] = {}
    for name in found.params:
        owner = next((m for m in found.modules if name.startswith(m + ".")), name)
        i = _layer_of(owner)
        path = ".".join(p for p in owner.split(".")[2:] if not p.isdigit())
        key = f"{graph.layers[i].module}.{path}" if path else graph.layers[i].module
        if i not in parts.setdefault(key, []):
            parts[key].append(i)
    return [f"{key} in layer{'s' if len(at) > 1 else ''} {', '.join(map(str, at))}" for key, at in parts.items()]


def _checked_pass(graph: LayerGraph, model: DetectionModel) -> list[int]:
    """The counting pass at the real image size, which also holds every layer to the shape resolve
    promised: a block that does not run, or runs to another shape, is a SpecError naming it."""
    shapes: list = []
    try:
        macs = layer_macs(model, _image(graph, graph.imgsz), shapes)
    except LayerFailed as err:
        node = graph.layers[err.index]
        raise SpecError(f"does not run: {err.why}", layer=err.index, module=node.module) from None
    for node, shape in zip(graph.layers, shapes):
        if node.c_out and shape is not None and tuple(shape[1:]) != node.shape:
            raise SpecError(f"runs to shape {'x'.join(map(str, shape[1:]))}, not the "
                            f"{'x'.join(map(str, node.shape))} its rules promise", layer=node.index, module=node.module)
    return macs


LAYERS_BY = {False: "YOLOv5 7.0", True: "Ultralytics 8.4"}


def yolo_layer_count(model: nn.Module, leaves: bool = False) -> int:
    """Modules as YOLOv5's summary counts them (every module), or with `leaves` as Ultralytics 8.4's
    does (modules without children). Upstream's Convs share one activation module (counted once);
    ours each own theirs, so the activations a block's registry entry calls shared
    (`BlockInfo.shared_act`: True, or a name when blocks share one of their own) count once per name.
    A module no entry describes (a block's inner part) may say the same with its `default_act`
    attribute (True, or the name of the module it shares upstream, e.g. RepConv's own SiLU)."""
    modules = list(model.modules())
    acts, groups = 0, set()
    for m in modules:
        info = info_of(m)
        if info is not None and info.shared_act is not None:
            shared = info.shared_act(m)
        else:
            shared = getattr(m, "default_act", False)
            shared = shared if shared is True or isinstance(shared, str) else False
        if shared:
            acts += 1
            groups.add(shared if isinstance(shared, str) else "Conv.default_act")
    counted = [m for m in modules if not leaves or not m._modules]
    return len(counted) - (acts - len(groups))


def _plain(value):
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value
