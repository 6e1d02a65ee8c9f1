"""The Design tab's layer inspector: one layer of the current design as a form, its block swapped for
one that fits, its arguments and repeats edited, the change previewed (params / GFLOPs delta) before
Apply; a layer inserted before / after it, or deleted.

A layer is selected three ways, all landing in `on_select`: a click (or Enter) on a node of the graph
or on a row of the layer table (app/graph_view.py and app/layer_table.py trigger their click with the
layer's index), or the Layer list (keyboard too). The selection is its own gr.State (an index or None),
highlighted in the graph and the table by their `selected` prop (marked in the page: no SVG or table
is sent for it). Whenever the design changes (any handler that writes the session state),
`on_refresh` rebuilds the form for the selected layer of the new design, so the form never shows a
design that is gone; it reads the design's spec from the parse cache, so it counts nothing.

The form: the registry's argument schema of the block (graph/inspect.form): one text box per argument,
labelled with its name and help, empty = the default (shown as the placeholder); values are read as
yaml (graph/safeyaml.py), never evaluated. An edit goes through app/edit_panel._apply like every other
block edit: the same undo list, history line and page update. Functions first (plain data, tested
without a browser), then the layout and the wiring."""
from __future__ import annotations

from html import escape

import gradio as gr

from graph import inspect as gi
from graph import limits
from graph.errors import SpecError

from . import handlers as h
from .edit_panel import MESSAGE, STATE, _apply, _refused, delta_text
from .light import LIGHT, publish

MAX_FIELDS = 8  # the most arguments a block of the registry takes is 7 (Conv)
MAX_REPEATS = limits.MAX_REPEATS  # n before depth scaling, as every yaml is held to


# ---------------------------------------------------------------- reading the design

def _spec(st: dict):
    """The state's design as a ModelSpec (parsed once: handlers' cache), or None. The state only ever
    holds a design that evaluated, so nothing is counted here."""
    if not st or not st.get("yaml") or h._refuse_text(st["yaml"]) is not None:
        return None
    src = h._text_source(st["yaml"], st.get("name", "model"))
    return None if isinstance(src, SpecError) else src.spec


def layer_choices(spec) -> list[tuple[str, int]]:
    """'12 C2f [256, False]' per layer, valued by index."""
    out = []
    for i, lay in enumerate(spec.layers):
        args = gi.text_of(lay.args)
        out.append((f"{i} {lay.module}{' ×' + str(lay.n) if lay.n > 1 else ''} {args if len(args) < 40 else args[:37] + '...'}", i))
    return out


def _message(text: str, kind: str = "ok") -> str:
    return f'<div class="yld-inspect-msg yld-inspect-{kind}" id="inspect-msg-{kind}">{escape(text)}</div>'


def _field_updates(form: gi.Form | None) -> list:
    updates = []
    for k in range(MAX_FIELDS):
        if form is None or k >= len(form.fields):
            updates.append(gr.update(visible=False, value=""))
            continue
        f = form.fields[k]
        hint = "required" if f.required else f"default {f.default}"
        rng = "" if f.low is None else f", {f.low:g}..{'' if f.high is None else f'{f.high:g}'}"
        updates.append(gr.update(visible=True, value=f.text, label=f"{f.name} ({f.kind}{rng}) — {f.help}",
                                 placeholder=hint, interactive=True))
    return updates


def _block_choices(spec, i: int, size) -> list[tuple[str, str]]:
    return [(f"{b.name} — {b.summary}", b.name) for b in gi.fitting(spec, i, int(size or 640))]


def _default_row(spec, i: int, size) -> str:
    """A row to insert after layer i that keeps its channels: a 3x3 Conv of its output width."""
    node = gi.resolve(spec, int(size or 640)).layers[i]
    if not node.c_out:
        return ""
    width = spec.multiples[1] or 1.0
    return f"[-1, 1, Conv, [{max(1, round(node.c_out / width))}, 3, 1]]"


