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
1e-3 the export fails loudly). The check runs on the final file: the graph simplified by onnxslim
(engine/deploy/simplify.py; node counts before / after are reported), its DFL softmax moved to the last
axis (engine/deploy/rewrite.py), carrying the metadata other tools read (engine/deploy/metadata.py:
names, stride, imgsz, task, batch, the design yaml).
"""
from __future__ import annotations

import copy
import os
import time
import warnings
from dataclasses import asdict, dataclass, field

import torch

from graph.model import count_params

from ..heads import head_kind
from ..loading import Loaded
from .metadata import build_metadata, write_onnx_metadata
from .rewrite import dfl_softmax_last_axis
from .simplify import graph_stats, simplify

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
    nodes_before: dict = field(default_factory=dict)  # graph_stats of the exporter's graph
    nodes_after: dict = field(default_factory=dict)  # ... of the file written (simplified)
    simplified: bool = False
    metadata: list = field(default_factory=list)  # the metadata_props keys written
    notes: list = field(default_factory=list)

    def as_dict(self) -> dict:
        return asdict(self)

    def nodes_line(self) -> str:
        b, a = self.nodes_before, self.nodes_after
        if not a:
            return ""
        how = "onnxslim" if self.simplified else "not simplified"
        return (f"nodes {b.get('nodes', '?')} -> {a['nodes']} ({how}; Identity {b.get('Identity', '?')} -> "
                f"{a['Identity']}, Constant {b.get('Constant', '?')} -> {a['Constant']}, "
                f"Shape {b.get('Shape', '?')} -> {a['Shape']})")

    def summary(self) -> str:
        lines = [f"{os.path.basename(self.path)}: {self.bytes / 2**20:.2f} MB, {self.params:,} parameters, "
                 f"{self.head} head, onnx.checker ok, onnxruntime vs PyTorch max |diff| {self.max_abs_diff:.2e} "
                 f"at {', '.join(f'{h}x{w}' for h, w in self.checked_sizes)}"]
        if self.nodes_after:
            lines.append(self.nodes_line())
        if self.metadata:
            lines.append(f"metadata_props: {', '.join(self.metadata)}")
        return "\n".join(lines + [f"note: {n}" for n in self.notes])


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


def _declare_rows(proto, axis: int, rows: int) -> None:
    """Write the fixed row count (an end-to-end head's top-k) into `output0`'s declared shape, which the
    exporter leaves symbolic once other axes are dynamic."""
    dim = proto.graph.output[0].type.tensor_type.shape.dim[axis]
    dim.Clear()
    dim.dim_value = rows


def _finish(path: str, kind, dynamic: bool, meta: dict, clean: bool = True) -> tuple[dict, dict, bool, list]:
    """Simplify the exported file, declare fixed rows, write the metadata; -> (stats before, after,
    simplified, notes). A simplifier failure keeps the exporter's graph and says so."""
    import onnx

    proto = onnx.load(path)
    before, notes, simplified = graph_stats(proto), [], False
    if clean:
        try:
            proto, simplified = simplify(proto), True
        except Exception as err:  # onnxslim's many failure kinds: keep the working graph, say why
            notes.append(f"onnxslim could not simplify the graph ({str(err).strip().splitlines()[0][:160]}); "
                         "the exporter's graph is kept")
        if dfl_softmax_last_axis(proto):
            notes.append("the DFL softmax runs on the last axis (engine/deploy/rewrite.py: same outputs, faster)")
    if dynamic and kind.rows_fixed:
        _declare_rows(proto, 3 - kind.channel_axis, kind.rows_fixed)
    write_onnx_metadata(proto, meta)
    onnx.save(proto, path)
    return before, graph_stats(proto), simplified, notes


def export_onnx(loaded: Loaded, out: str, imgsz: int | None = None, dynamic: bool = False,
                clean: bool = True) -> ExportResult:
    """The checked ONNX of `loaded`'s deploy form at `out`; `clean=False` skips onnxslim (to compare)."""
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
    meta = build_metadata(model, loaded.names, loaded.yaml, imgsz, dynamic)
    before, after, simplified, notes = _finish(out, kind, dynamic, meta, clean)
    sizes = [(imgsz, imgsz)]
    if dynamic:  # prove the dynamic axes: two other sizes, one not square
        sizes += [(max(stride, imgsz // 2), max(stride, imgsz // 2)), (imgsz, imgsz + 2 * stride)]
    diff = check_onnx(out, model, sizes)
    return ExportResult(path=out, bytes=os.path.getsize(out), params=count_params(model), imgsz=imgsz,
                        dynamic=dynamic, max_abs_diff=diff, checked_sizes=sizes, head=kind.label,
                        seconds=round(time.perf_counter() - t0, 2), nodes_before=before, nodes_after=after,
                        simplified=simplified, metadata=list(meta), notes=notes)
