"""resolve: ModelSpec -> LayerGraph, every layer's inputs, channels, stride and output shape known,
or a SpecError naming the layer and the cause.

One treatment for every block: the registry entry (blocks/registry.py) says how channels follow
(the rule tables below), how `n` repeats, the stride, and the block's own check. Depth and width
rounding are YOLOv5's / Ultralytics': n -> max(round(n * depth), 1) when n > 1, and
c2 -> ceil(min(c2, max_channels) * width / 8) * 8.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import networkx as nx

from blocks import UnknownBlock, get_block
from blocks.registry import EQUAL, HEAD, INSIDE, ONCE, OUT, PICK, SAME, SPLIT, STACK, SUM, BlockInfo, Layer

from . import anchors as level_anchors
from . import limits
from .args import bind
from .errors import SpecError
from .spec import ModelSpec


def make_divisible(x: float, divisor: int = 8) -> int:
    return math.ceil(x / divisor) * divisor


def _unscaled(spec: ModelSpec, c2: int) -> bool:
    """Is `c2` left as written? YOLOv5 keeps the output count of an anchor head (anchors per level x
    (nc + 5)); Ultralytics 8.4 scales every layer's c2 (only its Classify keeps nc)."""
    na = level_anchors.per_level(spec.anchors)
    return spec.dialect == "yolov5" and na is not None and c2 == na * (spec.nc + 5)


def _head_options(spec: ModelSpec, info: BlockInfo, nodes: list, i: int) -> dict:
    """A head's keywords from the yaml's other top-level keys (`end2end`, `reg_max`) and upstream's
    `legacy` flag (cleared by the blocks before it that clear it): the head class's `model_options`."""
    options = getattr(info.cls, "model_options", None)
    if options is None:
        return {}
    try:
        return options(dict(spec.extra), not any(node.info.clears_legacy for node in nodes))
    except ValueError as err:
        raise SpecError(str(err), layer=i, module=info.name, field="args") from None


@dataclass
class LayerNode:
    index: int
    sources: tuple[int, ...]  # absolute indices; -1 = the input image
    n: int  # after depth scaling
    module: str
    info: BlockInfo
    args: dict  # bound, scaled
    c_in: tuple[int, ...]
    c_out: int  # 0 for the head
    shape: tuple[int, int, int]  # (C, H, W) at the graph's imgsz; the head: (0, 0, 0)
    stride: int  # input pixels per output cell
    section: str  # backbone | neck | head
    ctor: tuple  # positional constructor args
    ctor_kw: dict = field(default_factory=dict)
    tap: str = ""  # P3 / P4 / P5 for the maps the head reads

    @property
    def from_(self):
        """`from` as YOLO writes it: -1 for the previous layer, else absolute indices."""
        rel = [-1 if k == 0 and s == self.index - 1 else s for k, s in enumerate(self.sources)]
        return rel[0] if len(rel) == 1 else rel

    shown_args: tuple = ()  # as YOLO's per-layer table prints them: scaled, only those written


@dataclass
class LayerGraph:
    spec: ModelSpec
    imgsz: int
    layers: list[LayerNode]
    dag: nx.DiGraph
    save: frozenset[int]  # outputs read later by a layer other than the next one
    head: LayerNode

    @property
    def strides(self) -> list[int]:
        return list(self.head.ctor_kw.get("strides", []))

    def unused(self) -> list[int]:
        """Layers whose output reaches no Detect input: built and counted, never used (the DAG's
        ancestors of the head are everything that feeds it)."""
        feeding = nx.ancestors(self.dag, self.head.index)
        return [n.index for n in self.layers if n.index not in feeding and n is not self.head]

    @property
    def legacy(self) -> bool:
        """Upstream's `legacy` flag: False once a block that clears it is used (C3k2, A2C2f, C2fCIB);
        the anchor-free Detect then builds YOLO11's class branch."""
        return not any(node.info.clears_legacy for node in self.layers)

    @property
    def max_stride(self) -> int:
        return max([node.stride for node in self.layers if node.c_out] + self.strides)


# The channel rules, as tables: (c_in, c2) -> c_out; and the constructor's positional args.
C_OUT = {
    OUT: lambda c_in, a: a["c2"],
    SAME: lambda c_in, a: c_in[0],
    SUM: lambda c_in, a: sum(c_in),
    EQUAL: lambda c_in, a: c_in[0],
    HEAD: lambda c_in, a: 0,
    SPLIT: lambda c_in, a: sum(_widths(a)),
    PICK: lambda c_in, a: c_in[-1],
}


def _widths(args: dict) -> tuple[int, ...]:
    """A SPLIT block's output widths: its first arg, an int or a list of ints."""
    first = next(iter(args.values()))
    return tuple(first) if isinstance(first, (tuple, list)) else (first,)


