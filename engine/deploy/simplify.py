"""A clean ONNX graph: the exporter's graph simplified with onnxslim (the maintained simplifier
Ultralytics uses too), and the node counts that show what it did.

torch.onnx's TorchScript exporter leaves a YOLOv8n at 640 with ~466 nodes: 53 `Identity` (one per
shared weight), ~89 `Constant`, and the head's shape arithmetic (`Shape` -> `Gather` -> `Div` ...)
even when every size is fixed. onnxslim folds constants, removes identities and dead nodes, and with
static input shapes folds the shape arithmetic away (YOLOv8n: ~243 nodes, no Identity, no Constant
node, no Shape); with dynamic axes the shape arithmetic that really depends on the input stays. Node
names (`/model.{i}/...`, layer i of the yaml) are kept, so the quantiser and profilers can still map a
node to its layer.
"""
from __future__ import annotations

from collections import Counter

import onnx

WATCHED = ("Identity", "Constant", "Shape", "Gather")  # what a clean static graph has none of (Gather: few)


def graph_stats(proto: onnx.ModelProto) -> dict:
    """{"nodes": n, "Identity": .., "Constant": .., "Shape": .., "Gather": .., "dead_constants": ..}:
    counts of the main graph's nodes (dead constants: Constant nodes whose output nothing reads)."""
    ops = Counter(n.op_type for n in proto.graph.node)
    read = {i for n in proto.graph.node for i in n.input} | {o.name for o in proto.graph.output}
    dead = sum(1 for n in proto.graph.node if n.op_type == "Constant" and not any(o in read for o in n.output))
    return {"nodes": len(proto.graph.node), **{k: ops.get(k, 0) for k in WATCHED}, "dead_constants": dead}


def simplify(proto: onnx.ModelProto) -> onnx.ModelProto:
    """The simplified graph (a new ModelProto). onnxslim's own errors propagate: the caller reports them."""
    import onnxslim

    out = onnxslim.slim(proto)
    if out is None:  # onnxslim returns None when it only wrote a file; we never ask it to
        raise RuntimeError("onnxslim returned no model")
    return out
