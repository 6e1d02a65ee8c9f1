"""The Export tab: ONNX of the current design (deploy form, checked against onnxruntime), the export
pack, and Netron's viewer embedded in the page for the exported file."""
from __future__ import annotations

import os
import shutil
import tempfile
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

from .handlers import safe_name
from .server import STORE
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
            f'BatchNorm folded, RepVGG re-parameterised.</div></div>')


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
    name = design.get("name", "model")
    try:
        loaded = load_design(design["yaml"], int(imgsz or 640), name)
        token, folder = STORE.new()
        try:
            result = export_onnx(loaded, os.path.join(folder, "model.onnx"), int(imgsz or 640), bool(dynamic))
        except Exception:
            STORE.release(token)
            raise
    except (SpecError, ExportError, CheckpointError, ValueError) as err:
        return error_html(f"export failed: {err}"), gr.skip(), gr.skip(), old_token
    STORE.release(old_token)  # re-exporting replaces the view; the old folder goes
    download = os.path.join(folder, f"{safe_name(name)}.onnx")  # goes with the export's folder
    if download != result.path:
        shutil.copyfile(result.path, download)
    return _status_html(result, name), download, viewer_html(token), token


def do_pack(design: dict, imgsz):
    try:
        spec = source(text=design["yaml"], name=design.get("name", "model")).spec
        data = export_pack(resolve(spec, int(imgsz or 640)), design["yaml"])
    except SpecError as err:
        return error_html(f"pack failed: {err}"), gr.skip()
    path = os.path.join(tempfile.mkdtemp(prefix="yld-pack-"), f"{safe_name(design.get('name', 'model'))}-pack.zip")
    with open(path, "wb") as fh:
        fh.write(data)
    return error_html(""), path


def build_export_tab(design_state: gr.State):
    token = gr.State(None, delete_callback=STORE.release, time_to_live=6 * 3600)
    gr.Markdown("Export the design on the Design tab: the deploy form (BatchNorm folded, RepVGG "
                "re-parameterised), checked with `onnx.checker` and against onnxruntime before it is offered.")
    with gr.Row():
        imgsz = gr.Number(640, label="Export image size", precision=0, minimum=32, maximum=4096, step=32)
        dynamic = gr.Checkbox(False, label="Dynamic batch / height / width")
        go = gr.Button("Export ONNX", variant="primary", elem_id="export-onnx")
        pack = gr.Button("Export pack (yaml + blocks module + README)", elem_id="export-pack")
    status = gr.HTML(error_html(""), elem_id="export-status")
    with gr.Row():
        onnx_file = gr.File(label="ONNX", elem_id="onnx-file", interactive=False)
        pack_file = gr.File(label="Export pack", elem_id="pack-file", interactive=False)
    with gr.Accordion("View in Netron", open=True):
        netron = gr.HTML(viewer_html(None), elem_id="netron")
    go.click(do_export, [design_state, imgsz, dynamic, token], [status, onnx_file, netron, token],
             api_visibility="private")
    pack.click(do_pack, [design_state, imgsz], [status, pack_file], api_visibility="private")
