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

In onnxruntime's optimised graph every op between the image's QuantizeLinear and the tail runs as an
integer kernel (QLinearConv, QLinearSigmoid + QLinearMul for SiLU, QLinearAdd, QLinearConcat, uint8
MaxPool / Resize / Split): no DequantizeLinear -> fp32 op -> QuantizeLinear round trip is left, with
onnxruntime's default op list (quant_pre_process, symmetric activations, dedicated QDQ pairs change
nothing in that graph). What cost time was QLinearConcat requantising each input to its output's
scale through a lookup table, byte by byte on one thread: 7.5% of YOLOv8n's int8 time at 640, 2
threads. So the tensors a Concat joins share one range, the union of their calibrated ranges
(`concat_overrides`; an input is traced back through Split / MaxPool / Resize and the like, which keep
their input's scale): each QLinearConcat then copies bytes, and the whole int8 model runs about 4%
faster. The accuracy cost is the wider range of those tensors (within 2x of their own here): a
yolov8n trained on shapes scores mAP50 0.9019 fp32, 0.9004 int8 before, 0.9014 with shared ranges.

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
# ops whose int8 output keeps their input's scale (onnxruntime's QDQ quantiser): a Concat input made by
# one of them shares its range with that op's input
SAME_SCALE = ("Split", "MaxPool", "Resize", "Reshape", "Transpose", "Squeeze", "Unsqueeze", "Flatten", "Slice")
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


def concat_groups(proto: onnx.ModelProto, keep=()) -> list[list[str]]:
    """The tensors that Concat nodes join (not those in `keep`), grouped so that each group can take
    one int8 scale: a Concat's output and inputs, each input traced back through SAME_SCALE ops to the
    tensor whose scale it inherits; two Concats that share a tensor fall in one group."""
    keep = set(keep)
    producer = {o: n for n in proto.graph.node for o in n.output}
    parent: dict[str, str] = {}

    def find(t: str) -> str:
        while parent.setdefault(t, t) != t:
            t = parent[t]
        return t

    def source(t: str) -> str:
        while t in producer and producer[t].op_type in SAME_SCALE and producer[t].name not in keep:
            t = producer[t].input[0]
        return t

    for n in proto.graph.node:
        if n.op_type == "Concat" and n.name not in keep:
            for i in n.input:
                parent[find(source(i))] = find(n.output[0])
    groups: dict[str, list[str]] = {}
    for t in parent:
        groups.setdefault(find(t), []).append(t)
    return list(groups.values())


def concat_overrides(proto: onnx.ModelProto, ranges, keep=()) -> dict:
    """onnxruntime TensorQuantOverrides giving every tensor of a concat group (concat_groups) the
    union of the group's calibrated ranges; `ranges`: the calibration's TensorsData."""
    import numpy as np

    out = {}
    for group in concat_groups(proto, keep):
        known = [ranges[t].range_value for t in group if t in ranges]
        if len(known) < 2:
            continue
        lo = np.float32(min(float(np.min(r[0])) for r in known))
        hi = np.float32(max(float(np.max(r[1])) for r in known))
        out.update({t: [{"rmin": lo, "rmax": hi}] for t in group if t in ranges})
    return out


def quantize_int8(src: str, dst: str, reader=None, cache: str | None = None, only: list[str] | None = None,
                  exclude: list[str] | None = None) -> dict:
    """Write the static INT8 (QDQ) model of the fp32 ONNX `src` to `dst`. `reader`: a calibration
    data reader (calib.ImageReader); `cache`: a JSON file of calibration ranges, written on the first
    call and read (no calibration run) on later ones; `only`: quantise just these nodes; `exclude`:
    nodes kept fp32 besides the decode tail. The tensors a Concat joins share one scale (module doc).
    -> {"fp32_nodes": the tail + exclude, "qdq_pairs": n, "shared_concat_tensors": n}."""
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.calibrate import load_tensors_data

    proto = onnx.load(src)
    keep = decode_tail(proto) + [n for n in (exclude or []) if n]
    with tempfile.TemporaryDirectory(prefix="yld-int8-") as tmp, _quiet():
        ranges_file = cache or os.path.join(tmp, "calib.json")

        def run(out: str, extra: dict) -> None:
            quantize_static(src, out, reader, quant_format=QuantFormat.QDQ, per_channel=True,
                            activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                            calibrate_method=CalibrationMethod.MinMax, nodes_to_quantize=only or None,
                            nodes_to_exclude=keep, calibration_cache_path=ranges_file, extra_options=extra)

        if not os.path.isfile(ranges_file):
            run(os.path.join(tmp, "ranges.onnx"), {})  # calibrates once, writes the ranges
        overrides = concat_overrides(proto, load_tensors_data(ranges_file), keep)
        run(dst, {"TensorQuantOverrides": overrides} if overrides else {})
    q = onnx.load(dst, load_external_data=False)
    pairs = sum(1 for n in q.graph.node if n.op_type == "QuantizeLinear")
    if not pairs:
        raise RuntimeError("the quantiser quantised nothing (no QuantizeLinear node in its output)")
    return {"fp32_nodes": keep, "qdq_pairs": pairs, "shared_concat_tensors": len(overrides)}


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
