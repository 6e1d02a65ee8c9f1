"""The Design tab: pickers, live numbers, the graph, the per-layer table, the yaml editor, compare.

Functions first (the handlers, module level, plain data in and out: tested without a browser), then
the layout, then the wiring; the "Edit blocks" accordion is app/edit_panel.py, the layer inspector under
the pickers app/inspector.py. The handlers call
app/handlers.py for the design's pure functions.
Per-session state (gr.State) is plain data: the last good yaml text with its counts, and the pins.
A picker or preset change hands evaluate the graph/source.Source it made (no yaml text parsed back);
the yaml text shown is the one evaluate wrote for it. A change sends only what changed (the graph and the
layer table, app/layer_table.py, when they differ from what the page shows; the yaml file is written when
Download asks), through events wired to skip Gradio's queue (app/light.py)."""
from __future__ import annotations

import os
from html import escape

import gradio as gr

from graph.catalog import catalog
from graph.errors import SpecError
from graph.source import source
from graph.spec import parse
from graph.yamlfix import repair

from . import handlers as h
from .charts import scatter_chart
from .graph_view import graph_component
from .layer_table import table_component, table_html
from .light import LIGHT, next_rev, publish
from .measure_panel import (build_latency_plot, build_measure_panel, latency_columns, measured_ms, measured_svg,
                            wire_measure_panel)
from .paths import PathRefused, client_file
from .pickers import about, choices, nc_problem, numbers_note, size_problem, wire_about
from .views import error_html, summary_html

SCALES = ["n", "s", "m", "l", "x"]
SHOWN = 5  # what _outputs_for returns: summary, graph, layer table, yaml error line, state


def _choices(rows: list[dict]) -> list[tuple[str, str]]:
    return choices(rows)


def origin_html(st: dict) -> str:
    """Where the current design came from, and whether it was edited since (the pickers may not show it)."""
    origin = (st or {}).get("origin") or {}
    label = origin.get("label", "")
    edited = bool(label) and st.get("yaml") != origin.get("yaml")
    if not label:
        return ""
    text = f"{label}, edited" if edited else label
    hint = "" if origin.get("picks") and not edited else " (the pickers show the last picks, not this design)"
    return (f'<div class="yld-origin" id="design-origin" data-edited="{str(edited).lower()}">'
            f'Design: {escape(text)}{escape(hint)}</div>')


def _edited(st: dict) -> bool:
    origin = (st or {}).get("origin") or {}
    return bool(origin) and st.get("yaml") != origin.get("yaml")


def _outputs_for(result: dict, text: str, state: dict, imgsz: int, message: str = ""):
    """Everything the page shows for a good design, and the new state: (summary, graph, table, yaml error,
    state). The graph and the table go only when they differ from what the page shows (the state keeps a
    digest of each: a comment typed in the yaml, or the same design again, sends neither)."""
    change = h.change_note(result["counts"], state.get("counts") if state else None)
    table = table_html(result["table"], extra=latency_columns(state, text, imgsz))  # ms / time % once measured
    svg = measured_svg(result, state, text, imgsz)  # with time-share bars once measured
    drawn = [hash(svg), hash(table)]
    shown = (state or {}).get("drawn") or [None, None]
    new_state = {**(state or {}), "yaml": text, "counts": result["counts"], "name": result["name"], "nc": result["nc"],
                 "imgsz": imgsz, "drawn": drawn, "rev": next_rev(state)}
    return (summary_html(result, change, imgsz) + origin_html(new_state),
            gr.skip() if drawn[0] == shown[0] else svg, gr.skip() if drawn[1] == shown[1] else table,
            error_html(message), new_state)


def _kept(lead: int, message: str) -> tuple:
    """A change the page refuses: `lead` outputs left as they are, the yaml error line says why, the state
    stays."""
    return (gr.skip(),) * lead + (error_html(message), gr.skip())


def _preset_box(st: dict) -> str | None:
    """The preset the Preset box shows: the one the design came from, else none."""
    label = ((st or {}).get("origin") or {}).get("label", "")
    return label[len("from preset "):] if label.startswith("from preset ") else None


