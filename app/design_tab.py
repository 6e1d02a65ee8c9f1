"""The Design tab: pickers, live numbers, the graph, the per-layer table, the yaml editor, compare.

Functions first (the handlers, module level, plain data in and out: tested without a browser), then
the layout, then the wiring; the "Edit blocks" accordion is app/edit_panel.py. The handlers call
app/handlers.py for the design's pure functions.
Per-session state (gr.State) is plain data: the last good yaml text with its counts, and the pins.
A picker or preset change hands evaluate the graph/source.Source it made (no yaml text parsed back);
the yaml text shown is the one evaluate wrote for it."""
from __future__ import annotations

import os

import gradio as gr

from graph.catalog import catalog
from graph.errors import SpecError
from graph.source import source

from . import handlers as h
from .paths import PathRefused, client_file
from .views import error_html, summary_html

SCALES = ["n", "s", "m", "l", "x"]


def _choices(rows: list[dict]) -> list[tuple[str, str]]:
    return [(f"{r['name']} — {r['summary']} [{r['source']}]", r["name"]) for r in rows]


def _outputs_for(result: dict, text: str, state: dict, imgsz: int):
    """Everything the page shows for a good design, and the new state."""
    change = h.change_note(result["counts"], state.get("counts") if state else None)
    new_state = {**(state or {}), "yaml": text, "counts": result["counts"], "name": result["name"]}
    return (summary_html(result, change, imgsz), result["svg"], result["table"], error_html(""),
            h.write_yaml_file(text, result["name"]), new_state)


def on_picks(b, n, hd, sc, k, size, st):
    """A picker changed: compose, count, show; a composition that does not resolve keeps the page."""
    try:
        result = h.evaluate(h.picks_source(b, n, hd, sc, int(k or 80)), int(size or 640))
    except SpecError as err:
        result = {"ok": False, "error": str(err)}
    if not result["ok"]:
        return (gr.skip(),) * 4 + (error_html(result["error"]), gr.skip(), gr.skip())
    return (result["yaml"], *_outputs_for(result, result["yaml"], st, int(size or 640)))


def on_preset(name, k, size, st):
    """A preset was picked: its pickers (when it has them), its yaml and numbers."""
    src = source(preset=name, nc=int(k or 80))
    result = h.evaluate(src, int(size or 640))
    if not result["ok"]:
        return (gr.skip(),) * 8 + (error_html(result["error"]), gr.skip(), gr.skip())
    keep = gr.skip()
    p = src.picks or {}
    return (p.get("backbone", keep), p.get("neck", keep), p.get("head", keep), p.get("scale", keep), result["yaml"],
            *_outputs_for(result, result["yaml"], st, int(size or 640)))


def on_yaml(text, size, st):
    """The yaml was edited: a good design replaces the page's; a bad one keeps it and says why."""
    result = h.evaluate(text or "", int(size or 640), (st or {}).get("name", "model"))
    if not result["ok"]:
        return (gr.skip(),) * 3 + (error_html(result["error"]), gr.skip(), gr.skip())
    return _outputs_for(result, text, st, int(size or 640))


def on_upload(file, size, st):
    """A yaml file was uploaded (only a real upload is read: app/paths.py)."""
    try:
        path = client_file(file, "yaml upload")
        text = h.read_upload(path)
    except (SpecError, PathRefused) as err:
        return (gr.skip(),) * 4 + (error_html(str(err)), gr.skip(), gr.skip())
    stem = os.path.splitext(os.path.basename(path))[0]
    return (text, *on_yaml(text, size, {**(st or {}), "name": h.safe_name(stem)}))


def render_pins(pins):
    """(table rows, scatter frame, the unpin dropdown, compare.csv) of the pinned designs."""
    import pandas as pd

    rows = [[p[c] for c in h.PIN_COLUMNS] for p in pins]
    frame = pd.DataFrame({"name": [p["name"] for p in pins], "params (M)": [p["params"] / 1e6 for p in pins],
                          "GFLOPs": [p["GFLOPs"] for p in pins]})
    names = [p["name"] for p in pins]
    return (rows, frame, gr.update(choices=names, value=names[-1] if names else None),
            h.pins_csv(pins) if pins else None)


def on_pin(st):
    """Pin the current design (a repeated name gets ' (2)', ' (3)' ...)."""
    result = h.evaluate(st["yaml"], 640, st.get("name", "model"))
    pins = list(st.get("pins", []))
    label, k = result["name"], 2
    while any(p["name"] == label for p in pins):
        label, k = f"{result['name']} ({k})", k + 1
    pins.append(h.pin_row(result, label))
    return (*render_pins(pins), {**st, "pins": pins})


