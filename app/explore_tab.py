"""The Explore tab: the whole design space (graph/explore.py: every backbone x neck x head x scale, and
each recipe on each preset) counted at the Design tab's image size and classes, as a scatter of params
vs GFLOPs with the Pareto front drawn, and as a table; filters by backbone, neck, head and kind (the
front recomputed among the designs shown); a click on a point or a row loads that design into the
Design tab (its pickers for a composition, the preset + recipe's yaml for a recipe row) and opens it.
Designs measured on this machine at that image size (engine/deploy/latency_store.py: the Design tab's
Measure, `launch.py info --latency`, `explore --measure-front`) are ringed, carry their newest latency
in the table, and appear on a second scatter, latency vs GFLOPs; the records are read again at every
Explore and filter change. "Measure the front" (app/explore_measure.py) times the front shown.

Functions first (plain data in and out), then the layout, then the wiring. The explored rows live in
the tab's own gr.State; the pickers, fields and outputs it drives are the Design tab's (`parts`, filled
by app/design_tab.build_design_tab)."""
from __future__ import annotations

import threading
import time

import gradio as gr

from engine.deploy.latency_store import with_latency
from graph.errors import SpecError
from graph.explore import FAMILIES, explore, progress, select
from graph.recipes import recipe
from graph.source import Source, source
from graph.templates import fragments

from . import handlers as h
from .explore_measure import build_measure_front
from .explore_view import latency_svg, scatter_svg, status_html, table_html
from .views import error_html

ALL = "all"

# Clicks on a point (an SVG <g data-i>) or a row (<tr data-i>), or Enter / Space on a focused one, fire
# the component's `click` with `evt.index` = the design's index in the explored rows.
JS = r"""
const itemOf = (t) => {
  const r = t instanceof Element ? t.closest('[data-i]') : null;
  return r && element.contains(r) ? r : null;
};
const pick = (r) => trigger('click', {index: parseInt(r.dataset.i, 10)});
element.addEventListener('click', (e) => { const r = itemOf(e.target); if (r) pick(r); });
element.addEventListener('keydown', (e) => {
  const r = itemOf(e.target);
  if (r && (e.key === 'Enter' || e.key === ' ')) { e.preventDefault(); pick(r); }
});
"""

TABLE_CSS = """
th {position: sticky; top: 0; background: var(--yld-card, #f8fafc); text-align: left; padding: 5px 8px;
    border-bottom: 1px solid var(--yld-line, #e2e8f0);}
td {padding: 4px 8px; border-bottom: 1px solid var(--yld-line, #e2e8f0);}
tbody tr {cursor: pointer;}
tbody tr:hover, tbody tr:focus-visible {background: var(--yld-card, #f1f5f9); outline: none;}
tbody tr.front td:first-child {font-weight: 650;}
"""

OPEN_DESIGN = ("() => { const b = [...document.querySelectorAll('button[role=\"tab\"]')]"
               ".find((x) => x.textContent.trim() === 'Design'); if (b) b.click(); }")


def _filters(b, n, hd, kind) -> dict:
    return {"backbone": b, "neck": n, "head": hd, "kind": None if kind in (None, ALL) else kind}


def view(ex: dict | None, b=ALL, n=ALL, hd=ALL, kind=ALL) -> tuple[str, str, str, str]:
    """(status, scatter, latency scatter, table) of the explored rows that pass the filters, the front among
    them, each with the newest latency measured on this machine at the explored size (or None)."""
    if not ex:
        return "", scatter_svg([], {}, "params vs GFLOPs"), latency_svg([], {}, 640), table_html([], {})
    index = {r["name"]: i for i, r in enumerate(ex["rows"])}
    rows = with_latency(select(ex["rows"], **_filters(b, n, hd, kind)), ex["imgsz"])
    front = sum(r["pareto"] for r in rows)
    measured = sum(r["latency"] is not None for r in rows)
    title = f"params vs GFLOPs at {ex['imgsz']} px — {len(rows)} designs, {front} on the front, {measured} measured"
    return (status_html(len(rows), front, ex["tried"], ex["skipped"], ex["imgsz"], ex["nc"], ex["seconds"]),
            scatter_svg(rows, index, title), latency_svg(rows, index, ex["imgsz"]), table_html(rows, index))


def on_explore(size, k, b, n, hd, kind):
    """Explore at the Design tab's image size and classes; (status, scatter, latency scatter, table, the
    tab's state)."""
    t0 = time.perf_counter()
    try:
        done = explore(int(size or 640), int(k or 80))
    except (SpecError, ValueError, TypeError) as err:
        return (error_html(f"cannot explore: {err}"), gr.skip(), gr.skip(), gr.skip(), gr.skip())
    ex = {"imgsz": done.imgsz, "nc": done.nc, "tried": done.tried, "skipped": done.skipped, "rows": done.rows,
          "seconds": round(time.perf_counter() - t0, 2)}
    return (*view(ex, b, n, hd, kind), ex)


STEP_S = 1.5  # how often a long count shows the designs counted so far


def explore_stream(size, k, b, n, hd, kind):
    """`on_explore`, shown as it goes: while the count runs (on a worker thread; the first time at a size
    it takes tens of seconds), every STEP_S the designs counted so far, their front and a progress line;
    then on_explore's result. A count already known gives that result at once."""
    out: dict = {}

    def work():
        try:
            out["done"] = on_explore(size, k, b, n, hd, kind)
        except Exception as err:  # noqa: BLE001 - said on the page; the server goes on
            out["done"] = (error_html(f"cannot explore: {err}"), gr.skip(), gr.skip(), gr.skip(), gr.skip())

    worker = threading.Thread(target=work, daemon=True, name="yld-explore")
    t0 = time.perf_counter()
    worker.start()
    while worker.is_alive():
        worker.join(STEP_S)
        got = _progress(size, k) if worker.is_alive() else None
        if got and got[0]:
            rows, done, total = got
            ex = {"imgsz": int(size), "nc": int(k), "tried": done, "skipped": {}, "rows": rows,
                  "seconds": round(time.perf_counter() - t0, 1)}
            _, *shown = view(ex, b, n, hd, kind)
            yield (progress_html(done, total, ex["seconds"]), *shown, ex)
    yield out["done"]