def _picks(info: BlockInfo, args: dict, nodes: list, sources, c_in, i: int) -> dict:
    """A PICK block (CBFuse): each input but the last is a SPLIT layer's stack of maps, of which the
    block's `idx` picks one, as wide as the last input; the constructor gets each input's widths."""
    idx = list(_widths(args))
    if len(idx) != len(sources) - 1:
        raise SpecError(f"{info.name} picks one map from each input but the last: {len(sources) - 1} inputs "
                        f"need {len(sources) - 1} indices, got {len(idx)}", layer=i, module=info.name, field="args")
    splits = []
    for s, j in zip(sources, idx):
        node = nodes[s] if s >= 0 else None
        if node is None or node.info.channels != SPLIT:
            what = "the image" if node is None else f"layer {s} ({node.module})"
            raise SpecError(f"{info.name} input {what} is not a split layer (CBLinear)",
                            layer=i, module=info.name, field="from")
        widths = _widths(node.args)
        if not 0 <= j < len(widths):
            raise SpecError(f"index {j} is out of range for layer {s}, which splits into {len(widths)} maps",
                            layer=i, module=info.name, field="args")
        if widths[j] != c_in[-1]:
            raise SpecError(f"map {j} of layer {s} has {widths[j]} channels, the last input {c_in[-1]}: "
                            f"they are summed, so they must match", layer=i, module=info.name, field="args")
        splits.append(list(widths))
    return {"splits": splits}


def _ctor(info: BlockInfo, c_in, values: list, n: int) -> tuple:
    if info.channels == OUT:
        inside = (n,) if info.repeat == INSIDE else ()
        return (c_in[0], values[0], *inside, *values[1:])
    if info.takes_c1:
        return (c_in[0], *values)
    return tuple(values)


def _sources(lay, i: int, module: str) -> tuple[int, ...]:
    refs = lay.from_ if isinstance(lay.from_, tuple) else (lay.from_,)
    out = []
    for r in refs:
        if isinstance(r, str):
            raise SpecError(f"'from' names tap {r!r}, which only template fragments may do",
                            layer=i, module=module, field="from")
        a = i + r if r < 0 else r
        if r < 0 and a < 0 and not (i == 0 and r == -1):
            raise SpecError(f"from {r} points before the first layer", layer=i, module=module, field="from")
        if r >= i:
            raise SpecError(f"from {r} points forward: a layer can only read layers before it",
                            layer=i, module=module, field="from")
        out.append(max(a, -1))
    return tuple(out)


def _arity(info: BlockInfo, sources, i) -> None:
    k = len(sources)
    want = info.inputs
    if (want and k != want) or (not want and k < 1):
        need = f"{want} input{'s' if want > 1 else ''}" if want else "one or more inputs"
        raise SpecError(f"{info.name} takes {need}, got {k} (from {list(sources)})",
                        layer=i, module=info.name, field="from")


