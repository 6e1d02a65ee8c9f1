"""One export, every target: the clean fp32 ONNX (export.py), and on request its INT8 form
(quantize.py, calibrated on a dataset through calib.py) and the OpenVINO IR of each (openvino_ir.py);
then, on this machine, each target's size, latency (latency.time_runner, the loop the Design tab's
Measure uses: warm-up excluded, then runs until the median is stable, TIMING_BUDGET_S is spent or
`opts.runs` are done; median / p10 / p90 / the median's 95% interval, thread count stated) and, for a
trained model, its mAP50 / mAP50-95 on the val split (accuracy.py). The CLI (`launch.py export --int8
--format openvino`) and the Export tab both call `deploy` and show its report.

Files beside OUT.onnx: OUT-int8.onnx; OUT_openvino_model/ and OUT-int8_openvino_model/ (.xml, .bin,
metadata.yaml); OUT_ncnn_model/ (model.ncnn.param, .bin, metadata.yaml: ncnn_target.py). When int8
costs more than `MAX_MAP50_LOSS` of mAP50, each yaml layer is quantised alone and the layers that
cost most are named (quantize.layer_sensitivity).
"""
from __future__ import annotations

import os
import tempfile
from dataclasses import asdict, dataclass, field

import numpy as np
import onnx

from ..checkpoint import Loaded
from ..data.config import load_data_config
from ..heads import head_kind
from .accuracy import evaluate, ort_runner, val_set
from .calib import ImageReader, calibration_paths
from .export import ExportError, ExportResult, export_onnx
from .latency import CI_TARGET, cores, random_image, time_runner
from .metadata import build_metadata, write_onnx_metadata
from .options import DeployOptions

MAX_MAP50_LOSS = 0.01  # one point of mAP50
TIMING_BUDGET_S = 4.0  # per target, as long as one Measure click in the Design tab


@dataclass
class DeployReport:
    onnx: ExportResult
    targets: list = field(default_factory=list)  # one dict per file: format, precision, path, bytes, ...
    threads: int = 1
    calibration: dict = field(default_factory=dict)
    accuracy_data: dict = field(default_factory=dict)
    sensitivity: list = field(default_factory=list)
    notes: list = field(default_factory=list)

    def as_dict(self) -> dict:
        """The ONNX export's keys as before, plus targets / threads / calibration / sensitivity / notes."""
        d = self.onnx.as_dict()
        d.update({k: v for k, v in asdict(self).items() if k != "onnx"})
        d["notes"] = list(self.onnx.notes) + list(self.notes)
        return d

    def table(self) -> str:
        rows = [f"{'target':<24}{'size MB':>9}{'median ms':>11}{'p10 ms':>9}{'p90 ms':>9}{'mAP50':>8}{'mAP50-95':>10}"
                "  check"]
        for t in self.targets:
            def num(k, f):
                return format(t[k], f) if t.get(k) is not None else "-"
            rows.append(f"{t['label']:<24}{t['bytes'] / 2**20:>9.2f}{num('median_ms', '.1f'):>11}"
                        f"{num('p10_ms', '.1f'):>9}{num('p90_ms', '.1f'):>9}{num('mAP50', '.3f'):>8}"
                        f"{num('mAP50-95', '.3f'):>10}  {t['check']}")
        return "\n".join(rows)

    def details(self) -> list[str]:
        """What the table does not say: how it was timed, calibrated, scored; the int8 verdict."""
        lines = []
        timed = [t for t in self.targets if t.get("runs")]
        if timed:
            runs = sorted({t["runs"] for t in timed})
            unstable = [t["label"] for t in timed if not t["stable"]]
            lines.append(f"latency: forward only, batch 1, {self.onnx.imgsz}x{self.onnx.imgsz}, {self.threads} "
                         f"thread(s), this machine; median / p10 / p90 of {runs[0]}"
                         f"{'' if len(runs) == 1 else f'-{runs[-1]}'} runs after a warm-up, each target timed "
                         f"until its median's 95% interval is within +-{100 * CI_TARGET:g}%"
                         + (f" (not reached in the budget or the runs allowed: {', '.join(unstable)})"
                            if unstable else ""))
        if self.calibration:
            c = self.calibration
            lines.append(f"int8: {c['images']} calibration images ({c['data']}, {c['split']} split); QDQ, "
                         f"per-channel int8 weights, uint8 activations, MinMax; the head's decode tail "
                         f"({c['fp32_nodes']} nodes) kept fp32")
        if self.accuracy_data:
            a = self.accuracy_data
            lines.append(f"mAP: {a['images']} val images of {a['data']} at {self.onnx.imgsz} (conf 0.001, IoU 0.6)")
        for s in self.sensitivity:
            lines.append(f"int8 sensitivity: layer {s['layer']} ({s['type']}) alone in int8 -> mAP50 {s['score']:.3f}")
        return lines + [f"note: {n}" for n in self.notes]

    def text(self) -> str:
        lines = [self.onnx.summary()]
        if len(self.targets) > 1 or self.targets[0].get("median_ms") is not None:
            lines.append(self.table())
        return "\n".join(lines + self.details())