def _progress(size, k):
    try:
        return progress(int(size or 640), int(k or 80))
    except (TypeError, ValueError):
        return None


def progress_html(done: int, total: int, seconds: float) -> str:
    """The line a count in progress shows in place of the status."""
    return (f'<div class="yld-ok" id="explore-progress" data-done="{done}" data-total="{total}">Counting: {done:,} '
            f'of {total:,} designs in {seconds:.0f} s (each layer never seen before is built once; the designs '
            f'counted so far are shown, the front among them)…</div>')


def design_of(row: dict, k) -> tuple[Source, str]:
    """The Source a recipe row names (its preset with `k` classes, the recipe applied) and its label."""
    base = source(preset=row["preset"], nc=int(k or 80))
    done = recipe(base.spec, row["recipe"])
    title = f"{done.spec.name}: preset {row['preset']} + recipe {row['recipe']}, by YOLO Lite Designer"
    return Source(done.spec, base.notes + done.notes, title), f"recipe {row['recipe']} on preset {row['preset']}"


def on_pick(ex, k, size, st, evt: gr.EventData):
    """A point or a row was clicked: that design into the Design tab. Out: backbone, neck, head, scale,
    yaml, then the Design tab's outputs (summary, graph, table, yaml error, state)."""
    from .design_tab import SHOWN, _outputs_for, _replace, on_picks  # here: design_tab imports much of the app

    data = getattr(evt, "_data", None) or {}
    i = data.get("index") if isinstance(data, dict) else None
    rows = (ex or {}).get("rows") or []
    if not isinstance(i, int) or not 0 <= i < len(rows):
        return (gr.skip(),) * (5 + SHOWN)
    row = rows[i]
    if row["kind"] == "composed":
        return (row["backbone"], row["neck"], row["head"], row["scale"],
                *on_picks(row["backbone"], row["neck"], row["head"], row["scale"], k, size, st))
    try:
        src, label = design_of(row, k)
    except SpecError as err:
        return _refused(str(err), SHOWN)
    result = h.evaluate(src, int(size or 640))
    if not result["ok"]:
        return _refused(result["error"], SHOWN)
    new, message = _replace(st, label, label, result["yaml"])  # not "from preset ...": the Preset box stays empty
    new["origin"]["picks"] = False
    return ((gr.skip(),) * 4 + (result["yaml"],)
            + tuple(_outputs_for(result, result["yaml"], new, int(size or 640), message)))


def _refused(message: str, shown: int) -> tuple:
    """Pickers, yaml and design left as they are; the yaml error line says why."""
    return (gr.skip(),) * (5 + shown - 2) + (error_html(message), gr.skip())


def _choices(family: str) -> list[str]:
    return [ALL, *fragments(family)]


def build_explore_tab(parts: dict) -> None:
    """The tab's layout and wiring; `parts`: the Design tab's backbone, neck, head, scale, nc, imgsz, yaml,
    outputs (summary, graph, table, yaml error, state) and `after` (what follows a design change there)."""
    ex = gr.State(None)
    with gr.Row():
        run = gr.Button("Explore", variant="primary", elem_id="explore-run", scale=0, min_width=120)
        # labels unlike the Design tab's pickers ("Backbone" ...), so each label names one control on the page
        pickers = [gr.Dropdown(_choices(f), value=ALL, label=f"Only {f}", elem_id=f"explore-{f}") for f in FAMILIES]
        kind = gr.Dropdown([ALL, "composed", "recipe"], value=ALL, label="Only kind", elem_id="explore-kind")
    gr.Markdown("Every backbone × neck × head × scale of the catalogue, and each recipe on each preset, counted at "
                "the Design tab's image size and classes. The first time at a size takes a while (each new layer is "
                "built once; the designs appear as they are counted); then seconds. The server counts 640 px / 80 "
                "classes in the background when it starts.")
    status = gr.HTML("", elem_id="explore-status-box")
    empty = view(None)
    plot = gr.HTML(empty[1], js_on_load=JS, elem_id="explore-plot")
    latency = gr.HTML(empty[2], js_on_load=JS, elem_id="explore-latency-plot")
    table = gr.HTML(empty[3], js_on_load=JS, css_template=TABLE_CSS, elem_id="explore-table", render=False)
    filters = [*pickers, kind]
    build_measure_front(ex, filters, [plot, latency, table])  # its button row, between the plots and the table
    table.render()
    common = dict(show_progress="minimal", api_visibility="private")
    shown = [status, plot, latency, table]
    run.click(explore_stream, [parts["imgsz"], parts["nc"], *filters], [*shown, ex], **common)
    for f in filters:  # .change: once per new value (a dropdown's `input` fires on the pick and on blur)
        f.change(lambda e, *fs: view(e, *fs), [ex, *filters], shown, **common)
    targets = [parts["backbone"], parts["neck"], parts["head"], parts["scale"], parts["yaml"], *parts["outputs"]]
    for clickable in (plot, latency, table):
        clickable.click(on_pick, [ex, parts["nc"], parts["imgsz"], parts["outputs"][-1]], targets,
                        **common).then(**parts["after"]).then(None, js=OPEN_DESIGN)