# ---------------------------------------------------------------- handlers

def _mark(i) -> tuple:
    """The highlight of layer i (None: none) in the graph and in the layer table."""
    return gr.update(selected=i), gr.update(selected=i)


def form_outputs(i, size, st):
    """(Layer list, Block list, n, *fields, graph mark, table mark, insert row, message) for layer i of
    the design (i None or out of range: the form empties and the highlight goes)."""
    spec = _spec(st)
    if spec is None:
        return (gr.skip(),) * (MAX_FIELDS + 7)
    choices = layer_choices(spec)
    if i is None or not 0 <= int(i) < len(spec.layers):
        return (gr.update(choices=choices, value=None), gr.update(choices=[], value=None),
                gr.update(value=1, interactive=False), *_field_updates(None), *_mark(None), gr.update(value=""),
                _message("Click a node in the graph, a row of the layer table, or pick a layer."))
    i = int(i)
    try:
        form = gi.form(spec, i)
        blocks = _block_choices(spec, i, size)
        row = _default_row(spec, i, size)
    except SpecError as err:  # a design that does not resolve at this size: say so, keep the form
        return (gr.skip(),) * (MAX_FIELDS + 6) + (_message(str(err), "error"),)
    others = len(blocks) - 1
    return (gr.update(choices=choices, value=i), gr.update(choices=blocks, value=form.module),
            gr.update(value=form.n, interactive=form.repeats), *_field_updates(form), *_mark(i),
            gr.update(value=row),
            _message(f"Layer {i}: {form.module}. {others} other block{'' if others == 1 else 's'} fit here "
                     f"(same inputs, same output shape)."))


def _layer_index(value) -> int | None:
    """The Layer list's value (an index; typed text '12 C2f ...' counts by its leading number) or None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return int(value)
    head = str(value or "").strip().split(" ")[0]
    return int(head) if head.isdigit() else None


def on_select(i, size, st):
    """A layer was picked from the list: (selection, *form_outputs)."""
    i = _layer_index(i)
    return (i, *form_outputs(i, size, st))


def on_node(size, st, evt: gr.EventData):
    """A node of the graph or a row of the layer table was clicked (or Enter pressed on it): its index
    comes in the event's data."""
    index = getattr(evt, "_data", None) or {}
    i = index.get("index") if isinstance(index, dict) else None
    return on_select(i, size, st)


def on_refresh(sel, size, st):
    """The design changed: the form of the selected layer of the new design (or an empty form); the
    message line is left as the change set it. With nothing selected before or now, only the Layer list
    changes (the form is empty already)."""
    spec = _spec(st)
    keep = sel if sel is not None and spec is not None and 0 <= int(sel) < len(spec.layers) else None
    if sel is None and spec is not None:
        return (None, gr.update(choices=layer_choices(spec), value=None)) + (gr.skip(),) * (MAX_FIELDS + 5)
    return (keep, *form_outputs(keep, size, st)[:-1])


def on_block(i, module, size, st):
    """Another block was picked for the layer: its form, with the layer's values carried over by name."""
    spec, i = _spec(st), _layer_index(i)
    if spec is None or i is None or not module:
        return (gr.skip(),) * (MAX_FIELDS + 2)
    try:
        form = gi.form(spec, i, module, int(size or 640))
    except SpecError as err:
        return (gr.skip(),) * (MAX_FIELDS + 1) + (_message(str(err), "error"),)
    said = []
    if form.carried:
        said.append(f"carried {', '.join(form.carried)}")
    if form.dropped:
        said.append(f"dropped {', '.join(form.dropped)} ({module} has no such argument)")
    note = f"{spec.layers[int(i)].module} -> {module}: " + ("; ".join(said) if said else "defaults") + \
        ". Preview shows the change; Apply makes it."
    return (gr.update(value=form.n, interactive=form.repeats), *_field_updates(form), _message(note))


