"""Benchmark: from a picker change, or a block edit, in the browser to the updated numbers on the page, beside
Gradio's own floor measured the same way in the same run (issue 14: our p95 at most 1.5x the floor's p95).

The floor (bench/browser_floor.py): a bare gr.Blocks with one dropdown whose change handler returns one
HTML line, served like the app (its server wrapper and queue, uvicorn), timed from the pointer press on
an option to the change of that line (a MutationObserver): 20 changes, half before our changes and half
after, so a change of the machine's load hits both; the same page with its handler wired queue=False is
recorded beside it.

Serves the app locally, drives Debian's Chromium with Playwright through 20 picker changes (each to a
design not seen before, so no cache helps), and times each inside the page: from the pointer press
on the option to the moment the parameter count on the page changes (a MutationObserver), which is
what the user waits for; two untimed head picks first (to a design the plan never visits and back),
as the floor's page gets one untimed change: the first changes after a page load carry one-off costs.
Playwright's own round trip (its actionability checks and polling add ~300 ms) is recorded beside it. The same 20 changes again on a fresh page ("warm": every design seen,
so the server's count is cached) isolate the round trip from the count. Each change records how many
events the page sent for it (until the next press). Also times the server-side work for the same
designs (compose + resolve + count + render), the picker handler itself with the counts cached, and
the size of what it sends, so the JSON says where the time goes.

Then, on a fresh page (the default yolov8n design), 12 block edits timed the same way, from the
pointer press on the Apply button to the change of the parameter count: 8 layer inspector edits (a
node of the graph clicked, another block picked, its preview shown, then Apply) and 4 from the Edit
blocks panel (recipe, undo, a swap in the neck, undo). Every edit changes the count (checked here
against the server's own answer); one that does not land within EDIT_TIMEOUT_MS is recorded as
failed, not waited on. Their server side: app/handlers.edit_design called directly on the same chain
of designs (cold, and again warm: the inspector's preview has evaluated the edited design by the time
Apply is pressed), and the handlers the buttons call (inspector.on_apply, edit_panel.on_recipe /
on_swap / on_undo), with the caches as the page leaves them. Writes bench/results/browser.json;
`python bench/summary.py` puts the table in BENCHMARKS.md. What it does in the page, and how it times it
there, is bench/browser_page.py; this file times the server's share and writes the figures.
Run: python bench/bench_browser.py --threads 1
"""
from __future__ import annotations

import json
import os
import platform
import statistics
import sys
import time

import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "tests"))

from browser.conftest import CHROMIUM, FLAGS  # noqa: E402
from browser_floor import serve_floor, time_floor  # noqa: E402
from browser_page import EDITS, WATCH, browser_edits, browser_picks, steps  # noqa: E402
from conftest import free_port  # noqa: E402

GOAL = 1.5  # issue 14: our p95 at most 1.5x the floor's p95
FLOOR_CHANGES = 20  # changes on the bare Gradio page (app's queue), and as many with queue=False


def default_state(h) -> dict:
    """The page's first design (preset yolov8n), evaluated, as the session state holds it."""
    result = h.evaluate(h.source(preset=h.DEFAULT_PRESET), 640)
    return {"yaml": result["yaml"], "name": result["name"], "counts": result["counts"], "nc": result["nc"]}


def inspector_texts(ins, gi, st: dict, i: int, module: str) -> tuple[int, list[str]]:
    """(n, field texts) the inspector's form shows for layer i of the design once `module` is picked."""
    form = gi.form(ins._spec(st), i, module, 640)
    texts = [f.text for f in form.fields]
    return form.n, texts + [""] * (ins.MAX_FIELDS - len(texts))


