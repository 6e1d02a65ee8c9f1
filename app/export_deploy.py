"""The Export tab's "INT8, OpenVINO and NCNN, measured" panel: the design, the demo model or a trained run
exported to the clean fp32 ONNX and, as picked, its static INT8 (QDQ) form and the OpenVINO IR of each,
or the NCNN .param/.bin of the fp32 one (engine/deploy/targets.deploy), then a table of every file: size, latency on this machine (median /
p90, threads stated) and, for a trained model, mAP50 / mAP50-95 on the val split of its dataset, with
each file's check. The files come back for download (an IR folder as a zip). Errors go to the panel's
message line and leave the last table in place. The export runs in a child process
(engine/deploy/isolated.py, one at a time): if it crashes or hangs the message line says so and the
server goes on."""
from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import asdict
from html import escape

import gradio as gr

from engine.checkpoint import CheckpointError, read_checkpoint
from engine.data.config import DataError
from engine.deploy.isolated import IsolatedError, Job, run_isolated
from engine.deploy.options import DeployOptions
from engine.deploy.page_jobs import DEPLOY

from . import settings
from .choices import DEMO, DESIGN, UPLOADED, demo_path, model_choices
from .handlers import safe_name
from .paths import PathRefused, run_file
from .train_views import number_problem
from .views import error_html

FORMATS = {"ONNX": "onnx", "ONNX + OpenVINO IR": "openvino", "ONNX + NCNN": "ncnn"}
HEADERS = ["target", "size MB", "median ms", "p90 ms", "mAP50", "mAP50-95", "check"]
DEPLOY_JOB = Job("Export", "the export process", "try again or pick fewer formats", timeout_s=1800,
                 preload=("engine.deploy.page_jobs", "engine.deploy.targets", "engine.loading", "onnxruntime"))


def deploy_choices() -> list[tuple[str, str]]:
    """The models this panel exports: the current design, the demo, every run's checkpoint."""
    return [c for c in model_choices() if c[1] != UPLOADED]


def _source(design: dict, choice: str) -> tuple[dict, str]:
    """What the export job loads ({"yaml", "name"} of the design, or {"path"} of a checkpoint) and its name."""
    if choice == DESIGN or not choice:
        return {"yaml": design["yaml"], "name": design.get("name", "model")}, design.get("name", "model")
    path = demo_path() if choice == DEMO else run_file(choice, "checkpoint")
    return {"path": path}, os.path.splitext(os.path.basename(path))[0]


def _data(text: str) -> str:
    text = (text or "").strip() or "shapes"
    if text.lower() == "shapes":
        return "shapes"
    if not settings.current().data_path_allowed(text):
        raise DataError(f"{text!r} is outside the dataset folders this server was started with (--data-root)")
    return text


def _files(targets: list[dict]) -> list[str]:
    """The files to download: each ONNX as it is, each OpenVINO or NCNN folder as one zip."""
    out = []
    for t in targets:
        if t["format"] in ("openvino", "ncnn"):
            folder = os.path.dirname(t["path"])
            out.append(shutil.make_archive(folder, "zip", os.path.dirname(folder), os.path.basename(folder)))
        else:
            out.append(t["path"])
    return out


def _notes_html(lines: list[str], name: str) -> str:
    items = "".join(f"<li>{escape(line)}</li>" for line in lines if line)
    return f'<div class="yld-note" id="deploy-notes"><b>{escape(name)}</b><ul>{items}</ul></div>'


