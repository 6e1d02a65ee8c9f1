"""NCNN: the .param / .bin pair of a checked ONNX export, made by pnnx and checked against onnxruntime
before it is written.

pnnx (Tencent's converter to ncnn, the `pnnx` package's executable) reads the ONNX file export.py wrote
and checked, at its fixed input size, with fp32 weights (fp16=0). It runs in a scratch folder (it
writes its intermediate pnnx.param / .py / .onnx beside its input); only the ncnn pair is kept, in
the folder Ultralytics' NCNN exports use (`NAME_ncnn_model/model.ncnn.param`, `model.ncnn.bin`,
`metadata.yaml`), so its runner reads the names and image size from it.

Before anything is written the net must load and match onnxruntime:
- every layer of the .param must be one ncnn has (`ncnn.layer_to_index`): pnnx keeps an op it cannot
  lower under its ONNX or torch name (an end-to-end head's TopK / GatherElements, a dynamic graph's
  shape arithmetic), which ncnn would refuse when the app loads it on the device. Such an op fails
  the export naming the yaml layer of the ONNX nodes behind it; pnnx renames nodes (`TopK_375`), so
  they are found by op type (_ONNX_OP for the ones pnnx turns into torch ops) and their names
  (`/model.{i}/...`, quantize.layer_of);
- the net runs in ncnn's Python binding, fp32 (fp16 / bf16 storage and arithmetic off, as OpenVINO
  runs f32 here) on the thread count given, and its output matches onnxruntime within
  PARITY_TOLERANCE (the head's compare) on seeded random images.

A dynamic ONNX is refused: its grids come from Shape arithmetic that pnnx leaves as ops ncnn lacks.
INT8 is not made here: ncnn quantises with its own tools (ncnn2table / ncnn2int8), not from QDQ.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import tempfile

import numpy as np

from .export import ExportError
from .metadata import write_sidecar
from .options import missing_packages
from .parity import compare_runtimes
from .quantize import layer_of

PARITY_TOLERANCE = 1e-3  # fp32 ncnn vs onnxruntime fp32: as the ONNX check (engine/deploy/export.py)
PNNX_TIMEOUT_S = 600
# pnnx names an op it could not lower by its ONNX op type, or by the torch op it made of it:
_ONNX_OP = {"torch.lt": "Less", "torch.le": "LessOrEqual", "torch.gt": "Greater", "torch.ge": "GreaterOrEqual",
            "torch.eq": "Equal", "torch.logical_and": "And", "torch.logical_or": "Or", "torch.logical_xor": "Xor",
            "torch.logical_not": "Not", "torch.where": "Where", "Tensor.to": "Cast", "torch.topk": "TopK",
            "torch.gather": "GatherElements", "torch.argmax": "ArgMax", "torch.arange": "Range",
            "torch.full": "ConstantOfShape", "Tensor.reshape": "Reshape", "Tensor.expand": "Expand"}


class NcnnError(ExportError):
    """The model does not convert to, load in or match in ncnn (the message names the layer and op)."""


def ncnn_folder(out_onnx: str) -> tuple[str, str]:
    """(folder, .param path) of the ncnn pair written for the ONNX file `out_onnx`: NAME_ncnn_model/."""
    stem = os.path.splitext(os.path.basename(out_onnx))[0]
    folder = os.path.join(os.path.dirname(os.path.abspath(out_onnx)), f"{stem}_ncnn_model")
    return folder, os.path.join(folder, "model.ncnn.param")


def param_layers(param_path: str) -> list[tuple[str, str]]:
    """(type, name) of every layer of an ncnn .param (magic line, counts line, then one layer a line)."""
    with open(param_path, encoding="utf-8") as fh:
        lines = fh.read().splitlines()[2:]
    return [(f[0], f[1]) for f in (line.split() for line in lines) if len(f) >= 2]


def unsupported(param_path: str, onnx_path: str) -> list[tuple[str, str, list[str]]]:
    """(ncnn layer type, ncnn layer name, ONNX node names of that op) for each layer ncnn has no
    implementation of, the ones traced to ONNX nodes first."""
    import ncnn
    import onnx

    nodes = onnx.load(onnx_path, load_external_data=False).graph.node
    found = []
    for kind, name in param_layers(param_path):
        if ncnn.layer_to_index(kind) < 0:
            op = _ONNX_OP.get(kind, kind)
            found.append((kind, name, [n.name for n in nodes if n.op_type == op]))
    return sorted(found, key=lambda f: not f[2])


def _refusal(bad: list[tuple[str, str, list[str]]]) -> NcnnError:
    kind, name, onnx_nodes = bad[0]
    traced = [n for n in onnx_nodes if layer_of(n) is not None]
    where = f"layer {layer_of(traced[0])} ({traced[0]})" if traced else f"its layer {name}"
    kinds = list(dict.fromkeys(k for k, _, _ in bad))
    rest = (f" (pnnx left {len(bad)} layers of {len(kinds)} kinds ncnn lacks: {', '.join(kinds)})"
            if len(bad) > 1 else "")
    return NcnnError(f"NCNN cannot map {where}: ncnn has no {kind} layer{rest}")


def _pnnx(onnx_path: str, work: str, size: tuple[int, int]) -> tuple[str, str]:
    """Run pnnx on a copy of `onnx_path` in `work`; -> (.param, .bin) paths there, or NcnnError."""
    import pnnx

    src = os.path.join(work, "model.onnx")
    shutil.copyfile(onnx_path, src)
    param, weights = os.path.join(work, "model.ncnn.param"), os.path.join(work, "model.ncnn.bin")
    cmd = [pnnx.EXEC_PATH, src, f"inputshape=[1,3,{size[0]},{size[1]}]f32", "fp16=0", "device=cpu",
           f"ncnnparam={param}", f"ncnnbin={weights}", f"ncnnpy={os.path.join(work, 'model_ncnn.py')}"]
    try:
        p = subprocess.run(cmd, cwd=work, capture_output=True, text=True, timeout=PNNX_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        raise NcnnError(f"pnnx did not finish converting the model in {PNNX_TIMEOUT_S} s") from None
    if p.returncode or not (os.path.exists(param) and os.path.exists(weights)):
        said = [line.strip() for line in (p.stderr + p.stdout).splitlines() if line.strip()]
        raise NcnnError(f"pnnx could not convert the model (exit {p.returncode}): "
                        f"{said[-1][:200] if said else 'no message'}")
    return param, weights


def ncnn_runner(param_path: str, threads: int | None = None):
    """A function x (B, 3, H, W) float32 -> output0 (numpy, batch axis restored) running the ncnn pair
    `param_path` (+ the .bin beside it) in fp32 on `threads` threads; NcnnError if it does not load."""
    import ncnn

    from .latency import cores

    net = ncnn.Net()
    net.opt.num_threads = int(threads or cores())
    for flag in ("use_fp16_packed", "use_fp16_storage", "use_fp16_arithmetic", "use_bf16_storage"):
        setattr(net.opt, flag, False)
    weights = os.path.splitext(param_path)[0] + ".bin"
    if net.load_param(param_path) or net.load_model(weights):
        raise NcnnError(f"ncnn could not load {os.path.basename(param_path)}")
    inp, out = net.input_names()[0], net.output_names()[0]

    def run(x: np.ndarray) -> np.ndarray:
        outs = []
        for image in np.ascontiguousarray(x, dtype=np.float32):
            ex = net.create_extractor()
            ex.input(inp, ncnn.Mat(image).clone())
            ret, mat = ex.extract(out)
            if ret:
                raise NcnnError(f"ncnn failed to run the model (extract returned {ret})")
            outs.append(np.array(mat))
        return np.stack(outs)
    return run




def export_ncnn(onnx_path: str, meta: dict, compare, sizes: list[tuple[int, int]], reference,
                threads: int | None = None, dynamic: bool = False) -> dict:
    """The ncnn pair of the checked fp32 ONNX `onnx_path`, beside it (ncnn_folder), written only once it
    loads and matches `reference` (onnxruntime on that ONNX) within PARITY_TOLERANCE at `sizes`.
    -> {"path" (.param), "bytes" (.param + .bin), "check", "run"}; NcnnError (an ExportError) otherwise."""
    absent = missing_packages("ncnn")
    if absent:
        raise NcnnError(f"--format ncnn needs {' and '.join(absent)}: pip install {' '.join(absent)}")
    if dynamic:
        raise NcnnError("--format ncnn needs a fixed image size: pnnx leaves a dynamic export's grid "
                        "arithmetic as ops ncnn lacks; export without --dynamic")
    folder, param = ncnn_folder(onnx_path)
    with tempfile.TemporaryDirectory(prefix="yld-ncnn-") as work:
        tmp_param, tmp_bin = _pnnx(onnx_path, work, sizes[0])
        bad = unsupported(tmp_param, onnx_path)
        if bad:
            raise _refusal(bad)
        diff = compare_runtimes(reference, ncnn_runner(tmp_param, threads), compare, sizes, "ncnn", NcnnError)
        if not diff <= PARITY_TOLERANCE:
            raise NcnnError(f"ncnn and onnxruntime differ by {diff:.2e} (limit {PARITY_TOLERANCE:g})")
        os.makedirs(folder, exist_ok=True)
        shutil.copyfile(tmp_param, param)
        shutil.copyfile(tmp_bin, os.path.splitext(param)[0] + ".bin")
    write_sidecar(folder, meta)
    size = os.path.getsize(param) + os.path.getsize(os.path.splitext(param)[0] + ".bin")
    return {"path": param, "bytes": size, "check": f"vs onnxruntime fp32: max |diff| {diff:.2e} ok",
            "run": ncnn_runner(param, threads)}