def _replace(st: dict, label: str, what: str, text: str) -> tuple[dict, str]:
    """The state for the design `text` (from `label`) that replaces the current one. An edited design
    goes onto the Edit panel's undo list, so nothing is lost, and the message says so."""
    st = dict(st or {})
    message = ""
    if _edited(st) and st.get("yaml") != text:
        entry = {"yaml": st["yaml"], "label": f"edited design ({st['origin']['label']}) replaced by {what}",
                 "origin": st["origin"]}
        st["undo"] = (list(st.get("undo", [])) + [entry])[-50:]
        st["redo"] = []
        message = "replaced your edited design — Undo brings it back"
    st["origin"] = {"label": label, "yaml": text}
    return st, message


def _with_note(result: dict, note: str) -> dict:
    return {**result, "notes": [note, *result["notes"]]} if note else result


def on_picks(b, n, hd, sc, k, size, st):
    """A picker changed: compose, count, show; a composition that does not resolve keeps the page.
    A scale the last preset set (not the user) is named in the notes. The pickers as they were (the state's
    `picks`) change nothing: Gradio 6's dropdown fires `input` on blur too, after a pick (which fired it
    already) and when it closes with no pick."""
    picks = {"backbone": b, "neck": n, "head": hd, "scale": sc}
    if (st or {}).get("picks") == picks:
        return _kept(4, "")
    try:
        result = h.evaluate(h.picks_source(b, n, hd, sc, int(k or 80)), int(size or 640))
    except SpecError as err:
        result = {"ok": False, "error": str(err)}
    if not result["ok"]:
        return _kept(4, result["error"])
    by = (st or {}).get("scale_by")
    result = _with_note(result, f"scale {sc} (set by preset {by[0]})" if by and by[1] == sc else "")
    new, message = _replace(st, "composed from picks", "picks", result["yaml"])
    new["origin"]["picks"], new["picks"] = True, picks
    return (result["yaml"], *_outputs_for(result, result["yaml"], new, int(size or 640), message))


def on_scale(b, n, hd, sc, k, size, st):
    """The user picked a scale: from now on it is theirs, not the preset's (the radio fires only on a new
    value, so the design is composed even when the picks look unchanged)."""
    return on_picks(b, n, hd, sc, k, size, {**(st or {}), "scale_by": None, "picks": None})


def on_preset(name, k, size, st):
    """A preset was picked: its pickers (when it has them), its yaml and numbers. The preset the box
    showed already changes nothing (the dropdown's `input` on blur, as in on_picks)."""
    if name == _preset_box(st):
        return _kept(8, "")
    try:
        src = source(preset=name, nc=int(k or 80))
    except SpecError as err:  # not a preset (the handler takes the raw value: app/light.py)
        return _kept(8, str(err))
    result = h.evaluate(src, int(size or 640))
    if not result["ok"]:
        return _kept(8, result["error"])
    keep = gr.skip()
    p = src.picks or {}
    new, message = _replace(st, f"from preset {name}", f"preset {name}", result["yaml"])
    new["origin"]["picks"] = bool(p)
    new["scale_by"] = [name, p["scale"]] if p.get("scale") else (st or {}).get("scale_by")
    new["picks"] = {key: p[key] for key in ("backbone", "neck", "head", "scale")} if p else (st or {}).get("picks")
    return (p.get("backbone", keep), p.get("neck", keep), p.get("head", keep), p.get("scale", keep),
            result["yaml"],
            *_outputs_for(result, result["yaml"], new, int(size or 640), message))


def _repaired(text: str, result: dict) -> str:
    """The text as repaired in place when parsing had to repair it (so the editor and downloads hold valid
    yaml), else the text itself."""
    if not any(n.startswith("repaired pasted yaml") for n in result.get("notes", [])):
        return text
    fixed = repair(text)[0]
    return fixed if not any(n.startswith("repaired") for n in parse(fixed)[1]) else text