def server_edits() -> list[dict]:
    """The server side of EDITS, from the default design with the caches cleared (as a fresh server):
    app/handlers.edit_design called directly (cold, then warm), and the buttons' handlers."""
    from app import edit_panel as ep
    from app import handlers as h
    from app import inspector as ins
    from graph import inspect as gi

    rows = [{} for _ in EDITS]
    # 1. handlers.edit_design (undo: handlers.evaluate of the restored text, which is what it runs)
    h.evaluate.cache_clear()
    st, undo = default_state(h), []
    for edit, row in zip(EDITS, rows):
        kind = edit[0]
        if kind == "undo":
            text = undo.pop()
            t0 = time.perf_counter()
            result = h.evaluate(text, 640, st["name"])
            row["server_ms"] = round((time.perf_counter() - t0) * 1000, 1)
            st = {**st, "yaml": text, "counts": result["counts"]}
            row["server_params"] = result["counts"]["params"]
            continue
        if kind == "inspector":
            n, texts = inspector_texts(ins, gi, st, edit[1], edit[2])
            steps, _ = ins._edit(edit[1], edit[2], n, texts, 640, st)
        elif kind == "recipe":
            steps = [("recipe", edit[1])]
        else:
            steps, _ = ep._swap_steps(edit[2], edit[3], edit[1], "")
        t0 = time.perf_counter()
        result = h.edit_design(st["yaml"], steps, 640, st["name"])
        row["server_ms"] = round((time.perf_counter() - t0) * 1000, 1)
        t0 = time.perf_counter()
        h.edit_design(st["yaml"], steps, 640, st["name"])
        row["server_warm_ms"] = round((time.perf_counter() - t0) * 1000, 1)
        if not result["ok"]:
            row["server_error"] = result["error"]
            continue
        undo.append(st["yaml"])
        st = {**st, "yaml": result["yaml"], "counts": result["counts"]}
        row["server_params"] = result["counts"]["params"]

    # 2. the handlers the buttons call (their outputs: summary, svg, table, yaml file, history, ...), the
    # inspector's preview run first, untimed, as in the page
    h.evaluate.cache_clear()
    st = default_state(h)
    for edit, row in zip(EDITS, rows):
        kind = edit[0]
        if kind == "inspector":
            n, texts = inspector_texts(ins, gi, st, edit[1], edit[2])
            ins.on_preview(edit[1], edit[2], n, *texts, 640, st)
            t0 = time.perf_counter()
            out = ins.on_apply(edit[1], edit[2], n, *texts, 640, st)
        else:
            t0 = time.perf_counter()
            out = (ep.on_recipe(edit[1], 640, st) if kind == "recipe" else ep.on_undo(640, st) if kind == "undo"
                   else ep.on_swap(edit[2], edit[3], edit[1], "", 640, st))
        row["handler_ms"] = round((time.perf_counter() - t0) * 1000, 1)
        if isinstance(out[ep.STATE], dict) and "yaml" in out[ep.STATE]:
            st = out[ep.STATE]
    return rows


def _payload(outputs) -> int:
    """Bytes of JSON the outputs take on the wire (files and skipped outputs as Gradio sends them, roughly)."""
    return len(json.dumps(outputs, default=str, ensure_ascii=False).encode())


def picker_handlers(plan) -> tuple[list[float], list[int]]:
    """The Design tab's picker handler itself (app/design_tab.on_picks / on_scale) on the plan's designs,
    counts cached (run after `evaluate` saw them): what a change costs the server besides counting, and
    the size of what it sends."""
    from app import design_tab as d
    from app import handlers as h

    result = h.evaluate(h.source(preset=h.DEFAULT_PRESET), 640)
    st = {"yaml": result["yaml"], "counts": result["counts"], "name": result["name"], "pins": [],
          "origin": {"label": "from preset", "yaml": result["yaml"], "picks": True}}
    picks, ms, size = {"Backbone": "yolov8", "Scale": "n"}, [], []
    for label, value in plan:
        picks[label] = value
        fn = d.on_scale if label == "Scale" else d.on_picks
        t0 = time.perf_counter()
        out = fn(picks["Backbone"], "yolov8-pan", "yolov8", picks["Scale"], 80, 640, st)
        ms.append(round((time.perf_counter() - t0) * 1000, 2))
        st = out[-1]
        size.append(_payload(out[:-1]))
    return ms, size


def _summary(values: list[float]) -> dict:
    return {"median_ms": _stat(statistics.median, values), "p95_ms": _stat(p95, values), "browser_ms": values}


def p95(values: list[float]) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, round(0.95 * (len(s) - 1)))]


def _stat(fn, values: list[float]):
    return round(fn(values), 1) if values else None