def on_unpin(name, st):
    pins = [p for p in st.get("pins", []) if p["name"] != name]
    return (*render_pins(pins), {**st, "pins": pins})


def build_design_tab():
    cat = catalog()
    src = source(preset=h.DEFAULT_PRESET)
    first = h.evaluate(src, 640)
    picks, text = src.picks, first["yaml"]
    state0 = {"yaml": text, "counts": first["counts"], "name": first["name"], "pins": []}

    state = gr.State(state0)
    with gr.Row(equal_height=False):
        with gr.Column(scale=1, min_width=320):
            preset = gr.Dropdown(_choices(cat["presets"]), value=h.DEFAULT_PRESET, label="Preset")
            backbone = gr.Dropdown(_choices(cat["backbones"]), value=picks["backbone"], label="Backbone")
            neck = gr.Dropdown(_choices(cat["necks"]), value=picks["neck"], label="Neck")
            head = gr.Dropdown(_choices(cat["heads"]), value=picks["head"], label="Head")
            with gr.Row():
                scale = gr.Radio(SCALES, value=picks["scale"], label="Scale")
            with gr.Row():
                nc = gr.Number(80, label="Classes", precision=0, minimum=1, maximum=10000)
                imgsz = gr.Number(640, label="Image size", precision=0, minimum=32, maximum=4096, step=32)
        with gr.Column(scale=3):
            summary = gr.HTML(summary_html(first, "", 640), elem_id="summary")
            graph = gr.HTML(first["svg"], elem_id="graph")
    with gr.Row(equal_height=False):
        with gr.Column(scale=1):
            yaml_box = gr.Code(text, language="yaml", label="Model yaml (edit freely: it re-validates as you type)",
                               interactive=True, elem_id="yaml", max_lines=40)
            yaml_error = gr.HTML(error_html(""), elem_id="yaml-error")
            with gr.Row():
                download = gr.DownloadButton("Download yaml", value=h.write_yaml_file(text, first["name"]),
                                             elem_id="download-yaml")
                upload = gr.UploadButton("Upload yaml", file_types=[".yaml", ".yml", ".txt"], elem_id="upload-yaml")
        with gr.Column(scale=1):
            table = gr.Dataframe(first["table"], headers=h.TABLE_HEADERS, label="Layers", interactive=False,
                                 wrap=True, elem_id="layers", max_height=620)
    design_outputs = [summary, graph, table, yaml_error, download, state]
    from .edit_panel import build_edit_panel  # here: edit_panel imports this module's _outputs_for

    build_edit_panel(state, imgsz, yaml_box, design_outputs)
    with gr.Accordion("Compare designs", open=False):
        with gr.Row():
            pin = gr.Button("Pin current design", elem_id="pin")
            unpin_name = gr.Dropdown([], label="Pinned", interactive=True, allow_custom_value=False)
            unpin = gr.Button("Remove pin")
            csv = gr.DownloadButton("Download CSV", value=None, elem_id="compare-csv")
        compare_table = gr.Dataframe(headers=h.PIN_COLUMNS, interactive=False, elem_id="compare")
        scatter = gr.ScatterPlot(x="params (M)", y="GFLOPs", color="name", label="params vs GFLOPs",
                                 elem_id="compare-plot")

    for picker in (backbone, neck, head, scale, nc, imgsz):
        picker.input(on_picks, [backbone, neck, head, scale, nc, imgsz, state], [yaml_box, *design_outputs],
                     trigger_mode="always_last", show_progress="hidden", api_visibility="private")
    preset.input(on_preset, [preset, nc, imgsz, state], [backbone, neck, head, scale, yaml_box, *design_outputs],
                 show_progress="hidden", api_visibility="private")
    yaml_box.input(on_yaml, [yaml_box, imgsz, state], design_outputs, trigger_mode="always_last",
                   show_progress="hidden", api_visibility="private")
    upload.upload(on_upload, [upload, imgsz, state], [yaml_box, *design_outputs], api_visibility="private")
    pin.click(on_pin, [state], [compare_table, scatter, unpin_name, csv, state], api_visibility="private")
    unpin.click(on_unpin, [unpin_name, state], [compare_table, scatter, unpin_name, csv, state],
                api_visibility="private")
    return state