def on_yaml(text, size, st):
    """The yaml was edited: a good design replaces the page's (text a paste damaged is repaired in the
    editor, with a note of what was repaired); a bad one keeps it and says why.
    Out: the editor (skipped unless repaired), then the design outputs."""
    result = h.evaluate(text or "", int(size or 640), (st or {}).get("name", "model"))
    if not result["ok"]:
        return _kept(4, result["error"])
    fixed = _repaired(text, result)
    return (fixed if fixed != text else gr.skip(), *_outputs_for(result, fixed, st, int(size or 640)))


def on_upload(file, size, st):
    """A yaml file was uploaded (only a real upload is read: app/paths.py)."""
    try:
        path = client_file(file, "yaml upload")
        text = h.read_upload(path)
    except (SpecError, PathRefused) as err:
        return _kept(4, str(err))
    stem = os.path.splitext(os.path.basename(path))[0]
    result = h.evaluate(text, int(size or 640), h.safe_name(stem))
    if not result["ok"]:
        return (text, *on_yaml(text, size, st)[1:])
    fixed = _repaired(text, result)
    new, message = _replace({**(st or {}), "name": h.safe_name(stem)}, f"uploaded {os.path.basename(path)}",
                            f"upload {os.path.basename(path)}", fixed)
    return (fixed, *_outputs_for(result, fixed, {**new, "scale_by": None}, int(size or 640), message))


def on_nc(k, size, st):
    """Classes changed: only `nc` of the current design (the yaml in state) changes; an unedited design
    stays unedited. A bad number changes nothing (the message under the field says why)."""
    if nc_problem(k):
        return (gr.skip(),) * (1 + SHOWN)
    try:
        src = source(text=st["yaml"], nc=int(k or 80), name=st.get("name", "model"))
    except SpecError as err:
        return _kept(4, str(err))
    result = h.evaluate(src, int(size or 640))
    if not result["ok"]:
        return _kept(4, result["error"])
    new = dict(st)
    if new.get("origin") and not _edited(st):
        new["origin"] = {**new["origin"], "yaml": result["yaml"]}
    return (result["yaml"], *_outputs_for(result, result["yaml"], new, int(size or 640)))


def on_imgsz(size, st):
    """Image size changed: the current design (the yaml in state), counted at that size. A size it cannot
    be counted at keeps the numbers at the last size taken, and the panel says so."""
    if size_problem(size):
        good = int((st or {}).get("imgsz", 640))
        result = h.evaluate(st["yaml"], good, st.get("name", "model"))
        shown = f"{size:g}" if isinstance(size, (int, float)) else "(blank)"
        if not result["ok"]:
            return (gr.skip(),) * SHOWN
        return (summary_html(result, "", good, refused=shown) + origin_html(st), *(gr.skip(),) * (SHOWN - 1))
    result = h.evaluate(st["yaml"], int(size or 640), st.get("name", "model"))
    if not result["ok"]:
        return _kept(3, result["error"])
    return _outputs_for(result, st["yaml"], st, int(size or 640))


def on_download(st) -> str:
    """The current design's yaml as NAME.yaml, written now (the Download button asks for it)."""
    return h.write_yaml_file(st["yaml"], st.get("name", "model"))


def design_nc(st, k):
    """The Classes box follows the design's `nc` (an uploaded or pasted yaml, a preset, an undo)."""
    nc = (st or {}).get("nc")
    return gr.skip() if nc is None or (k is not None and int(k) == int(nc)) else nc


def on_history(st):
    """After a design change outside the Edit panel: the Preset box (the preset the design came from, else
    empty), the panel's history and its Undo / Redo buttons."""
    from .edit_panel import history_html

    return (_preset_box(st), history_html(st), gr.update(interactive=bool((st or {}).get("undo"))),
            gr.update(interactive=bool((st or {}).get("redo"))))