def run_deploy(design: dict, choice: str, imgsz, fmt: str, int8: bool, calib, data: str):
    """-> (table rows, notes html, files, message html); on an error the table and notes stay."""
    problem = number_problem("Export image size", imgsz, 32, 4096, 32) or number_problem(
        "Calibration images", calib, 1, 10000)
    if problem:
        return gr.skip(), gr.skip(), gr.skip(), error_html(problem)
    opts = DeployOptions(format=FORMATS.get(fmt, str(fmt)), int8=bool(int8), calib=int(calib), measure=True)
    try:
        opts.data = _data(data)
        problem = opts.problem()
        if problem:
            raise ValueError(problem)
        source, name = _source(design, choice)
        folder = tempfile.mkdtemp(prefix="yld-deploy-")
        report = run_isolated(DEPLOY, {"out": os.path.join(folder, f"{safe_name(name)}.onnx"), "imgsz": int(imgsz),
                                       "options": asdict(opts), **source}, DEPLOY_JOB)
    except (DataError, PathRefused, ValueError) as err:
        return gr.skip(), gr.skip(), gr.skip(), error_html(f"export failed: {err}")
    except IsolatedError as err:
        return gr.skip(), gr.skip(), gr.skip(), error_html(str(err))
    if "error" in report:
        return gr.skip(), gr.skip(), gr.skip(), error_html(f"export failed: {report['error']}")
    rows = [[t["label"], round(t["bytes"] / 2**20, 2), t["median_ms"], t["p90_ms"], t["mAP50"], t["mAP50-95"],
             t["check"]] for t in report["targets"]]
    return rows, _notes_html(report["notes"], name), _files(report["targets"]), error_html("")


def trained_size(choice: str):
    """Picking a checkpoint sets the image size to the one it was trained at."""
    if choice in (DESIGN, UPLOADED, None, ""):
        return gr.skip()
    try:
        data = read_checkpoint(demo_path() if choice == DEMO else run_file(choice, "checkpoint"))
    except (CheckpointError, PathRefused):
        return gr.skip()
    return gr.update(value=data["imgsz"])


def build_deploy_panel(design_state: gr.State, imgsz: gr.Number):
    with gr.Accordion("INT8, OpenVINO and NCNN, measured on this machine", open=False, elem_id="deploy-panel"):
        gr.Markdown("Exports the model picked here at the export image size: the clean ONNX and, as picked, its "
                    "static INT8 form (onnxruntime quantisation: QDQ, per-channel weights, calibrated on the "
                    "dataset's train images) and the OpenVINO IR of each, or the NCNN files (fp32; ncnn "
                    "quantises with its own tools). Every file is checked, then timed here; "
                    "a trained model is also scored (mAP on the dataset's val images). Takes a minute or more.")
        with gr.Row():
            model = gr.Dropdown(deploy_choices(), value=DESIGN, label="Model", elem_id="deploy-model",
                                allow_custom_value=True)
            fmt = gr.Radio(list(FORMATS), value="ONNX + OpenVINO IR", label="Formats", elem_id="deploy-format")
            int8 = gr.Checkbox(True, label="INT8 (static, QDQ)", elem_id="deploy-int8")
        with gr.Row():
            calib = gr.Number(64, label="Calibration images", precision=0, elem_id="deploy-calib")
            data = gr.Textbox("shapes", label="Dataset: shapes (built in) or a data.yaml on the server",
                              elem_id="deploy-data")
            go = gr.Button("Export and measure", variant="primary", elem_id="deploy-go")
        message = gr.HTML(error_html(""), elem_id="deploy-message")
        table = gr.Dataframe(headers=HEADERS, interactive=False, label="Targets", elem_id="deploy-table")
        notes = gr.HTML("", elem_id="deploy-notes-box")
        files = gr.File(label="Files", file_count="multiple", interactive=False, elem_id="deploy-files")
    private = {"api_visibility": "private"}
    model.focus(lambda: gr.update(choices=deploy_choices()), None, [model], **private)
    model.change(trained_size, [model], [imgsz], show_progress="hidden", **private)
    # one export at a time for the whole server: each one times its files on every core
    go.click(run_deploy, [design_state, model, imgsz, fmt, int8, calib, data], [table, notes, files, message],
             concurrency_limit=1, concurrency_id="deploy", **private)