def main() -> None:
    from playwright.sync_api import sync_playwright

    from app import handlers as h
    from app.main import serve_in_background

    if "--threads" in sys.argv:
        torch.set_num_threads(int(sys.argv[sys.argv.index("--threads") + 1]))
    port, floor_port, direct_port = free_port(), free_port(), free_port()
    stop = serve_in_background("127.0.0.1", port)
    stop_floor, stop_direct = serve_floor(floor_port), serve_floor(direct_port, queue=False)
    floor_url, direct_url = f"http://127.0.0.1:{floor_port}/", f"http://127.0.0.1:{direct_port}/"
    h.evaluate.cache_clear()
    plan, browser_ms, driver_ms = steps(), [], []
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        page = b.new_page(viewport={"width": 1440, "height": 1000})
        page.set_default_timeout(60000)
        # the floor: half before our changes, half after, so a change of the machine's load hits both
        floor_ms, direct_ms = time_floor(page, floor_url, FLOOR_CHANGES // 2), time_floor(page, direct_url, FLOOR_CHANGES // 2)
        cold = browser_picks(page, f"http://127.0.0.1:{port}/", plan)
        warm = browser_picks(page, f"http://127.0.0.1:{port}/", plan)  # a new session, the same designs: cached
        browser_ms, driver_ms = cold["browser_ms"], cold["driver_ms"]
        # the edits: a fresh session, so the default design again
        page.goto(f"http://127.0.0.1:{port}/")
        page.wait_for_selector("#summary #stat-params")
        page.evaluate(WATCH)
        edits = browser_edits(page)
        floor_ms += time_floor(page, floor_url, FLOOR_CHANGES - FLOOR_CHANGES // 2)
        direct_ms += time_floor(page, direct_url, FLOOR_CHANGES - FLOOR_CHANGES // 2)
        b.close()
    stop()
    stop_floor()
    stop_direct()

    # the server's share: the same 20 designs evaluated directly, cold
    h.evaluate.cache_clear()
    server_ms, backbone, scale = [], "yolov8", "n"
    for label, value in plan:
        backbone, scale = (backbone, value) if label == "Scale" else (value, scale)
        t0 = time.perf_counter()
        h.evaluate(h.picks_source(backbone, "yolov8-pan", "yolov8", scale, 80), 640)  # what on_picks does
        server_ms.append((time.perf_counter() - t0) * 1000)
    handler_ms, payload = picker_handlers(plan)

    for row, server in zip(edits, server_edits()):
        row.update(server)
        if row["ok"] and row.get("params_after") != server.get("server_params"):
            row["ok"] = False
            row["error"] = f"page shows {row.get('params_after')}, server says {server.get('server_params')}"
    done = [e for e in edits if e["ok"]]
    e_browser = [e["browser_ms"] for e in done]
    e_handler = [e["handler_ms"] for e in done]
    applied = [e for e in done if e["kind"] != "undo"]
    by_kind = lambda pred: [e["browser_ms"] for e in done if pred(e["kind"])]  # noqa: E731

    result = {
        "benchmark": "picker change / block edit -> updated numbers on the page (Chromium, local server)",
        "changes": [{"picker": lbl, "value": v, "browser_ms": round(b_, 1), "server_ms": round(s, 1),
                     "playwright_ms": round(d, 1)}
                    for (lbl, v), b_, s, d in zip(plan, browser_ms, server_ms, driver_ms)],
        "browser_median_ms": round(statistics.median(browser_ms), 1), "browser_p95_ms": round(p95(browser_ms), 1),
        "server_median_ms": round(statistics.median(server_ms), 1), "server_p95_ms": round(p95(server_ms), 1),
        "playwright_median_ms": round(statistics.median(driver_ms), 1),
        "handler_warm_median_ms": _stat(statistics.median, handler_ms), "handler_warm_ms": handler_ms,
        "payload_bytes_median": round(statistics.median(payload)),
        "events_per_change": cold["events"],
        "warm": {**_summary([round(x, 1) for x in warm["browser_ms"]]), "events_per_change": warm["events"]},
        "floor": {"what": "bare gr.Blocks: one Dropdown whose .change returns one HTML line; the app's server "
                          "wrapper and queue; press -> line changed", **_summary(floor_ms)},
        "floor_no_queue": {"what": "the same page, its handler wired with queue=False", **_summary(direct_ms)},
        "edits": edits,
        "edit_summary": {
            "timed": len(edits), "failed": len(edits) - len(done),
            "browser_median_ms": _stat(statistics.median, e_browser), "browser_p95_ms": _stat(p95, e_browser),
            "inspector_browser_median_ms": _stat(statistics.median, by_kind(lambda k: k == "inspector")),
            "panel_browser_median_ms": _stat(statistics.median, by_kind(lambda k: k != "inspector")),
            "server_edit_design_median_ms": _stat(statistics.median, [e["server_ms"] for e in applied]),
            "server_edit_design_p95_ms": _stat(p95, [e["server_ms"] for e in applied]),
            "server_edit_design_warm_median_ms": _stat(statistics.median, [e["server_warm_ms"] for e in applied]),
            "server_undo_evaluate_median_ms": _stat(statistics.median,
                                                    [e["server_ms"] for e in done if e["kind"] == "undo"]),
            "handler_median_ms": _stat(statistics.median, e_handler), "handler_p95_ms": _stat(p95, e_handler),
            "playwright_median_ms": _stat(statistics.median, [e["playwright_ms"] for e in done]),
            "events_per_edit": [e.get("events") for e in done],
            "within_picker_budget": bool(e_browser) and len(done) == len(edits)
            and statistics.median(e_browser) <= statistics.median(browser_ms) and p95(e_browser) <= p95(browser_ms),
        },
        "goal": {"p95_over_floor_p95_at_most": GOAL,
                 "picks": round(p95(browser_ms) / p95(floor_ms), 2),
                 "picks_warm": round(p95(warm["browser_ms"]) / p95(floor_ms), 2),
                 "edits": round(p95(e_browser) / p95(floor_ms), 2) if e_browser else None},
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(), "platform": platform.platform()},
    }
    out = os.path.join(ROOT, "bench", "results", "browser.json")
    os.makedirs(os.path.dirname(out), exist_ok=True)
    with open(out, "w") as fh:
        json.dump(result, fh, indent=1)
    print(json.dumps({k: v for k, v in result.items() if k not in ("changes", "edits")}, indent=1))
    for e in edits:
        print(e["edit"], e.get("browser_ms"), e.get("server_ms"), e.get("handler_ms"), e.get("error", ""))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