def render_pins(pins):
    """(table rows, the scatter plot's SVG, the unpin dropdown, compare.csv) of the pinned designs: one
    point per pin, named beside it."""
    rows = [[p.get(c, "") for c in h.PIN_COLUMNS] for p in pins]
    plot = scatter_chart([(p["name"], p["params"] / 1e6, float(p["GFLOPs"])) for p in pins],
                         "params vs GFLOPs (each pin at its image size)", "params (M)", "GFLOPs", "compare-plot")
    names = [p["name"] for p in pins]
    return (rows, plot, gr.update(choices=names, value=names[-1] if names else None),
            h.pins_csv(pins) if pins else None)


def on_pin(st, size=640):
    """Pin the current design, counted at the image size shown (a repeated name gets ' (2)', ' (3)' ...; an
    edited design is named '... (edited)')."""
    size = int(size or 640)
    result = h.evaluate(st["yaml"], size, st.get("name", "model"))
    pins = list(st.get("pins", []))
    base = f"{result['name']} (edited)" if _edited(st) else result["name"]  # not the stock model's name
    label, k = base, 2
    while any(p["name"] == label for p in pins):
        label, k = f"{base} ({k})", k + 1
    pins.append(h.pin_row(result, label, size, measured_ms(st, size)))  # its latency when Measure timed it
    return (*render_pins(pins), {**st, "pins": pins})


def on_unpin(name, st):
    pins = [p for p in st.get("pins", []) if p["name"] != name]
    return (*render_pins(pins), {**st, "pins": pins})


