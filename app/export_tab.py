"""The Export tab: ONNX of the current design (deploy form, simplified, checked against onnxruntime), the
export pack, the INT8 / OpenVINO panel (app/export_deploy.py), and Netron's viewer embedded in the page
for the exported file. The ONNX check and the pack each keep their own panel (one never wipes the
other); errors go to a message line, and a bad image size is said next to its field."""
from __future__ import annotations

import io
import os
import shutil
import tempfile
import zipfile
from html import escape

import gradio as gr

from engine.checkpoint import CheckpointError
from engine.deploy import viewer
from engine.deploy.export import ExportError, export_onnx
from engine.deploy.pack import export_pack
from engine.loading import load_design
from graph.errors import SpecError
from graph.resolve import resolve
from graph.source import source

from .export_deploy import build_deploy_panel
from .handlers import safe_name
from .server import STORE
from .train_views import field_note, number_problem
from .views import error_html


def _status_html(result, name: str) -> str:
    checked = ", ".join(f"{h}×{w}" for h, w in result.checked_sizes)
    return (f'<div class="yld-summary" id="export-result"><div class="yld-stats">'
            f'<div class="yld-stat"><div class="yld-label">File</div><div class="yld-value">{escape(name)}.onnx</div></div>'
            f'<div class="yld-stat"><div class="yld-label">Size</div><div class="yld-value">{result.bytes / 2**20:.2f} MB</div></div>'
            f'<div class="yld-stat"><div class="yld-label">Parameters (fused)</div><div class="yld-value">{result.params:,}</div></div>'
            f'<div class="yld-stat"><div class="yld-label">Check</div><div class="yld-value" id="export-check">passed</div></div>'
            f'</div><div class="yld-note">onnx.checker passed; onnxruntime matches PyTorch within '
            f'{result.max_abs_diff:.1e} (limit 1e-3) at {checked}; opset 18, input <code>images</code>, output '
            f'<code>output0</code>, {escape(result.head)} head{", dynamic batch / height / width" if result.dynamic else ""}; '
            f'BatchNorm folded, RepVGG re-parameterised; <span id="export-nodes">{escape(result.nodes_line())}</span>; '
            f'metadata: {escape(", ".join(result.metadata))}.</div></div>')


def viewer_html(token: str | None) -> str:
    usable, message = viewer.status()
    if not token:
        return '<div class="yld-note" id="netron-empty">Export the design to see its ONNX graph here.</div>'
    if not usable:
        return f'<div class="yld-error" id="netron-unavailable">{escape(message)}</div>'
    return (f'<div class="yld-note">{escape(message)}, served by this app with its telemetry cut out: it asks '
            f'no cookie question and sends nothing off this machine.</div>'
            f'<iframe id="netron-frame" src="/netron/index.html?token={token}" title="Netron" '
            f'style="width:100%;height:720px;border:1px solid #e2e8f0;border-radius:10px"></iframe>')


def do_export(design: dict, imgsz, dynamic: bool, old_token: str | None):
    """-> (status html, onnx path, viewer html, token). Errors leave the previous export in place."""
    ok, status, download, view, token = _export(design, imgsz, dynamic, old_token)
    return (status if ok else error_html(status)), download, view, token


def _export(design: dict, imgsz, dynamic: bool, old_token: str | None):
    """-> (ok, status html or error line, onnx path, viewer html, token)."""
    name = design.get("name", "model")
    problem = size_problem(imgsz)
    if problem:
        return False, problem, gr.skip(), gr.skip(), old_token
    try:
        loaded = load_design(design["yaml"], int(imgsz), name)
        token, folder = STORE.new()
        try:
            result = export_onnx(loaded, os.path.join(folder, "model.onnx"), int(imgsz), bool(dynamic))
        except Exception:
            STORE.release(token)
            raise
    except (SpecError, ExportError, CheckpointError, ValueError) as err:
        return False, f"export failed: {err}", gr.skip(), gr.skip(), old_token
    STORE.release(old_token)  # re-exporting replaces the view; the old folder goes
    download = os.path.join(folder, f"{safe_name(name)}.onnx")  # goes with the export's folder
    if download != result.path:
        shutil.copyfile(result.path, download)
    return True, _status_html(result, name), download, viewer_html(token), token


