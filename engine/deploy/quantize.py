"""INT8: static quantisation of a clean fp32 ONNX with onnxruntime's quantiser, and which yaml layers
it hurts most.

Choices (onnxruntime's own advice for x86 CPUs with VNNI, this machine's kind): QDQ format (Quantize-
/DequantizeLinear pairs that onnxruntime fuses into integer kernels, and that OpenVINO reads as its
FakeQuantize), weights int8 symmetric per output channel, activations uint8 asymmetric, ranges from
MinMax calibration over N letterboxed images (engine/deploy/calib.py). Only the ops that have integer
kernels are quantised; the head's final decode — everything from its first Reshape / Split / Transpose /
Softmax on (DFL softmax and its 1x1 conv, the concat of levels, the sigmoid of the class scores, the
box arithmetic, an end-to-end head's top-k) — stays fp32: box coordinates in pixels up to 640 and
scores near 0 do not share one 8-bit scale, and that tail is a few percent of the time.

Nodes map to yaml layers through their names: the exporter names each node after its module path,
`/model.{i}/...`, and onnxslim keeps the names. `layer_sensitivity` quantises one layer at a time
(every other layer fp32) from one cached calibration and measures what each costs.
"""
from __future__ import annotations

import contextlib
import logging
import os
import re
import tempfile

import onnx

TAIL_START = ("Reshape", "Split", "Transpose", "Softmax", "Flatten")  # the head's decode starts here
_LAYER = re.compile(r"^/model\.(\d+)/")


def layer_of(node_name: str) -> int | None:
    """The yaml layer index a node belongs to (`/model.7/cv2/conv/Conv` -> 7), None if none."""
    m = _LAYER.match(node_name)
    return int(m.group(1)) if m else None


def head_layer(proto: onnx.ModelProto) -> int:
    layers = [i for i in (layer_of(n.name) for n in proto.graph.node) if i is not None]
    if not layers:
        raise ValueError("no node of this ONNX is named after a yaml layer (/model.N/...)")
    return max(layers)


def decode_tail(proto: onnx.ModelProto) -> list[str]:
    """Names of the head's decode-tail nodes: every node downstream of the head layer's first
    Reshape / Split / Transpose / Softmax / Flatten (module doc)."""
    head = head_layer(proto)
    readers: dict[str, list] = {}
    for n in proto.graph.node:
        for i in n.input:
            readers.setdefault(i, []).append(n)
    stack = [n for n in proto.graph.node if layer_of(n.name) == head and n.op_type in TAIL_START]
    tail: dict[str, None] = {}
    while stack:
        n = stack.pop()
        if n.name in tail:
            continue
        tail[n.name] = None
        for o in n.output:
            stack += readers.get(o, [])
    return list(tail)


def layer_nodes(proto: onnx.ModelProto) -> dict[int, list[str]]:
    """yaml layer -> the names of its nodes (decode tail excluded)."""
    tail = set(decode_tail(proto))
    out: dict[int, list[str]] = {}
    for n in proto.graph.node:
        i = layer_of(n.name)
        if i is not None and n.name not in tail:
            out.setdefault(i, []).append(n.name)
    return out


@contextlib.contextmanager
def _quiet():
    """onnxruntime's quantiser logs a warning per run (pre-processing advice) through `logging`."""
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        yield
    finally:
        root.setLevel(level)


def quantize_int8(src: str, dst: str, reader=None, cache: str | None = None, only: list[str] | None = None,
                  exclude: list[str] | None = None) -> dict:
    """Write the static INT8 (QDQ) model of the fp32 ONNX `src` to `dst`. `reader`: a calibration
    data reader (calib.ImageReader); `cache`: a JSON file of calibration ranges, written on the first
    call and read (no calibration run) on later ones; `only`: quantise just these nodes; `exclude`:
    nodes kept fp32 besides the decode tail. -> {"fp32_nodes": the tail + exclude, "qdq_pairs": n}."""
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static

    proto = onnx.load(src)
    keep = decode_tail(proto) + [n for n in (exclude or []) if n]
    with _quiet():
        quantize_static(src, dst, reader, quant_format=QuantFormat.QDQ, per_channel=True,
                        activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                        calibrate_method=CalibrationMethod.MinMax, nodes_to_quantize=only or None,
                        nodes_to_exclude=keep, calibration_cache_path=cache)
    q = onnx.load(dst, load_external_data=False)
    pairs = sum(1 for n in q.graph.node if n.op_type == "QuantizeLinear")
    if not pairs:
        raise RuntimeError("the quantiser quantised nothing (no QuantizeLinear node in its output)")
    return {"fp32_nodes": keep, "qdq_pairs": pairs}


def layer_sensitivity(src: str, reader, score, top: int = 5, cache: str | None = None,
                      layers: list[int] | None = None) -> list[dict]:
    """Quantise one yaml layer at a time (the rest fp32; `layers`: only these) and score each model
    with `score(path) -> float` (e.g. mAP50); -> the `top` layers whose int8 form scores lowest, worst
    first: [{"layer": i, "score": s, "nodes": n}]. Uses one calibration (cached in `cache` or a temp file)."""
    proto = onnx.load(src)
    with tempfile.TemporaryDirectory(prefix="yld-sens-") as tmp:
        cache = cache or os.path.join(tmp, "calib.json")
        rows = []
        for layer, nodes in sorted(layer_nodes(proto).items()):
            if layers is not None and layer not in layers:
                continue
            dst = os.path.join(tmp, f"layer{layer}.onnx")
            try:
                quantize_int8(src, dst, reader, cache=cache, only=nodes)
            except RuntimeError:  # nothing quantisable in this layer (Concat, Upsample ...)
                continue
            rows.append({"layer": layer, "score": float(score(dst)), "nodes": len(nodes)})
    return sorted(rows, key=lambda r: r["score"])[:top]