def build_design_tab(parts: dict | None = None):
    """The tab; `parts`, when given, receives the components other tabs drive (app/explore_tab.py)."""
    from .inspector import build_inspector, wire_inspector  # here: it imports edit_panel, which imports this module
    cat = catalog()
    src = source(preset=h.DEFAULT_PRESET)
    first = h.evaluate(src, 640)
    picks, text = src.picks, first["yaml"]
    table0 = table_html(first["table"])
    state0 = {"yaml": text, "counts": first["counts"], "name": first["name"], "pins": [],
              "origin": {"label": f"from preset {h.DEFAULT_PRESET}", "yaml": text, "picks": True}, "scale_by": None,
              "picks": {key: picks[key] for key in ("backbone", "neck", "head", "scale")},
              "drawn": [hash(first["svg"]), hash(table0)]}

    state = gr.State(state0)
    with gr.Row(equal_height=False):
        with gr.Column(scale=1, min_width=320):
            preset = gr.Dropdown(_choices(cat["presets"]), value=h.DEFAULT_PRESET, label="Preset",
                                 info=about(cat["presets"], h.DEFAULT_PRESET))
            backbone = gr.Dropdown(_choices(cat["backbones"]), value=picks["backbone"], label="Backbone",
                                   info=about(cat["backbones"], picks["backbone"]))
            neck = gr.Dropdown(_choices(cat["necks"]), value=picks["neck"], label="Neck",
                               info=about(cat["necks"], picks["neck"]))
            head = gr.Dropdown(_choices(cat["heads"]), value=picks["head"], label="Head",
                               info=about(cat["heads"], picks["head"]))
            with gr.Row():
                scale = gr.Radio(SCALES, value=picks["scale"], label="Scale", elem_id="scale")
            with gr.Row():  # no minimum / maximum: Gradio's check raises; app/pickers.py checks quietly
                nc = gr.Number(80, label="Classes", precision=0, elem_id="design-nc")
                imgsz = gr.Number(640, label="Image size", precision=0, step=32, elem_id="design-imgsz")
            numbers_msg = gr.HTML(numbers_note(80, 640, state0), elem_id="design-numbers")
            inspector = build_inspector()
        with gr.Column(scale=3):
            summary = gr.HTML(summary_html(first, "", 640) + origin_html(state0), elem_id="summary")
            graph = graph_component(first["svg"])
    with gr.Row(equal_height=False):
        with gr.Column(scale=1):
            yaml_box = gr.Code(text, language="yaml", label="Model yaml (edit freely: it re-validates as you type)",
                               interactive=True, elem_id="yaml", max_lines=40)
            yaml_error = gr.HTML(error_html(""), elem_id="yaml-error")
            with gr.Row():
                download = gr.Button("Download yaml", elem_id="download-yaml")
                download_file = gr.DownloadButton(visible="hidden", elem_id="download-yaml-file")
                upload = gr.UploadButton("Upload yaml", file_types=[".yaml", ".yml", ".txt"], elem_id="upload-yaml")
        with gr.Column(scale=1):
            table = table_component(table0)
    design_outputs = [summary, graph, table, yaml_error, state]  # _outputs_for's SHOWN
    from .edit_panel import build_edit_panel  # here: edit_panel imports this module's _outputs_for

    stack, edit_outputs = build_edit_panel(state, imgsz, yaml_box, design_outputs)  # (history, undo, redo), ...
    measure = build_measure_panel()  # app/measure_panel.py
    with gr.Accordion("Compare designs", open=False):
        with gr.Row():
            pin = gr.Button("Pin current design", elem_id="pin")
            unpin_name = gr.Dropdown([], label="Pinned", interactive=True, allow_custom_value=False)
            unpin = gr.Button("Remove pin")
            csv = gr.DownloadButton("Download CSV", value=None, elem_id="compare-csv")
        compare_table = gr.Dataframe(headers=h.PIN_COLUMNS, interactive=False, elem_id="compare")
        scatter = gr.HTML(scatter_chart([], "params vs GFLOPs", "params (M)", "GFLOPs", "compare-plot"),
                          elem_id="compare-plot")
        latency_plot = build_latency_plot()

    wire_inspector(inspector, state, imgsz, graph, table, edit_outputs)
    wire_measure_panel(measure, state, imgsz, latency_plot, table, graph)
    common = dict(show_progress="hidden", api_visibility="private")
    # app/light.py: the design's handlers skip the queue; each one that sets the state publishes it
    state.change(design_nc, [state, nc], [nc], **LIGHT)
    after = dict(fn=on_history, inputs=[state], outputs=[preset, *stack], **LIGHT)

    def changed(event, history: bool = True) -> None:  # what follows a design change made by `event`
        if history:
            event.then(**after)
        publish(event, state)

    picks_in = [backbone, neck, head, scale, nc, imgsz, state]
    last = dict(trigger_mode="always_last", **LIGHT)
    for picker in (backbone, neck, head):  # (`input` also on blur: on_picks skips the pickers as they were)
        changed(picker.input(on_picks, picks_in, [yaml_box, *design_outputs], **last))
    changed(scale.input(on_scale, picks_in, [yaml_box, *design_outputs], **last))
    changed(nc.input(on_nc, [nc, imgsz, state], [yaml_box, *design_outputs], **last), history=False)
    changed(imgsz.input(on_imgsz, [imgsz, state], design_outputs, **last), history=False)
    for field in (nc, imgsz):
        field.input(numbers_note, [nc, imgsz, state], [numbers_msg], trigger_mode="always_last", **common)
    wire_about([(preset, cat["presets"]), (backbone, cat["backbones"]), (neck, cat["necks"]), (head, cat["heads"])])
    changed(preset.input(on_preset, [preset, nc, imgsz, state],
                         [backbone, neck, head, scale, yaml_box, *design_outputs], **last))
    changed(yaml_box.input(on_yaml, [yaml_box, imgsz, state], [yaml_box, *design_outputs], **last), history=False)
    upload.upload(on_upload, [upload, imgsz, state], [yaml_box, *design_outputs],
                  api_visibility="private").then(**after)
    download.click(on_download, [state], [download_file], **common).success(
        None, js="() => document.querySelector('#download-yaml-file')?.click()")
    pin.click(on_pin, [state, imgsz], [compare_table, scatter, unpin_name, csv, state], api_visibility="private")
    unpin.click(on_unpin, [unpin_name, state], [compare_table, scatter, unpin_name, csv, state],
                api_visibility="private")
    if parts is not None:
        parts.update(backbone=backbone, neck=neck, head=head, scale=scale, nc=nc, imgsz=imgsz, yaml=yaml_box,
                     outputs=design_outputs, after=after)
    return state
