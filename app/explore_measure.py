"""The Explore tab's "Measure the front": each design on the Pareto front of what the filters show, fewest
parameters first, timed on this machine at the explored image size — one after another, each in the
Design tab's Measure child process (engine/deploy/isolated.py running page_jobs.measure_job, which
remembers the result in engine/deploy/latency_store.py) — with the plots and the table drawn again after
each, so the rings and the latency column fill in as it goes. Stop ends it after the design being timed;
what was measured stays remembered. It shares Measure's one-at-a-time queue: two timings at once would
each time the other. `launch.py explore --measure-front` does the same from the terminal."""
from __future__ import annotations

import dataclasses
from html import escape

import gradio as gr

from engine.deploy.isolated import IsolatedError, run_isolated
from engine.deploy.latency import BACKENDS
from engine.deploy.page_jobs import MEASURE
from graph.errors import SpecError
from graph.explore import select, spec_of
from graph.source import Source

from . import handlers as h
from .measure_panel import BUDGET_S, MEASURE_JOB
from .views import error_html


def note(text: str) -> str:
    return f'<div class="yld-note" id="explore-measure-note">{text}</div>'


def one(row: dict, imgsz: int, nc: int, backend: str) -> str:
    """Measure the design of an explored row: '' when done (and remembered), else why not, one line."""
    try:
        spec = dataclasses.replace(spec_of(row, nc), name=row["name"])
    except SpecError as err:
        return str(err)
    result = h.evaluate(Source(spec), imgsz)
    if not result["ok"]:
        return result["error"]
    try:
        out = run_isolated(MEASURE, {"yaml": result["yaml"], "imgsz": imgsz, "per_layer": result["counts"]["per_layer"],
                                     "backend": backend, "threads": None, "budget_s": BUDGET_S}, MEASURE_JOB)
    except IsolatedError as err:
        return str(err)
    return out.get("error", "")


def on_measure_front(ex, b, n, hd, kind, backend):
    """A generator of (note, scatter, latency scatter, table): a note before each design, the views again
    after it."""
    if not ex:
        yield note("Press Explore first: the front is measured among the designs shown."), *(gr.skip(),) * 3
        return
    from .explore_tab import _filters, view  # here: explore_tab imports this module

    front = sorted((r for r in select(ex["rows"], **_filters(b, n, hd, kind)) if r["pareto"]),
                   key=lambda r: (r["params"], r["gflops"]))
    failed = []
    for k, row in enumerate(front, 1):
        yield note(f"Measuring {k} of {len(front)}: <b>{escape(row['name'])}</b> ({escape(backend)}, "
                   f"{ex['imgsz']} px) …"), *(gr.skip(),) * 3
        why = one(row, ex["imgsz"], ex["nc"], backend)
        if why:
            failed.append(f"{row['name']}: {why.splitlines()[0]}")
        yield gr.skip(), *view(ex, b, n, hd, kind)[1:]
    done = (f"Measured the {len(front) - len(failed)} of {len(front)} designs on the front ({escape(backend)}, "
            f"{ex['imgsz']} px); each is remembered on this machine.")
    yield (note(done) if not failed else
           note(done) + error_html("could not measure " + "; ".join(failed))), *(gr.skip(),) * 3


def build_measure_front(ex, filters: list, outputs: list) -> None:
    """The button, its backend, Stop and the progress note (placed where this is called), wired to redraw
    `outputs` (scatter, latency scatter, table)."""
    with gr.Row():
        backend = gr.Dropdown(list(BACKENDS), value="onnx", label="Backend",
                              elem_id="explore-measure-backend", scale=0, min_width=180)
        go = gr.Button("Measure the front", elem_id="explore-measure-front", scale=0, min_width=210)
        stop = gr.Button("Stop", elem_id="explore-measure-stop", scale=0, min_width=90)
    progress = gr.HTML("", elem_id="explore-measure-box")
    run = go.click(on_measure_front, [ex, *filters, backend],
                   [progress, *outputs], concurrency_limit=1, concurrency_id="measure", show_progress="hidden",
                   api_visibility="private")
    stop.click(lambda: note("Stopped: what was measured is remembered."), None, [progress], cancels=[run],
               api_visibility="private")