def _edit(i, module, n, texts, size, st):
    """The inspector's edit as a function spec -> (spec, notes), and its history words."""
    spec, i = _spec(st), _layer_index(i)
    if spec is None or i is None:
        raise SpecError("select a layer first")
    form = gi.form(spec, int(i), module or spec.layers[int(i)].module, int(size or 640))
    values = {}
    for f, text in zip(form.fields, texts):
        try:
            values[f.name] = gi.parse_value(text)
        except SpecError as err:
            raise SpecError(f"{f.name}: {err}", layer=int(i), module=form.module, field="args") from None
    try:
        reps = int(n) if form.repeats else 1
    except (TypeError, ValueError):
        raise SpecError(f"n must be a whole number, got {n!r}", layer=int(i), field="n") from None
    if not 1 <= reps <= MAX_REPEATS:  # said in the inspector's message, not by the field (no toast, no traceback)
        raise SpecError(f"n must be 1..{MAX_REPEATS}, got {reps}", layer=int(i), field="n")
    old = spec.layers[int(i)].module
    what = f"layer {int(i)} {old}" + (f" -> {form.module}" if form.module != old else "") + " edited"
    return (lambda s: gi.replace(s, int(i), form.module, values, reps)[:2]), what


def on_preview(i, module, n, *rest):
    """The change's params / GFLOPs delta (or why it is refused); the design is untouched."""
    *texts, size, st = rest
    try:
        fn, what = _edit(i, module, n, texts, size, st)
    except SpecError as err:
        return _message(str(err), "error")
    result = h.edit_design(st["yaml"], fn, int(size or 640), st.get("name", "model"))
    if not result["ok"]:
        return _message(result["error"], "error")
    if not result["changed"]:
        return _message("No change yet: edit the block, n or an argument.")
    return _message(f"Preview — {what}: {delta_text(result['counts'], result['before'])}. Apply makes it.")


def _done(applied: tuple) -> bool:
    """Whether an edit panel's outputs carry a new state (a refusal skips it)."""
    return "yaml" in applied[STATE]


def _with(applied: tuple, sel) -> tuple:
    """edit_panel's outputs, then the inspector's message (the panel's message, or the refusal) and selection."""
    msg = applied[MESSAGE]
    text = msg if isinstance(msg, str) else ""
    return (*applied, text.replace("yld-edit-msg", "yld-inspect-msg") if text else gr.skip(), sel)


def on_apply(i, module, n, *rest):
    *texts, size, st = rest
    try:
        fn, what = _edit(i, module, n, texts, size, st)
    except SpecError as err:
        return _with(_refused(str(err)), i)
    return _with(_apply(fn, what, size, st), i)


def on_insert(i, row, before, size, st):
    """Insert the row before (or after) layer i; the new layer becomes the selection."""
    i = _layer_index(i)
    if i is None:
        return _with(_refused("select a layer first"), i)
    at = int(i) - 1 if before else int(i)
    what = f"insert {(row or '').strip()} {'before' if before else 'after'} layer {int(i)}"
    applied = _apply([("insert", f"{at}:{row or ''}")], what, size, st)
    return _with(applied, at + 1 if _done(applied) else i)


def on_delete(i, size, st):
    """Delete layer i (refused, naming them, while other layers read it); the layer before is selected."""
    i = _layer_index(i)
    if i is None:
        return _with(_refused("select a layer first"), i)
    applied = _apply([("delete", str(int(i)))], f"delete layer {int(i)} ({_name(st, i)})", size, st)
    return _with(applied, max(0, int(i) - 1) if _done(applied) else i)


def _name(st, i) -> str:
    spec = _spec(st)
    return spec.layers[int(i)].module if spec is not None and 0 <= int(i) < len(spec.layers) else "?"


# ---------------------------------------------------------------- layout and wiring

