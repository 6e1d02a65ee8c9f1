"""The Design tab's "Edit blocks" panel: apply a recipe, swap one block for another (with a preview
that changes nothing), undo and redo, and a short history of the edits.

Functions first (handlers of plain data, tested without a browser), then `build_edit_panel`: its
layout and wiring. An edit goes through app/handlers.edit_design (the API's /edit does the same) and
its result through design_tab._outputs_for, so the page shows an edited design exactly as it shows a
yaml edit: the same numbers, graph, table and "vs previous design" note. A refused edit
puts its one-line error in the yaml error line (and the panel's message line) and changes nothing.

The history lives in the session state, as plain data: `undo`, the designs before each edit, newest
last ({"yaml": text, "label": one line}), and `redo`, the designs that Undo left, each at most
HISTORY_CAP long. Undo restores the exact previous yaml text (and, evaluated, its counts); Redo
restores the exact text Undo left. A new edit empties `redo`."""
from __future__ import annotations

from html import escape

import gradio as gr

from blocks import list_blocks
from graph.edit import SECTIONS
from graph.recipes import list_recipes

from . import handlers as h
from .design_tab import _outputs_for
from .light import LIGHT, publish
from .views import error_html

HISTORY_CAP = 50
STATE, MESSAGE = 5, 7  # where an edit's outputs (see _show) carry the new state and the panel's message
NOTHING = '<div class="yld-edit-msg"></div>'


# ---------------------------------------------------------------- text of the panel

def delta_text(now: dict, before: dict) -> str:
    """'−363,840 params, −0.53 GFLOPs' (the signed differences of two counts dicts)."""
    dp, dg = now["params"] - before["params"], now["gflops"] - before["gflops"]
    sign = lambda v: "+" if v > 0 else ("−" if v < 0 else "±")  # noqa: E731
    return f"{sign(dp)}{abs(dp):,} params, {sign(dg)}{abs(dg):.2f} GFLOPs"


def _layers(changed: list[int]) -> str:
    return f"{len(changed)} layer{'' if len(changed) == 1 else 's'}"


def history_html(st: dict) -> str:
    """One line per edit, oldest first; edits that Undo left are listed after them, struck through."""
    done, undone = (st or {}).get("undo", []), (st or {}).get("redo", [])
    if not done and not undone:
        return ('<div class="yld-history" id="edit-history-list">'
                '<div class="yld-hist-empty">No block edits yet.</div></div>')
    rows = [f'<li class="yld-hist-done">{escape(e["label"])}</li>' for e in done]
    rows += [f'<li class="yld-hist-undone" title="undone: Redo brings it back">{escape(e["label"])}</li>'
             for e in reversed(undone)]
    return f'<div class="yld-history" id="edit-history-list"><ol>{"".join(rows)}</ol></div>'


def _message(text: str) -> str:
    return f'<div class="yld-edit-msg">{escape(text)}</div>'


# ---------------------------------------------------------------- the edits

def _swap_steps(old, new, section, where) -> tuple[list[tuple[str, str]], str]:
    """The swap as graph/edit.apply steps, and the words of its history line."""
    section = section or "all"
    where = (where or "").strip()
    steps = [("section", section)] + ([("where", where)] if where else []) + [("swap", f"{old}={new}")]
    place = "the whole model" if section == "all" else section
    return steps, f"swap {old} -> {new} in {place}" + (f" where {where}" if where else "")


def _edited(steps, what: str, size, st) -> dict:
    """edit_design on the state's yaml; an edit that changes no layer is refused here."""
    if not st or not st.get("yaml"):
        return {"ok": False, "error": "no design to edit"}
    result = h.edit_design(st["yaml"], steps, int(size or 640), st.get("name", "model"))
    if result["ok"] and result["changed"] == []:
        return {"ok": False, "error": f"{what}: no layer matches, nothing would change"}
    return result


def _buttons(undo: list, redo: list) -> tuple:
    return gr.update(interactive=bool(undo)), gr.update(interactive=bool(redo))


def _refused(message: str) -> tuple:
    """A refusal: the yaml error line and the panel's message say why; nothing else changes."""
    return (gr.skip(),) * 4 + (error_html(message), gr.skip(), gr.skip(), error_html(message), gr.skip(), gr.skip())


def _show(result: dict, text: str, size, st: dict, undo: list, redo: list, message: str) -> tuple:
    """Everything the page shows for the design `result` of `text`, with the new stacks.
    Order: yaml, summary, graph, table, yaml error, state, history, message, undo, redo."""
    *shown, new_state = _outputs_for(result, text, st, int(size or 640))
    new_state = {**new_state, "undo": undo[-HISTORY_CAP:], "redo": redo[-HISTORY_CAP:]}
    return (text, *shown, new_state, history_html(new_state), _message(message), *_buttons(undo, redo))


def _apply(steps, what: str, size, st) -> tuple:
    result = _edited(steps, what, size, st)
    if not result["ok"]:
        return _refused(result["error"])
    delta = delta_text(result["counts"], result["before"])
    label = f"{what}: {_layers(result['changed'])}, {delta}" if result["changed"] is not None else f"{what}: {delta}"
    undo = list(st.get("undo", [])) + [{"yaml": st["yaml"], "label": label}]
    return _show(result, result["yaml"], size, st, undo, [], f"Applied {label}.")


def on_recipe(name, size, st):
    """Apply a recipe of graph/recipes.RECIPES to the design."""
    if not name:
        return _refused("pick a recipe first")
    return _apply([("recipe", name)], f"recipe {name}", size, st)