def _row(fmt: str, precision: str, path: str, nbytes: int, check: str) -> dict:
    label = {"onnx": "ONNX", "openvino": "OpenVINO", "ncnn": "NCNN"}[fmt] + f" {precision}"
    return {"format": fmt, "precision": precision, "label": label, "path": path, "bytes": int(nbytes),
            "check": check, "median_ms": None, "p10_ms": None, "p90_ms": None, "mAP50": None, "mAP50-95": None}


class _Runners:
    """One compiled session per target file, made when first needed and reused (checks, timing, mAP)."""

    def __init__(self, threads: int):
        self.threads, self._made = threads, {}

    def __call__(self, row: dict):
        path = row["path"]
        if path not in self._made:
            if row["format"] == "openvino":
                from .openvino_ir import compile_runner

                self._made[path] = compile_runner(path, self.threads)
            else:  # the session Measure times (latency.ort_session): same options, same numbers
                self._made[path] = ort_runner(path, self.threads)[0]
        return self._made[path]

    def put(self, path: str, run) -> None:
        self._made[path] = run


def _int8(res: ExportResult, meta: dict, opts: DeployOptions, cache: str, stride: int, runners: _Runners):
    """The int8 ONNX beside the fp32 one; -> (row, calibration dict, calibration reader)."""
    from .quantize import quantize_int8

    paths = calibration_paths(opts.data, opts.calib)
    reader = ImageReader(paths, res.imgsz, stride)
    dst = os.path.splitext(res.path)[0] + "-int8.onnx"
    try:
        info = quantize_int8(res.path, dst, reader, cache=cache)
    except (RuntimeError, ValueError) as err:
        raise ExportError(f"int8 quantisation failed: {str(err).strip().splitlines()[0][:200]}") from None
    proto = onnx.load(dst)
    write_onnx_metadata(proto, {**meta, "args": {**meta["args"], "int8": True}})
    onnx.save(proto, dst)
    onnx.checker.check_model(proto)
    reader.rewind()
    x = reader.get_next()
    row = _row("onnx", "int8", dst, os.path.getsize(dst), "")
    diff = float(np.abs(runners({"format": "onnx", "path": res.path})(x["images"]) - runners(row)(x["images"])).max())
    row["check"] = f"runs; max |diff| {diff:.3g} vs fp32 on a calibration image"
    calib = {"images": len(paths), "data": opts.data, "split": "train", "fp32_nodes": len(info["fp32_nodes"]),
             "qdq_pairs": info["qdq_pairs"]}
    return row, calib, reader


def _openvino(row: dict, meta: dict, compare, sizes, runners: _Runners) -> dict:
    """The IR of one ONNX target, compiled and compared with onnxruntime before it is written."""
    from .openvino_ir import PARITY_TOLERANCE, OpenVinoError, compare_runtimes, compile_runner, ir_folder, \
        read_onnx, save_ir

    int8 = row["precision"] == "int8"
    _, xml = ir_folder(row["path"])
    try:
        model = read_onnx(row["path"])
        run = compile_runner(model, runners.threads)
        diff = compare_runtimes(runners(row), run, compare, sizes)
    except OpenVinoError as err:
        raise ExportError(str(err)) from None
    if not int8 and not diff <= PARITY_TOLERANCE:
        raise ExportError(f"OpenVINO and onnxruntime differ by {diff:.2e} (limit {PARITY_TOLERANCE:g})")
    ir = save_ir(model, xml, {**meta, "args": {**meta["args"], "int8": int8}})
    runners.put(ir["path"], run)
    check = f"vs onnxruntime {row['precision']}: max |diff| {diff:.2e}" + ("" if int8 else " ok")
    return _row("openvino", row["precision"], ir["path"], ir["bytes"], check)


