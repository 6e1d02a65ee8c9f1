"""Export: the deploy form of a model to ONNX, checked before it is offered.

Deploy form = BatchNorm folded into convs, RepVGG blocks re-parameterised (each block's own
`fuse()`; an end-to-end head drops its one-to-many branch), weights no forward pass reads dropped
(DetectionModel.fuse, graph/dead.py: VoVGSCSP's unused `res`), the head in its inference layout:
YOLOv5-style (1, N*3, 5+nc), Ultralytics-style (1, 4+nc, N), or end-to-end (1, 300, 6) =
[x1, y1, x2, y2, score, class] best first, no NMS (YOLO26 / YOLOv10, as Ultralytics exports them
with nms=False); boxes in input pixels (the layout, the dynamic axes, the label and how two outputs
compare are the head's row in engine/heads.py). Opset 18, input `images` (B, 3, H, W), output
`output0`; with `dynamic`, batch / height / width really vary. Every file is checked: `onnx.checker`
passes and onnxruntime's output matches PyTorch's on the same input (the largest absolute
difference is reported — for the end-to-end layout, rows of equal score may trade places; above
1e-3 the export fails loudly).
"""
from __future__ import annotations

import copy
import os
import time
import warnings
from dataclasses import asdict, dataclass

import torch

from graph.model import count_params

from ..heads import head_kind
from ..loading import Loaded

OPSET = 18
TOLERANCE = 1e-3  # of the head's compare: absolute for values up to 1, relative above (engine/heads.relative)


class ExportError(RuntimeError):
    """The export failed or did not pass its checks; the message says which and why."""


@dataclass
class ExportResult:
    path: str
    bytes: int
    params: int
    imgsz: int
    dynamic: bool
    max_abs_diff: float
    checked_sizes: list
    head: str
    seconds: float

    def as_dict(self) -> dict:
        return asdict(self)

    def summary(self) -> str:
        return (f"{os.path.basename(self.path)}: {self.bytes / 2**20:.2f} MB, {self.params:,} parameters, "
                f"{self.head} head, onnx.checker ok, onnxruntime vs PyTorch max |diff| {self.max_abs_diff:.2e} "
                f"at {', '.join(f'{h}x{w}' for h, w in self.checked_sizes)}")


def deploy_model(model: torch.nn.Module) -> torch.nn.Module:
    """A fused, eval-mode copy; the original is left as it was."""
    return copy.deepcopy(model).float().cpu().eval().fuse()


def _ort_session(path: str):
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    return ort.InferenceSession(path, opts, providers=["CPUExecutionProvider"])


def check_onnx(path: str, model: torch.nn.Module, sizes: list[tuple[int, int]], batch: int = 1) -> float:
    """onnx.checker + onnxruntime vs PyTorch at each size; returns the largest absolute difference."""
    import onnx

    try:
        onnx.checker.check_model(onnx.load(path))
    except Exception as err:
        raise ExportError(f"onnx.checker rejected the export: {str(err).splitlines()[0]}") from None
    session = _ort_session(path)
    compare = head_kind(model).compare
    worst = 0.0
    gen = torch.Generator().manual_seed(0)
    for h, w in sizes:
        x = torch.rand(batch, 3, h, w, generator=gen)
        with torch.inference_mode():
            want = model(x).numpy()
        got = session.run(["output0"], {"images": x.numpy()})[0]
        if got.shape != want.shape:
            raise ExportError(f"onnxruntime gave shape {got.shape} at {h}x{w}, PyTorch {want.shape}")
        diff = compare(got, want)
        worst = max(worst, diff)
        if not diff <= TOLERANCE:
            raise ExportError(f"onnxruntime and PyTorch differ by {diff:.2e} at {h}x{w} (limit {TOLERANCE:g}, relative above 1)")
    return worst


def _declare_rows(path: str, axis: int, rows: int) -> None:
    """Write the fixed row count (an end-to-end head's top-k) into `output0`'s declared shape, which the
    exporter leaves symbolic once other axes are dynamic."""
    import onnx

    proto = onnx.load(path)
    dim = proto.graph.output[0].type.tensor_type.shape.dim[axis]
    dim.Clear()
    dim.dim_value = rows
    onnx.save(proto, path)


def export_onnx(loaded: Loaded, out: str, imgsz: int | None = None, dynamic: bool = False) -> ExportResult:
    imgsz = int(imgsz or loaded.imgsz)
    stride = int(loaded.model.stride.max()) if loaded.model.stride.numel() else 32
    if imgsz % stride:
        raise ExportError(f"image size {imgsz} is not a multiple of the model's stride {stride}")
    t0 = time.perf_counter()
    model = deploy_model(loaded.model)
    x = torch.zeros(1, 3, imgsz, imgsz)
    kind = head_kind(model)
    axes = None
    if dynamic:
        axes = {"images": {0: "batch", 2: "height", 3: "width"}, "output0": dict(kind.onnx_axes)}
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation and tracer notes
            torch.onnx.export(model, (x,), out, dynamo=False, opset_version=OPSET, input_names=["images"],
                              output_names=["output0"], dynamic_axes=axes, do_constant_folding=True)
    except Exception as err:
        raise ExportError(f"torch.onnx.export failed: {str(err).strip().splitlines()[0][:200]}") from None
    if dynamic and kind.rows_fixed:
        _declare_rows(out, 3 - kind.channel_axis, kind.rows_fixed)
    sizes = [(imgsz, imgsz)]
    if dynamic:  # prove the dynamic axes: two other sizes, one not square
        sizes += [(max(stride, imgsz // 2), max(stride, imgsz // 2)), (imgsz, imgsz + 2 * stride)]
    diff = check_onnx(out, model, sizes)
    return ExportResult(path=out, bytes=os.path.getsize(out), params=count_params(model), imgsz=imgsz,
                        dynamic=dynamic, max_abs_diff=diff, checked_sizes=sizes, head=kind.label,
                        seconds=round(time.perf_counter() - t0, 2))