def on_swap(old, new, section, where, size, st):
    """Swap every `old` block in `section` (whose args match `where`, e.g. k=3,s=2) for `new`."""
    if not old or not new:
        return _refused("pick the block to replace and the block to put in its place")
    steps, what = _swap_steps(old, new, section, where)
    return _apply(steps, what, size, st)


def on_preview(old, new, section, where, size, st) -> str:
    """What the swap would do (layers, params / GFLOPs), or why it is refused; the design is untouched."""
    if not old or not new:
        return error_html("pick the block to replace and the block to put in its place")
    steps, what = _swap_steps(old, new, section, where)
    result = _edited(steps, what, size, st)
    if not result["ok"]:
        return error_html(result["error"])
    changed = result["changed"]
    return _message(f"Preview — {what}: would change {_layers(changed)} ({', '.join(map(str, changed))}), "
                    f"{delta_text(result['counts'], result['before'])}. Nothing applied yet.")


def _restore(text: str, size, st: dict, undo: list, redo: list, message: str) -> tuple:
    result = h.evaluate(text, int(size or 640), st.get("name", "model"))
    if not result["ok"]:
        return _refused(result["error"])
    return _show(result, text, size, st, undo, redo, message)


def _origin_of(st: dict, entry: dict) -> dict:
    """{"origin": ...} of the current design, kept on the entry that stores it when origins differ (a
    design that a picker change replaced: design_tab._replace); else {}."""
    return {"origin": st["origin"]} if entry.get("origin") and st.get("origin") else {}


def _with_origin(st: dict, entry: dict) -> dict:
    return {**st, "origin": entry["origin"]} if entry.get("origin") else st


def _step(size, st, take: str, give: str, verb: str, done: str):
    """Move one design from the `take` stack to the page, the page's design onto `give`."""
    stacks = {k: list((st or {}).get(k, [])) for k in ("undo", "redo")}
    if not stacks[take]:
        return _refused(f"nothing to {verb}")
    entry = stacks[take].pop()
    stacks[give].append({"yaml": st["yaml"], "label": entry["label"], **_origin_of(st, entry)})
    return _restore(entry["yaml"], size, _with_origin(st, entry), stacks["undo"], stacks["redo"],
                    f"{done} {entry['label']}.")


def on_undo(size, st):
    """Back to the design before the last edit (its exact yaml text); the current one goes to redo."""
    return _step(size, st, "undo", "redo", "undo", "Undid")


def on_redo(size, st):
    """The design the last Undo left (its exact yaml text)."""
    return _step(size, st, "redo", "undo", "redo", "Redid")


# ---------------------------------------------------------------- layout and wiring

def build_edit_panel(state, imgsz, yaml_box, design_outputs) -> tuple:
    """The accordion, wired to the Design tab's components: `design_outputs` is
    [summary, graph, table, yaml error, state], as design_tab wires a yaml edit.
    Returns ((history, undo, redo), outputs): design_tab refreshes the three when a picker change puts a
    design on undo; `outputs` are an edit's outputs (the layer inspector's edits use them too)."""
    names = [b.name for b in list_blocks()]
    recipes = [(f"{name} — {text}", name) for name, text in list_recipes()]
    st0 = state.value or {}
    with gr.Accordion("Edit blocks", open=False, elem_id="edit-panel"):
        with gr.Row(equal_height=False):
            with gr.Column(scale=3, min_width=320):
                with gr.Group():
                    recipe = gr.Dropdown(recipes, value=recipes[0][1], label="Recipe (a set of swaps from an article)",
                                         elem_id="edit-recipe")
                apply_recipe = gr.Button("Apply recipe", variant="primary", elem_id="edit-apply-recipe")
                gr.Markdown("**Swap a block**: every matching layer of the section; *where* narrows it by "
                            "arguments, e.g. `k=3,s=2`.", elem_classes="yld-edit-help")
                with gr.Row():
                    old = gr.Dropdown(names, value="Conv", label="Replace", elem_id="edit-old")
                    new = gr.Dropdown(names, value="GSConv", label="With", elem_id="edit-new")
                with gr.Row():
                    section = gr.Radio(list(SECTIONS), value="all", label="Section", elem_id="edit-section", scale=3)
                    where = gr.Textbox(label="Where (optional)", placeholder="k=3,s=2", elem_id="edit-where",
                                       max_lines=1, scale=2)
                with gr.Row():
                    preview = gr.Button("Preview", elem_id="edit-preview")
                    apply_swap = gr.Button("Apply swap", variant="primary", elem_id="edit-apply-swap")
                message = gr.HTML(NOTHING, elem_id="edit-message")
            with gr.Column(scale=2, min_width=280):
                with gr.Row():
                    undo = gr.Button("↶ Undo", interactive=bool(st0.get("undo")), elem_id="edit-undo")
                    redo = gr.Button("↷ Redo", interactive=bool(st0.get("redo")), elem_id="edit-redo")
                gr.Markdown("**History** (oldest first; undone edits struck through)", elem_classes="yld-edit-help")
                history = gr.HTML(history_html(st0), elem_id="edit-history")

    outputs = [yaml_box, *design_outputs, history, message, undo, redo]
    publish(apply_recipe.click(on_recipe, [recipe, imgsz, state], outputs, **LIGHT), state)  # app/light.py
    publish(apply_swap.click(on_swap, [old, new, section, where, imgsz, state], outputs, **LIGHT), state)
    preview.click(on_preview, [old, new, section, where, imgsz, state], [message], **LIGHT)
    publish(undo.click(on_undo, [imgsz, state], outputs, **LIGHT), state)
    publish(redo.click(on_redo, [imgsz, state], outputs, **LIGHT), state)
    return (history, undo, redo), outputs