def deploy(loaded: Loaded, out: str, imgsz: int | None = None, dynamic: bool = False,
           opts: DeployOptions | None = None, log=None) -> DeployReport:
    """Export `loaded` to every target `opts` asks for, check each, measure them (module doc).
    Bad options and failed checks are ExportError (one line); bad data is a DataError."""
    opts = opts or DeployOptions()
    problem = opts.problem()
    if problem:
        raise ExportError(problem)
    say = log or (lambda _msg: None)
    fmt, threads = opts.format.lower(), int(opts.threads or cores())
    if not loaded.trained:
        say(f"note: {loaded.source} is a design, not a checkpoint: the weights are untrained")
    measure = opts.measure if opts.measure is not None else (opts.int8 or fmt != "onnx")
    evaluate_ = opts.evaluate if opts.evaluate is not None else (loaded.trained and measure)
    notes = []
    if opts.int8 or evaluate_:
        nc = load_data_config(opts.data)["nc"]  # a bad --data fails before anything is written
        if nc != loaded.model.nc and loaded.trained:
            why = f"{opts.data} has {nc} classes, the model {loaded.model.nc}"
            if opts.evaluate:
                raise ExportError(f"{why}: give the model's dataset with --data")
            evaluate_ = False
            notes.append(f"{why}: no mAP measured{', calibrated on it anyway' if opts.int8 else ''} "
                         "(give the model's dataset with --data)")
    res = export_onnx(loaded, out, imgsz, dynamic)
    model = loaded.model
    kind = head_kind(model)
    stride = int(model.stride.max()) if model.stride.numel() else 32
    meta = build_metadata(model, loaded.names, loaded.yaml, res.imgsz, dynamic)
    report, runners = DeployReport(onnx=res, threads=threads, notes=notes), _Runners(threads)
    report.targets.append(_row("onnx", "fp32", res.path, res.bytes,
                               f"vs PyTorch: max |diff| {res.max_abs_diff:.2e} ok"))
    reader = None
    with tempfile.TemporaryDirectory(prefix="yld-deploy-") as tmp:
        cache = os.path.join(tmp, "calib.json")
        if opts.int8:
            say(f"int8: calibrating on {opts.calib} images of {opts.data} ...")
            row, report.calibration, reader = _int8(res, meta, opts, cache, stride, runners)
            report.targets.append(row)
        if fmt == "openvino":
            say("OpenVINO: writing and checking the IR ...")
            report.targets += [_openvino(r, meta, kind.compare, res.checked_sizes, runners)
                               for r in list(report.targets)]
        if fmt == "ncnn":  # fp32 only: ncnn quantises with its own tools, not from QDQ (ncnn_target.py)
            from .ncnn_target import export_ncnn

            say("NCNN: converting with pnnx and checking against onnxruntime ...")
            nc = export_ncnn(res.path, meta, kind.compare, res.checked_sizes, runners(report.targets[0]), threads,
                             dynamic)
            runners.put(nc["path"], nc["run"])
            report.targets.append(_row("ncnn", "fp32", nc["path"], nc["bytes"], nc["check"]))
        if measure:
            say(f"timing {len(report.targets)} target(s), up to {opts.runs} runs or {TIMING_BUDGET_S:g} s each ...")
            x = random_image(model, res.imgsz)
            for t in report.targets:
                t.update(time_runner(runners(t), x, threads, TIMING_BUDGET_S, int(opts.runs)))
                t["warmup"] = t["warmup_runs"]  # the key rows had before the loop was shared
        if evaluate_:
            _accuracy(report, loaded, opts, kind, runners, reader, cache, say)
    return report


def _accuracy(report: DeployReport, loaded: Loaded, opts: DeployOptions, kind, runners: _Runners, reader, cache, say):
    ds = val_set(opts.data, report.onnx.imgsz, opts.val_images)
    report.accuracy_data = {"data": opts.data, "images": len(ds), "split": "val"}
    say(f"mAP on {len(ds)} val images ...")
    for t in report.targets:
        t.update({k: v for k, v in evaluate(runners(t), kind, ds).items() if k in ("mAP50", "mAP50-95")})
    fp32, q = report.targets[0], next((t for t in report.targets if t["label"] == "ONNX int8"), None)
    if q is None:
        return
    loss = fp32["mAP50"] - q["mAP50"]
    if loss <= MAX_MAP50_LOSS and not opts.sensitivity:
        return
    if loss > MAX_MAP50_LOSS:
        report.notes.append(f"int8 costs {100 * loss:.1f} points of mAP50 (more than {100 * MAX_MAP50_LOSS:.0f})")
    if opts.sensitivity is False:
        return
    from .quantize import layer_sensitivity

    say("int8: quantising one layer at a time to find the sensitive ones ...")
    def score(path: str) -> float:
        return evaluate(ort_runner(path, runners.threads)[0], kind, ds)["mAP50"]

    rows = layer_sensitivity(fp32["path"], reader, score, cache=cache)
    for r in rows:
        r["type"] = getattr(loaded.model.model[r["layer"]], "type", "?")
        r["loss"] = round(fp32["mAP50"] - r["score"], 5)
    report.sensitivity = rows
    if rows:
        report.notes.append("most sensitive layers in int8: " + ", ".join(
            f"{r['layer']} ({r['type']}, -{100 * r['loss']:.1f} points alone)" for r in rows[:3]))