def build_inspector() -> dict:
    """The inspector's components (a group, placed where this is called); wire them with `wire_inspector`
    once the graph, the table and the edit panel exist."""
    ui = {"sel": gr.State(None)}
    with gr.Group(elem_id="inspector"):
        gr.Markdown("**Layer inspector** — click a node in the graph, a row of the layer table, or pick a layer.",
                    elem_classes="yld-edit-help", padding=True)
        # allow_custom_value: the choices follow the design, and a pick racing a design change must reach
        # the handler (which checks it against the design it reads) rather than fail in Gradio's check
        ui["layer"] = gr.Dropdown([], value=None, label="Layer", elem_id="inspect-layer", interactive=True,
                                  allow_custom_value=True)
        ui["block"] = gr.Dropdown([], value=None, label="Block (those that fit this place)", elem_id="inspect-block",
                                  interactive=True, allow_custom_value=True)
        ui["n"] = gr.Number(1, label="n (repeats)", precision=0, elem_id="inspect-n",
                            interactive=False)
        ui["fields"] = [gr.Textbox(visible=False, max_lines=1, elem_id=f"inspect-arg-{k}") for k in range(MAX_FIELDS)]
        with gr.Row():
            ui["preview"] = gr.Button("Preview", size="sm", min_width=80, elem_id="inspect-preview")
            ui["apply"] = gr.Button("Apply", variant="primary", size="sm", min_width=80, elem_id="inspect-apply")
        ui["message"] = gr.HTML(_message("Click a node in the graph, a row of the layer table, or pick a layer."),
                                elem_id="inspect-message")
        ui["row"] = gr.Textbox(label="Layer row to insert: [from, n, module, args]", max_lines=1,
                               elem_id="inspect-row")
        with gr.Row():
            ui["before"] = gr.Button("Insert before", size="sm", min_width=80, elem_id="inspect-insert-before")
            ui["after"] = gr.Button("Insert after", size="sm", min_width=80, elem_id="inspect-insert-after")
            ui["delete"] = gr.Button("Delete", variant="stop", size="sm", min_width=80, elem_id="inspect-delete")
    return ui


def _insert_before(i, row, size, st):
    return on_insert(i, row, True, size, st)


def _insert_after(i, row, size, st):
    return on_insert(i, row, False, size, st)


def wire_inspector(ui: dict, state, imgsz, graph, table, panel_outputs) -> None:
    """Wire the inspector to the Design tab's state, graph and table; `panel_outputs` are app/edit_panel's
    outputs of an edit (yaml, design outputs, history, message, undo, redo)."""
    sel, layer, block, n, fields, message = ui["sel"], ui["layer"], ui["block"], ui["n"], ui["fields"], ui["message"]
    common = LIGHT  # app/light.py: no queue round trip, raw values; an edit publishes the new state
    form_out = [sel, layer, block, n, *fields, graph, table, ui["row"], message]
    layer.input(on_select, [layer, imgsz, state], form_out, **common)
    for picked in (graph, table):  # a node, a row: the same click with the layer's index
        picked.click(on_node, [imgsz, state], form_out, **common)
    state.change(on_refresh, [sel, imgsz, state], form_out[:-1], **common)
    edit_in = [layer, block, n, *fields, imgsz, state]
    block.input(on_block, [layer, block, imgsz, state], [n, *fields, message], **common).then(
        on_preview, edit_in, [message], **common)
    ui["preview"].click(on_preview, edit_in, [message], **common)
    for box in (n, *fields):
        box.input(on_preview, edit_in, [message], trigger_mode="always_last", **common)
    outs = [*panel_outputs, message, sel]
    publish(ui["apply"].click(on_apply, edit_in, outs, **common), state)
    publish(ui["before"].click(_insert_before, [layer, ui["row"], imgsz, state], outs, **common), state)
    publish(ui["after"].click(_insert_after, [layer, ui["row"], imgsz, state], outs, **common), state)
    publish(ui["delete"].click(on_delete, [layer, imgsz, state], outs, **common), state)