def resolve(spec: ModelSpec, imgsz: int = 640) -> LayerGraph:
    if isinstance(imgsz, bool) or not isinstance(imgsz, int) or not limits.MIN_IMGSZ <= imgsz <= limits.MAX_IMGSZ:
        raise SpecError(f"image size must be {limits.MIN_IMGSZ}..{limits.MAX_IMGSZ} pixels, got {imgsz!r}",
                        field="imgsz")
    if imgsz % 32:
        raise SpecError(f"image size {imgsz} is not a multiple of 32; try {make_divisible(imgsz, 32)}",
                        field="imgsz")
    if not spec.layers:
        raise SpecError("the model has no layers")
    depth, width, max_ch = spec.multiples
    scale = spec.scale if spec.scale is not None else (spec.scales[0][0] if spec.scales else None)
    image = (spec.ch, imgsz, imgsz)
    nodes: list[LayerNode] = []
    dag = nx.DiGraph()
    read_later: set[int] = set()

    for i, lay in enumerate(spec.layers):
        try:
            info = get_block(lay.module, spec.dialect)  # the dialect's own form where it has one
        except UnknownBlock as err:
            raise SpecError(str(err), layer=i, field="module") from None
        sources = _sources(lay, i, info.name)
        _arity(info, sources, i)
        shapes = tuple(image if s < 0 else nodes[s].shape for s in sources)
        if any(s >= 0 and nodes[s].info.channels == HEAD for s in sources):
            raise SpecError("cannot read the output of the detection head", layer=i, module=info.name,
                            field="from")
        c_in = tuple(sh[0] for sh in shapes)

        n = max(round(lay.n * depth), 1) if lay.n > 1 else lay.n
        if info.repeat == ONCE and lay.n != 1:
            raise SpecError(f"{info.name} does not repeat; number must be 1, got {lay.n}",
                            layer=i, module=info.name, field="n")
        raw = info.scale_rule(tuple(lay.args), scale) if info.scale_rule else lay.args
        try:
            args = bind(info, raw, spec.nc, spec.anchors)
        except ValueError as err:
            raise SpecError(str(err), layer=i, module=info.name, field="args") from None
        level_anchors.expand(info, args, [1 if s < 0 else nodes[s].stride for s in sources])  # `anchors: 3`
        if info.channels == OUT:
            c2 = args["c2"]
            args["c2"] = c2 if _unscaled(spec, c2) else make_divisible(min(c2, max_ch) * width, 8)

        c_out = C_OUT[info.channels](c_in, args)
        if c_out > limits.MAX_CHANNELS:
            raise SpecError(f"{c_out} output channels is over the limit of {limits.MAX_CHANNELS}",
                            layer=i, module=info.name, field="args")
        copies = n if info.repeat == STACK else 1
        if copies > 1 and c_in[0] != c_out:
            raise SpecError(f"{n} stacked copies need c_in == c_out (got {c_in[0]} -> {c_out}); "
                            f"use number 1 or a layer before it to change channels",
                            layer=i, module=info.name, field="n")

        g = args.get("g", 1)
        if g > 1 and (c_in[0] % g or (info.channels == OUT and c_out % g)):
            raise SpecError(f"groups g={g} must divide the input and output channels "
                            f"({c_in[0]} -> {c_out})", layer=i, module=info.name, field="args")

        in_strides = tuple(1 if x < 0 else nodes[x].stride for x in sources)
        view = Layer(index=i, args=args, c_in=c_in, shapes=shapes, sources=sources, strides=in_strides)
        why = info.check(view) if info.check else None
        if why:
            raise SpecError(why, layer=i, module=info.name)

        factor = info.stride(args)
        lead = -1 if info.channels == PICK else 0  # the input whose size and stride the output keeps
        _, h, w = shapes[lead]
        for _ in range(copies):  # each stacked copy resizes again
            h, w = info.out_size(args, h), info.out_size(args, w)
        in_stride = 1 if sources[lead] < 0 else nodes[sources[lead]].stride
        stride = in_stride * factor ** copies
        if info.channels != HEAD and (h < 1 or w < 1):
            raise SpecError(f"the feature map shrinks below 1 pixel at image size {imgsz}",
                            layer=i, module=info.name)
        if info.channels != HEAD and (stride != int(stride) or stride < 1):
            raise SpecError(f"upsampled above the input resolution (stride {stride:g})",
                            layer=i, module=info.name)

        values = list(args.values())
        ctor_kw = {}
        if info.channels == HEAD:
            h = w = 0
            strides = [1 if x < 0 else nodes[x].stride for x in sources]
            ctor_kw = {"ch": list(c_in), "strides": strides, **_head_options(spec, info, nodes, i)}
        elif info.channels == PICK:
            ctor_kw = _picks(info, args, nodes, sources, c_in, i)
        node = LayerNode(
            index=i, sources=sources, n=n, module=info.name, info=info, args=args, c_in=c_in,
            c_out=c_out, shape=(c_out, h, w), stride=int(stride) if info.channels != HEAD else 0,
            section="backbone" if lay.section == "backbone" else ("head" if info.channels == HEAD else "neck"),
            ctor=_ctor(info, c_in, values, n), ctor_kw=ctor_kw,
            shown_args=_ctor(info, c_in, values[:max(len(raw), 1 if info.channels == OUT else 0)], n),
        )
        nodes.append(node)
        dag.add_node(i, node=node)
        for s in sources:
            if s >= 0:
                dag.add_edge(s, i)
                if s != i - 1:
                    read_later.add(s)

    heads = [node for node in nodes if node.info.channels == HEAD]
    if not heads or heads[-1] is not nodes[-1] or len(heads) > 1:
        raise SpecError("a detector ends with exactly one Detect layer, reading the P3 / P4 / P5 maps",
                        layer=len(nodes) - 1, module=nodes[-1].module)
    head = heads[0]
    for s, stride in zip(head.sources, head.ctor_kw["strides"]):
        nodes[s].tap = f"P{int(math.log2(stride))}" if stride > 0 and stride & (stride - 1) == 0 else f"/{stride}"
    graph = LayerGraph(spec=spec, imgsz=imgsz, layers=nodes, dag=dag, save=frozenset(read_later), head=head)
    if imgsz % graph.max_stride:
        good = make_divisible(imgsz, graph.max_stride)
        raise SpecError(f"image size {imgsz} is not a multiple of the model's largest stride "
                        f"{graph.max_stride}; try {good}", field="imgsz")
    return graph
