"""OpenVINO: the IR (.xml + .bin) of a checked ONNX export, checked in turn against onnxruntime.

The ONNX file is read by OpenVINO's own ONNX frontend (`openvino.Core().read_model`) and written with
`openvino.save_model` (weights kept fp32). Not `openvino.convert_model`: that goes through the `ovc`
tool, which sends usage telemetry (Google Analytics) unless the user opted out, and nothing of this
project leaves the machine. An int8 IR comes from the int8 QDQ ONNX (engine/deploy/quantize.py): OpenVINO
turns each Quantize/DequantizeLinear pair into its FakeQuantize and runs int8 kernels, so both
runtimes use the same calibration.

Before anything is written, the model must map and run: a node the frontend cannot convert is found
by a partial conversion (it stays a framework node), one the CPU plugin cannot compile by its message,
and the compiled model must match onnxruntime; a failure is an ExportError that names the yaml layer
(nodes are named `/model.{i}/...`) and the op. The folder is laid out as Ultralytics lays out its
OpenVINO exports (`NAME_openvino_model/NAME.xml`, `.bin`, `metadata.yaml`), so its runner reads names
and image size from it.

Runs use f32 inference precision (this CPU would otherwise pick bf16 for an fp32 IR) and the
LATENCY performance hint with the thread count given.
"""
from __future__ import annotations

import os
import re

import numpy as np

from . import parity
from .metadata import write_sidecar
from .quantize import layer_of
from .signal_stack import keep_signal_stack

PARITY_TOLERANCE = 1e-3  # fp32 IR vs onnxruntime fp32: as the ONNX check (engine/deploy/export.py)


class OpenVinoError(RuntimeError):
    """The model does not map to OpenVINO (the message names the layer and the op)."""


def _where(name: str) -> str:
    layer = layer_of(name)
    return f"layer {layer} ({name})" if layer is not None else name


def _core():
    import openvino as ov

    return ov.Core()


def _failure(err: Exception, doing: str) -> OpenVinoError:
    """An OpenVINO error as one line naming the yaml layer of the node it names (if any) and the op."""
    text = " ".join(str(err).split())
    node = re.search(r"(/model\.\d+/[^\s'\"\],]+)", text)
    op = re.search(r"\b[Oo]p(?:eration)?(?: type)?[ :=]+'?([A-Z][A-Za-z0-9]+)", text)
    what = _where(node.group(1)) if node else "the model"
    return OpenVinoError(f"OpenVINO cannot {doing} {what}{' (op ' + op.group(1) + ')' if op else ''}: {text[:200]}")


def _unconverted(onnx_path: str) -> list[tuple[str, str]]:
    """(ONNX node name, op type) of the nodes OpenVINO's ONNX frontend has no rule for: a partial
    conversion keeps each as a framework node named after its output, mapped back through the file."""
    import onnx
    from openvino.frontend import FrontEndManager

    frontend = FrontEndManager().load_by_framework("onnx")
    model = frontend.convert_partially(frontend.load(onnx_path))
    names = {op.get_friendly_name() for op in model.get_ordered_ops() if op.get_type_name().endswith("FrameworkNode")}
    nodes = onnx.load(onnx_path, load_external_data=False).graph.node
    return [(n.name, n.op_type) for n in nodes if n.name in names or names & set(n.output)]


def read_onnx(onnx_path: str):
    """The OpenVINO model of an ONNX file (its ONNX frontend); OpenVinoError naming the layer otherwise."""
    try:
        return _core().read_model(onnx_path)
    except Exception as err:  # the frontend's OpConversionFailure and kin
        try:
            missing = _unconverted(onnx_path)
        except Exception:  # the partial conversion failed too: say what the frontend said
            missing = []
        if missing:
            name, op = missing[0]
            raise OpenVinoError(f"OpenVINO cannot map {_where(name)}: no conversion rule for op {op}"
                                f"{f' ({len(missing)} such nodes)' if len(missing) > 1 else ''}") from None
        raise _failure(err, "map") from None


def compile_runner(model, threads: int | None = None):
    """A function x -> output0 (numpy) running `model` (an ov.Model or an .xml path) on the CPU plugin
    (f32 precision, LATENCY hint); OpenVinoError naming the layer when the plugin cannot run it."""
    from .latency import cores

    core = _core()
    config = {"INFERENCE_PRECISION_HINT": "f32", "PERFORMANCE_HINT": "LATENCY",
              "INFERENCE_NUM_THREADS": int(threads or cores())}
    try:
        with keep_signal_stack():  # the CPU plugin swaps this thread's signal stack (signal_stack.py)
            compiled = core.compile_model(core.read_model(model) if isinstance(model, str) else model, "CPU", config)
    except Exception as err:  # the plugin's "unsupported operation" and kin
        raise _failure(err, "run") from None
    request = compiled.create_infer_request()

    def run(x: np.ndarray) -> np.ndarray:
        return request.infer({0: x})[0].copy()
    return run


def ir_folder(out_onnx: str, suffix: str = "") -> tuple[str, str]:
    """(folder, xml path) of the IR written for the ONNX file `out_onnx`: NAME{suffix}_openvino_model/."""
    stem = os.path.splitext(os.path.basename(out_onnx))[0] + suffix
    folder = os.path.join(os.path.dirname(os.path.abspath(out_onnx)), f"{stem}_openvino_model")
    return folder, os.path.join(folder, f"{stem}.xml")


def save_ir(model, xml_path: str, meta: dict) -> dict:
    """Write `model` at `xml_path` (+ .bin, + metadata.yaml); -> {"path", "bytes"} (xml + bin)."""
    import openvino as ov

    folder = os.path.dirname(os.path.abspath(xml_path))
    os.makedirs(folder, exist_ok=True)
    model.set_rt_info([str(v) for v in meta.get("names", {}).values()], ["model_info", "labels"])
    ov.save_model(model, xml_path, compress_to_fp16=False)
    write_sidecar(folder, meta)
    bin_path = os.path.splitext(xml_path)[0] + ".bin"
    return {"path": xml_path, "bytes": os.path.getsize(xml_path) + os.path.getsize(bin_path)}


def compare_runtimes(run_a, run_b, compare, sizes: list[tuple[int, int]]) -> float:
    """The head's compare (engine/heads.py) of onnxruntime's outputs (`run_a`) and OpenVINO's (`run_b`)."""
    return parity.compare_runtimes(run_a, run_b, compare, sizes, "OpenVINO", OpenVinoError)
