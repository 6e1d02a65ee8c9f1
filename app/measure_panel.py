"""The Design tab's Measure panel: the current design's deploy form timed on this machine (median, p90,
threads), where the time goes per layer (a latency-share bar beside the FLOP-share bar of each layer),
the memory traffic, and the roofline estimate of a few devices with this machine's row beside its
measured latency (engine/deploy/measure.py does the work). The Compare accordion's latency-vs-GFLOPs
plot of the pins that were measured lives here too.

The last measurement is kept in the session state as plain data, `st["latency"]` = {yaml, imgsz,
backend, threads, median_ms, p90_ms, layer_ms: {layer index: ms}}: a pin of the same design at the
same size carries its median (`measured_ms`), and the layer table can show `layer_ms`. The measuring
runs in a child process (engine/deploy/isolated.py): if it crashes or hangs the panel says so, the
server and the session go on.
Functions first (plain data, tested without a browser), then the layout and the wiring."""
from __future__ import annotations

from html import escape

import gradio as gr

from engine.deploy.isolated import IsolatedError, Job, run_isolated
from engine.deploy.latency import BACKENDS, cores
from engine.deploy.page_jobs import MEASURE, layer_ms_by_index

from . import handlers as h
from .charts import scatter_chart
from .layer_table import table_html
from .views import error_html

BUDGET_S = 4.0  # timing budget of one Measure click (the profile takes about half as long again)
# run in a child process (engine/deploy/isolated.py): a native crash there ends that process, not the server
MEASURE_JOB = Job("Measuring", "the measuring process", "try again or pick another backend", timeout_s=180,
                  preload=("engine.deploy.page_jobs", "engine.deploy.measure", "onnxruntime"))
LATENCY_COLOUR, FLOPS_COLOUR = "#2563eb", "#f59e0b"


# ---------------------------------------------------------------- handlers

def measured_ms(st: dict, imgsz) -> float | str:
    """The median of the last measurement when it is of the state's design at `imgsz`, else ''."""
    last = (st or {}).get("latency") or {}
    same = last.get("yaml") == (st or {}).get("yaml") and int(last.get("imgsz", -1)) == int(imgsz or 640)
    return round(last["median_ms"], 2) if same and last.get("median_ms") else ""


def on_measure(size, backend, threads, st):
    """Measure the state's design at `size`: (the panel's HTML, the new state); a failure says why in
    the panel and leaves the state as it was."""
    size = int(size or 640)
    result = h.evaluate(st["yaml"], size, st.get("name", "model"))
    if not result["ok"]:
        return error_html(result["error"]), gr.skip()
    try:
        out = run_isolated(MEASURE, {"yaml": st["yaml"], "imgsz": size, "per_layer": result["counts"]["per_layer"],
                                     "backend": backend or "onnx", "threads": int(threads) if threads else None,
                                     "budget_s": BUDGET_S}, MEASURE_JOB)
    except IsolatedError as err:
        return error_html(str(err)), gr.skip()
    if "error" in out:
        return error_html(f"could not measure: {out['error']}"), gr.skip()
    out = layer_ms_by_index(out)
    kept = {"yaml": st["yaml"], "imgsz": size, "backend": out["backend"], "threads": out["threads"],
            "median_ms": out["median_ms"], "p90_ms": out["p90_ms"], "layer_ms": dict(out["profile"]["layer_ms"])}
    return measure_html(out, result["counts"]), {**st, "latency": kept}


def measured_layer_ms(st: dict, text: str, imgsz) -> dict[int, float] | None:
    """{layer index: ms} of the last measurement when it is of design `text` at `imgsz`, else None."""
    last = (st or {}).get("latency") or {}
    if not last.get("layer_ms") or last.get("yaml") != text or int(last.get("imgsz", -1)) != int(imgsz or 640):
        return None
    return {int(k): v for k, v in last["layer_ms"].items()}


def measured_svg(result: dict, st: dict, text: str, imgsz) -> str:
    """The graph of `result` (handlers.evaluate's), with each layer's time-share bar when the last
    measurement is of this design at this size."""
    ms = measured_layer_ms(st, text, imgsz)
    return (h.timed_svg(text, int(imgsz or 640), ms, result.get("name", "model")) if ms else None) or result["svg"]


