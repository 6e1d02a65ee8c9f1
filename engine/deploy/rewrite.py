"""Graph rewrites that keep every output and save time on a CPU: applied to each export before it is
simplified, and proved by the export's own onnxruntime-vs-PyTorch check.

DFL softmax on the last axis. The anchor-free head's DFL (YOLOv8 / YOLO11 / YOLO26 with reg_max > 1)
exports as Reshape (B, 4, 16, A) -> Transpose (B, 16, 4, A) -> Softmax(axis=1) -> 1x1 Conv (16 -> 1,
weights 0..15, no bias). onnxruntime runs a softmax over a non-last axis by transposing around it: on
YOLOv8n at 640 that one node took 4.9 ms of a 41 ms int8 run (one thread) — the same in fp32. The
rewrite: Transpose (B, 4, A, 16) -> Softmax(axis=-1) -> MatMul with the (16, 1) weights -> (B, 4, A, 1)
-> Squeeze / Unsqueeze to the conv's (B, 1, 4, A), the same values in the same order. The softmax keeps
its node name (`/model.{i}/dfl/...`), so nodes still map to their yaml layer. Applied to the simplified
graph (where the conv's weights are an initializer, not an Identity of one).
"""
from __future__ import annotations

import numpy as np
import onnx
from onnx import helper, numpy_helper


def _attr(node, name, default=None):
    for a in node.attribute:
        if a.name == name:
            return helper.get_attribute_value(a)
    return default


def _dfl_match(g, sm, producer, readers, weights):
    """(transpose, conv, weight array) when `sm` is a DFL softmax this rewrite applies to, else None."""
    tr, rd = producer.get(sm.input[0]), readers.get(sm.output[0], [])
    if _attr(sm, "axis", -1) != 1 or tr is None or tr.op_type != "Transpose" or len(rd) != 1:
        return None
    conv = rd[0]
    if conv.op_type != "Conv" or len(conv.input) != 2 or conv.input[1] not in weights \
            or list(_attr(tr, "perm", [])) != [0, 2, 1, 3] or len(readers.get(tr.output[0], [])) != 1:
        return None
    w = weights[conv.input[1]]
    if w.ndim != 4 or w.shape[0] != 1 or w.shape[2:] != (1, 1) or (_attr(conv, "group", 1) or 1) != 1:
        return None
    return tr, conv, w


def dfl_softmax_last_axis(proto: onnx.ModelProto) -> int:
    """Rewrite every DFL softmax of `proto` in place (module doc); -> how many were rewritten."""
    g = proto.graph
    weights = {i.name: numpy_helper.to_array(i) for i in g.initializer}
    producer = {o: n for n in g.node for o in n.output}
    readers: dict[str, list] = {}
    for n in g.node:
        for i in n.input:
            readers.setdefault(i, []).append(n)
    done = 0
    for sm in [n for n in g.node if n.op_type == "Softmax"]:
        match = _dfl_match(g, sm, producer, readers, weights)
        if match is None:
            continue
        tr, conv, w = match
        base, c = sm.name or f"dfl_softmax_{done}", w.shape[1]
        names = {k: f"{base}/{k}" for k in ("t", "s", "mm", "sq", "w", "ax3", "ax1")}
        g.initializer.extend([numpy_helper.from_array(w.reshape(c, 1).astype(np.float32), names["w"]),
                              numpy_helper.from_array(np.array([3], np.int64), names["ax3"]),
                              numpy_helper.from_array(np.array([1], np.int64), names["ax1"])])
        new = [helper.make_node("Transpose", [tr.input[0]], [names["t"]], name=f"{base}/Transpose", perm=[0, 1, 3, 2]),
               helper.make_node("Softmax", [names["t"]], [names["s"]], name=base, axis=-1),
               helper.make_node("MatMul", [names["s"], names["w"]], [names["mm"]], name=f"{conv.name}/MatMul"),
               helper.make_node("Squeeze", [names["mm"], names["ax3"]], [names["sq"]], name=f"{conv.name}/Squeeze"),
               helper.make_node("Unsqueeze", [names["sq"], names["ax1"]], [conv.output[0]],
                                name=f"{conv.name}/Unsqueeze")]
        at = list(g.node).index(tr)
        for n in (tr, sm, conv):
            g.node.remove(n)
        for k, n in enumerate(new):
            g.node.insert(at + k, n)
        if not any(conv.input[1] in n.input for n in g.node):  # the conv's weights: read by nothing now
            g.initializer.remove(next(i for i in g.initializer if i.name == conv.input[1]))
        done += 1
    return done
