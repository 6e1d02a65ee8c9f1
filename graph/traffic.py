"""Memory traffic per layer: ShuffleNetV2's memory access cost (MAC, its guideline G1: equal channel
widths minimise it; Ma et al. 2018, seed 000) and the arithmetic intensity it leaves.

For each yaml layer of the deploy form (BatchNorm folded, RepVGG re-parameterised):
    read    = the input activations (every layer it reads; the image for the first) + its weights
    written = its output activation (the head: its inference output, boxes decoded)
    mac     = read + written
    intensity = FLOPs / mac bytes (FLOPs of the deploy form, 2 x multiply-adds, thop's rules)
at fp32 (4 bytes an element) and at int8 (1 byte an element; onnxruntime's static QDQ quantisation
keeps biases as int32, 4 bytes, but they are under 1% of a detector's parameters and are counted at 1).

It is the traffic of a layer that keeps its own intermediates in cache: a C2f's inner convs also
write and re-read their maps, so for a composite block this is a lower bound, exact for a one-op layer
(a Conv, a DWConv, an Upsample, a Concat). Everything comes from shapes and parameter counts the
counter already has (graph/counts.py): no weights, no run.
"""
from __future__ import annotations

import math

FP32, INT8 = 4, 1  # bytes an element


def _elements(shape) -> int:
    return math.prod(shape) if shape else 0


def layer_traffic(graph, out_shapes: list, params: list[int], fused_flops: list[float]) -> list[dict]:
    """Per layer of `graph` (a LayerGraph): {read_bytes, write_bytes, mac_bytes, mac_bytes_int8, intensity,
    fused_gflops} (the last, the FLOPs it was given, for the roofline: graph/roofline.py).

    out_shapes: each layer's output shape with the batch (None: take the graph's (C, H, W));
    params: each layer's deploy-form parameters; fused_flops: each layer's deploy-form FLOPs."""
    image = graph.spec.ch * graph.imgsz * graph.imgsz
    outs = [_elements(shape) if shape is not None else _elements(node.shape)
            for node, shape in zip(graph.layers, out_shapes)]
    rows = []
    for node, out, weights, flops in zip(graph.layers, outs, params, fused_flops):
        acts_in = sum(image if s < 0 else outs[s] for s in node.sources)
        read, write = (acts_in + weights) * FP32, out * FP32
        int8 = (acts_in + weights + out) * INT8
        rows.append({"read_bytes": read, "write_bytes": write, "mac_bytes": read + write, "mac_bytes_int8": int8,
                     "intensity": flops / (read + write) if read + write else 0.0, "fused_gflops": flops / 1e9})
    return rows


def totals(rows: list[dict]) -> dict:
    """{mac_bytes, mac_bytes_int8} of the whole model: the sum over its layers."""
    return {"mac_bytes": sum(r["mac_bytes"] for r in rows), "mac_bytes_int8": sum(r["mac_bytes_int8"] for r in rows)}