def latency_columns(st: dict, text: str, imgsz) -> dict | None:
    """The layer table's extra columns for design `text` at `imgsz` when the last measurement is of it:
    {"ms": {layer: ms}, "time %": {layer: share}}; None otherwise (the table shows no latency)."""
    ms = measured_layer_ms(st, text, imgsz)
    if ms is None:
        return None
    total = sum(ms.values()) or 1.0
    return {"ms": {k: f"{v:.2f}" for k, v in ms.items()}, "time %": {k: f"{100 * v / total:.1f}" for k, v in ms.items()}}


def on_measured_table(size, st):
    """After a measurement: the graph with a time-share bar on each layer and the layer table with its
    ms / time % columns, and the state's digest of what the page shows (so the next design change knows
    both differ). Out: (graph, table, state)."""
    if not (st or {}).get("latency"):
        return gr.skip(), gr.skip(), gr.skip()
    size = int(size or 640)
    result = h.evaluate(st["yaml"], size, st.get("name", "model"))  # cached: the design Measure just timed
    if not result["ok"]:
        return gr.skip(), gr.skip(), gr.skip()
    svg = measured_svg(result, st, st["yaml"], size)
    table = table_html(result["table"], extra=latency_columns(st, st["yaml"], size))
    return svg, table, {**st, "drawn": [hash(svg), hash(table)]}


def _bar(share: float, colour: str, kind: str) -> str:
    width = max(0.0, min(share, 1.0)) * 100
    return (f'<div class="yld-bar" data-kind="{kind}" style="display:flex;align-items:center;gap:6px;height:11px">'
            f'<div style="flex:1;background:#f1f5f9;height:9px;border-radius:3px">'
            f'<div style="width:{width:.1f}%;background:{colour};height:9px;border-radius:3px"></div></div>'
            f'<span style="width:44px;text-align:right;font-size:11px;color:#475569">{share:.1%}</span></div>')


def bars_html(rows: list[dict]) -> str:
    """Per layer: its latency share (blue) over its FLOP share (amber)."""
    out = ['<div id="latency-bars" style="display:grid;grid-template-columns:minmax(150px,auto) 1fr;'
           'gap:3px 10px;font-size:12px">']
    for r in rows:
        out.append(f'<div class="yld-bar-label" data-layer="{r["index"]}" style="white-space:nowrap;color:#0f172a">'
                   f'{r["index"]} {escape(r["module"])} <span style="color:#64748b">{r["ms"]:.2f} ms</span></div>'
                   f'<div class="yld-bar-pair" data-layer="{r["index"]}" data-latency-share="{r["share"]:.4f}" '
                   f'data-flop-share="{r["flop_share"]:.4f}">{_bar(r["share"], LATENCY_COLOUR, "latency")}'
                   f'{_bar(r["flop_share"], FLOPS_COLOUR, "flops")}</div>')
    out.append("</div>")
    return "".join(out)


def _roofline_row(r: dict) -> str:
    measured = f'{r["measured_ms"]:.2f} ({r["measured_over_estimate"]:.1f}× the estimate)' if r.get("measured_ms") else ""
    return (f'<tr data-device="{escape(r["key"])}"><td title="{escape(r["source"])}">{escape(r["name"])}</td>'
            f'<td>{r["gflops"]:,.0f}</td><td>{r["gbps"]:.1f}</td><td>{r["estimate_ms"]:.2f}</td><td>{measured}</td></tr>')


def roofline_html(rows: list[dict]) -> str:
    """The roofline table (this machine's row first, with its measured latency) and its sources."""
    sources = "".join(f"<li>{escape(r['name'])}: {escape(r['source'])}</li>" for r in rows)
    return ('<table id="roofline" style="font-size:12px;border-collapse:collapse;width:100%;margin-top:8px">'
            '<tr style="text-align:left;color:#475569"><th>device</th><th>peak GFLOP/s</th><th>GB/s</th>'
            '<th>estimate ms</th><th>measured ms</th></tr>' + "".join(map(_roofline_row, rows)) + "</table>"
            '<div style="font-size:11px;color:#64748b">Roofline <b>estimate</b>: per layer the longer of its FLOPs '
            'at peak compute and its bytes at peak bandwidth, summed — peaks real kernels rarely reach, so it is '
            f'a lower bound.<details><summary>sources</summary><ul>{sources}</ul></details></div>')


