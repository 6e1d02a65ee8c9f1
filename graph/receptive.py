"""receptive: LayerGraph -> the theoretical receptive field of every layer's output, in input pixels,
and in particular of each map the Detect head reads (P3 / P4 / P5).

The standard recurrence, walked over the graph's networkx DAG in topological order:

    rf_out = rf_in + (reach - 1) * jump_in        jump_out = jump_in * stride

`rf` is the side of the square of input pixels one output cell can see; `jump` is the input pixels
between neighbouring cells (the layer's stride: Upsample divides it by its factor). A layer with
several inputs (Concat, ADD) sees the widest of them: rf_in = max over inputs, and the jump of its
first input (the resolver has checked that their sizes, so strides, agree).

`reach` is how far one output cell sees into the block's input, in input cells, through one copy
of the block. It is a fact of the block's registry entry (`BlockInfo.reach`, blocks/registry.py):
by default read off the bound args, a `d`-dilated `k` x `k` window ((k - 1) * d + 1; 1 for blocks
without a kernel: Concat, SELayer, activations), which is right for a single conv or pool; composite
blocks (C3, C2f, SPPF, GhostConv / GhostBottleneck, GSConv / VoVGSCSP, Shuffle_Block, the stems ...)
give their own, worked out from their forward (parallel branches: the widest; blocks in series: their
reaches chained). tests/test_receptive.py checks every registered block's fact against the support
of a gradient through a real instance, so a fact cannot drift from its module. A `n`-times stacked
block applies its reach `n` times; a block taking `n` inside gets `n` in its fact.

Left out, as theoretical receptive fields usually are: squeeze-and-excite gates (a global pool that
only rescales channels; counted, every layer with SE would see the whole image) and padding (the
figure is the window's size, not where it sits). The figure is not clipped to the image: a field
wider than the image lets a centre cell see all of it.
"""
from __future__ import annotations

from dataclasses import dataclass

import networkx as nx

from blocks.registry import HEAD, STACK

from .resolve import LayerGraph, LayerNode


@dataclass(frozen=True)
class Field:
    rf: int  # side of the square of input pixels one output cell sees
    jump: float  # input pixels between neighbouring output cells (the stride)

    def covers(self, imgsz: int) -> bool:
        return self.rf >= imgsz


IMAGE = Field(rf=1, jump=1)


def through(node: LayerNode, inputs: list[Field]) -> Field:
    """The field of `node`'s output, given the fields of its inputs (in `node.sources` order)."""
    rf, jump = max(f.rf for f in inputs), inputs[0].jump
    reach = node.info.reach_of(node.args, node.n)
    factor = node.info.stride(node.args)
    for _ in range(node.n if node.info.repeat == STACK else 1):
        rf += (reach - 1) * jump
        jump *= factor
    return Field(rf=round(rf), jump=jump)


def receptive_fields(graph: LayerGraph) -> dict[int, Field]:
    """The field of every layer's output (the head, which yields no map, is left out)."""
    fields: dict[int, Field] = {}
    for i in nx.topological_sort(graph.dag):
        node = graph.layers[i]
        if node.info.channels == HEAD:
            continue
        fields[i] = through(node, [IMAGE if s < 0 else fields[s] for s in node.sources])
    return fields


@dataclass(frozen=True)
class HeadInput:
    tap: str  # P3 / P4 / P5 (or /stride)
    layer: int
    stride: int
    field: Field

    def line(self, imgsz: int) -> str:
        """'P3 (layer 15): RF 243 px, stride 8' (+ ', wider than the 640 px image')."""
        whole = f", wider than the {imgsz} px image" if self.field.covers(imgsz) else ""
        return f"{self.tap} (layer {self.layer}): RF {self.field.rf:,} px, stride {self.stride}{whole}"


def head_inputs(graph: LayerGraph, fields: dict[int, Field] | None = None) -> list[HeadInput]:
    """Each map the Detect head reads, with its receptive field, in the head's input order."""
    fields = receptive_fields(graph) if fields is None else fields
    return [HeadInput(tap=graph.layers[s].tap or f"/{graph.layers[s].stride}", layer=s,
                      stride=graph.layers[s].stride, field=fields[s] if s >= 0 else IMAGE)
            for s in graph.head.sources]
