"""The Design tab's layer table: the per-layer rows of app/handlers.evaluate as one light HTML string in
a gr.HTML (a Dataframe made every design change a round trip through its own component state and a
heavy re-render in the page).

`table_html(rows, extra)` builds it; `extra` adds columns without touching the rows, e.g.
{"latency %": {layer index: value}} (a layer missing from the dict gets an empty cell), so a later
measurement can sit beside the counts. `table_component(html)` is the gr.HTML: a click on a row (or
Enter / Space on a focused row) triggers the component's `click` with `evt.index` = the layer, exactly
as a click on a node of the graph does (app/graph_view.py), so the inspector wires both to one
handler; its `selected` prop (gr.update(selected=i)) highlights that layer's row, also after the table
is replaced. The script draws the table into the component (Gradio's template morph never sees it)."""
from __future__ import annotations

from html import escape

import gradio as gr

from .handlers import TABLE_HEADERS

NUMERIC = {"#", "n", "params", "GFLOPs"}  # right-aligned columns
WRAPS = {"from", "arguments"}  # the columns that may break inside a cell; the others stay on one line


def _cell(value) -> str:
    if isinstance(value, bool) or value is None:
        return escape(str(value or ""))
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:g}"
    return escape(str(value))


def table_html(rows: list[list], extra: dict[str, dict[int, object]] | None = None,
               headers: list[str] = TABLE_HEADERS) -> str:
    """The rows (each starting with its layer index) as a table; `extra`: {header: {layer index: value}}
    columns appended on the right."""
    extra = extra or {}
    names = list(headers) + list(extra)
    kinds = [" class=num" if h in NUMERIC else " class=wrap" if h in WRAPS else "" for h in headers]
    kinds += [" class=num"] * len(extra)
    head = "".join(f'<th scope="col"{k}>{escape(str(h))}</th>' for h, k in zip(names, kinds))
    body = []
    for row in rows:
        i = int(row[0])
        cells = list(row) + [col.get(i, "") for col in extra.values()]
        tds = "".join(f'<td{k}>{_cell(v)}</td>' for v, k in zip(cells, kinds))
        body.append(f'<tr data-index="{i}" tabindex="0" title="select layer {i}">{tds}</tr>')
    return (f'<table class="yld-layers-table" data-rows="{len(rows)}"><thead><tr>{head}</tr></thead>'
            f'<tbody>{"".join(body)}</tbody></table>')


# The rows are not in the template: the script draws them (`draw`), so Gradio's morph of the template
# (a walk of every old and new cell on each update) has nothing to compare (as app/graph_view.py).
TEMPLATE = '<div class="yld-layers"><div class="yld-layers-label">Layers</div><div class="yld-layers-scroll"></div></div>'

# Scoped to the component by Gradio; colours from app/styles.py's custom properties (light fallbacks).
CSS = """
.yld-layers-label {font-size: 0.85rem; color: var(--yld-muted, #64748b); margin: 0 0 4px 2px;}
.yld-layers-scroll {max-height: 620px; overflow: auto; border: 1px solid var(--yld-line, #e2e8f0); border-radius: 8px;}
table {border-collapse: collapse; width: 100%; margin: 0; font-size: 0.8rem; font-variant-numeric: tabular-nums;}
th, td {white-space: nowrap; padding: 3px 6px; border: none; border-bottom: 1px solid var(--yld-line, #e2e8f0);}
th {position: sticky; top: 0; background: var(--yld-card, #f8fafc); color: var(--yld-text-2, #334155);
    text-align: left; font-weight: 600;}
td {color: var(--yld-text, #0f172a);}
.num {text-align: right;}
.wrap {white-space: normal; overflow-wrap: anywhere; min-width: 7.5em;}  /* narrow columns scroll, not squeeze */
tbody tr {cursor: pointer;}
tbody tr:hover, tbody tr:focus-visible {background: var(--yld-card, #f1f5f9); outline: none;}
tbody tr.selected {background: rgba(217, 119, 6, 0.14); box-shadow: inset 3px 0 0 #d97706;}
"""

# Runs once per page (Gradio 6: `element`, `trigger`, `props`, `watch`); listeners are delegated to
# `element`, since the rows are replaced with each design.
JS = r"""
const rowOf = (t) => {
  const r = t instanceof Element ? t.closest('tr[data-index]') : null;
  return r && element.contains(r) ? r : null;
};
const pick = (r) => trigger('click', {index: parseInt(r.dataset.index, 10)});
element.addEventListener('click', (e) => { const r = rowOf(e.target); if (r) pick(r); });
element.addEventListener('keydown', (e) => {
  const r = rowOf(e.target);
  if (r && (e.key === 'Enter' || e.key === ' ')) { e.preventDefault(); pick(r); }
});
function mark() {  // the selected layer's row, after a new selection or a new table
  for (const r of element.querySelectorAll('tr.selected')) { r.classList.remove('selected'); r.removeAttribute('aria-selected'); }
  const s = props.selected;
  const r = s === null || s === undefined ? null : element.querySelector('tr[data-index="' + parseInt(s, 10) + '"]');
  if (r) { r.classList.add('selected'); r.setAttribute('aria-selected', 'true'); }
}
function draw() {
  const box = element.querySelector('.yld-layers-scroll');
  if (box) box.innerHTML = props.value || '';
  mark();
}
if (typeof watch === 'function') { watch('value', draw); watch('selected', mark); }
draw();
"""


def table_component(value: str, **kw) -> gr.HTML:
    """The table as a gr.HTML (elem_id "layers" unless given): `.click` fires with `evt.index`."""
    kw.setdefault("elem_id", "layers")
    return gr.HTML(value, html_template=TEMPLATE, css_template=CSS, js_on_load=JS, selected=None, **kw)