def export_clicked(design: dict, imgsz, dynamic: bool, old_token: str | None):
    """The Export ONNX button: the ONNX panel (kept as it was when this export fails), the file, the
    viewer, the token, and the message line."""
    ok, status, download, view, token = _export(design, imgsz, dynamic, old_token)
    return (status if ok else gr.skip()), download, view, token, error_html("" if ok else status)


def size_problem(imgsz) -> str:
    return number_problem("Export image size", imgsz, 32, 4096, 32)


def size_note(imgsz) -> str:
    """The quiet check of the image size, shown next to the field (no toast)."""
    problem = size_problem(imgsz)
    return field_note([problem] if problem else [], "export-size-msg")


def _pack_html(path: str, data: bytes) -> str:
    """What the pack holds, in its own panel (the ONNX panel stays as it is)."""
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        files = ", ".join(f"{escape(i.filename)} ({i.file_size / 1024:.1f} KB)" for i in z.infolist())
    return (f'<div class="yld-summary" id="pack-result"><div class="yld-stats"><div class="yld-stat">'
            f'<div class="yld-label">Export pack</div><div class="yld-value">{escape(os.path.basename(path))}'
            f'</div></div><div class="yld-stat"><div class="yld-label">Size</div><div class="yld-value">'
            f'{len(data) / 1024:.1f} KB</div></div></div><div class="yld-note">{files}: the yaml, a standalone '
            f'module of the blocks it uses, and a README on registering them in YOLOv5 / Ultralytics.</div></div>')


def do_pack(design: dict, imgsz):
    """-> (message html, pack path, pack panel html)."""
    problem = size_problem(imgsz)
    if problem:
        return error_html(problem), gr.skip(), gr.skip()
    try:
        spec = source(text=design["yaml"], name=design.get("name", "model")).spec
        data = export_pack(resolve(spec, int(imgsz)), design["yaml"])
    except SpecError as err:
        return error_html(f"pack failed: {err}"), gr.skip(), gr.skip()
    path = os.path.join(tempfile.mkdtemp(prefix="yld-pack-"), f"{safe_name(design.get('name', 'model'))}-pack.zip")
    with open(path, "wb") as fh:
        fh.write(data)
    return error_html(""), path, _pack_html(path, data)


def build_export_tab(design_state: gr.State):
    token = gr.State(None, delete_callback=STORE.release, time_to_live=6 * 3600)
    gr.Markdown("Export the design on the Design tab: the deploy form (BatchNorm folded, RepVGG "
                "re-parameterised), checked with `onnx.checker` and against onnxruntime before it is offered.")
    with gr.Row():
        with gr.Column(scale=1, min_width=200):
            imgsz = gr.Number(640, label="Export image size", precision=0, step=32, elem_id="export-imgsz")
            size_msg = gr.HTML(size_note(640), elem_id="export-size")  # no minimum / maximum: checked quietly
        dynamic = gr.Checkbox(False, label="Dynamic batch / height / width")
        go = gr.Button("Export ONNX", variant="primary", elem_id="export-onnx")
        pack = gr.Button("Export pack (yaml + blocks module + README)", elem_id="export-pack")
    message = gr.HTML(error_html(""), elem_id="export-message")
    with gr.Row(equal_height=False):
        status = gr.HTML("", elem_id="export-status")
        pack_status = gr.HTML("", elem_id="pack-status")
    with gr.Row():
        onnx_file = gr.File(label="ONNX", elem_id="onnx-file", interactive=False)
        pack_file = gr.File(label="Export pack", elem_id="pack-file", interactive=False)
    build_deploy_panel(design_state, imgsz)
    with gr.Accordion("View in Netron", open=True):
        netron = gr.HTML(viewer_html(None), elem_id="netron")
    private = {"api_visibility": "private"}
    imgsz.change(size_note, [imgsz], [size_msg], show_progress="hidden", **private)
    go.click(export_clicked, [design_state, imgsz, dynamic, token], [status, onnx_file, netron, token, message],
             **private)
    pack.click(do_pack, [design_state, imgsz], [message, pack_file, pack_status], **private)