def measure_html(out: dict, counts: dict) -> str:
    """The panel: the timing line, the profile's check, the bars, the traffic, the roofline table."""
    prof = out["profile"]
    other = ", ".join(f"{escape(k)} {v:.2f} ms" for k, v in prof["other_ms"].items()) or "none"
    return (f'<div id="latency-result" data-median-ms="{out["median_ms"]:.3f}" data-p90-ms="{out["p90_ms"]:.3f}" '
            f'data-threads="{out["threads"]}" data-ratio="{prof["ratio"]:.3f}">'
            f'<div style="font-size:15px;font-weight:600">median {out["median_ms"]:.2f} ms · p90 {out["p90_ms"]:.2f} ms'
            f' · {out["threads"]} thread{"s" if out["threads"] != 1 else ""}</div>'
            f'<div style="font-size:12px;color:#475569">{escape(out["backend_label"])} on {escape(out["cpu"])}, '
            f'{out["imgsz"]}×{out["imgsz"]}, deploy form (BatchNorm folded, RepVGG re-parameterised); p10 '
            f'{out["p10_ms"]:.2f} ms, 95% interval of the median {out["ci_ms"][0]:.2f}–{out["ci_ms"][1]:.2f} ms, '
            f'{out["runs"]} runs after {out["warmup_runs"]} warm-up. Per-layer profile ({escape(prof["how"])}, '
            f'{prof["runs"]} runs): the layers sum to {prof["sum_ms"]:.2f} ms = {prof["ratio"]:.2f}× the median '
            f'({prof["coverage"] or 0:.2f}× the profiled runs\' own time); '
            f'nodes of no layer: {other}.</div>'
            f'<div style="font-size:12px;margin:6px 0">Memory traffic {counts["mac_bytes"] / 1e6:.1f} MB a forward at '
            f'fp32 ({counts["mac_bytes_int8"] / 1e6:.1f} MB at int8). Per layer: '
            f'<span style="color:{LATENCY_COLOUR}">■ share of the measured time</span> '
            f'<span style="color:{FLOPS_COLOUR}">■ share of the FLOPs</span></div>'
            f'{bars_html(prof["per_layer"])}{roofline_html(out["roofline"])}</div>')


def latency_plot(pins: list[dict]) -> str:
    """Measured latency against GFLOPs, one named point per pin that carries a latency."""
    points = [(p["name"], float(p["GFLOPs"]), float(p["latency ms"])) for p in pins or [] if p.get("latency ms")]
    return scatter_chart(points, "latency vs GFLOPs (measured pins: Measure, then Pin)", "GFLOPs",
                         "latency (ms)", "latency-plot")


def on_pins(st):
    return latency_plot((st or {}).get("pins", []))


# ---------------------------------------------------------------- layout and wiring

def build_measure_panel() -> dict:
    """The panel's components (an accordion, placed where this is called); wire with `wire_measure_panel`."""
    ui = {}
    with gr.Accordion("Measure latency on this machine", open=False, elem_id="measure-panel"):
        with gr.Row():
            ui["backend"] = gr.Radio(list(BACKENDS), value="onnx", label="Backend", elem_id="measure-backend",
                                     info="onnx: onnxruntime; openvino needs the openvino package; torch: eager")
            ui["threads"] = gr.Number(cores(), label="Threads", precision=0, minimum=1, maximum=256,
                                      elem_id="measure-threads")
            ui["go"] = gr.Button("Measure", variant="primary", elem_id="measure")
        ui["out"] = gr.HTML('<div class="yld-ok">Times the deploy form of the design at the image size above '
                            '(a few seconds); nothing is measured until you click.</div>', elem_id="measure-out")
    return ui


def build_latency_plot():
    """The latency-vs-GFLOPs plot of the pins (place it in the Compare accordion)."""
    return gr.HTML(latency_plot([]), elem_id="latency-plot")


def wire_measure_panel(ui: dict, state, imgsz, plot=None, table=None, graph=None) -> None:
    # one measurement at a time for the whole server: two at once would each time the other
    done = ui["go"].click(on_measure, [imgsz, ui["backend"], ui["threads"], state], [ui["out"], state],
                          concurrency_limit=1, concurrency_id="measure", api_visibility="private")
    if table is not None and graph is not None:  # the measured ms and time share of each layer, shown
        done.then(on_measured_table, [imgsz, state], [graph, table, state], show_progress="hidden",
                  api_visibility="private")
    if plot is not None:
        state.change(on_pins, [state], [plot], show_progress="hidden", api_visibility="private")
