"""What the Explore tab draws, as plain strings: the scatter of params vs GFLOPs (both axes logarithmic:
the catalogue spans 0.4 to 100 M parameters), one point per design, coloured by head, the Pareto front
drawn as a line through its points (larger, outlined), the designs measured on this machine ringed; the
small scatter of measured latency vs GFLOPs of those designs; and the table of the same designs, with
their latency. Every point and every row carries `data-i`, the design's index in the explored rows,
which app/explore_tab.py's script turns into a click event. A row's latency is `latency` (the newest
record of engine/deploy/latency_store.py, None when not measured) and `latency_ms`, its median."""
from __future__ import annotations

import math
from html import escape

HEADS = {"yolov5": "#2563eb", "yolov8": "#059669", "yolo11": "#d97706", "yolo26": "#7c3aed"}
OTHER = "#64748b"  # a recipe on a preset without picks
W, H, LEFT, RIGHT, TOP, BOTTOM = 760, 450, 58, 18, 58, 46
RING = "#0f172a"  # the ring around a measured design
# (row key, scale to the axis' unit, axis label) of each axis drawn
PARAMS = ("params", 1e-6, "parameters (M, log scale)")
GFLOPS = ("gflops", 1.0, "GFLOPs (log scale)")
LATENCY = ("latency_ms", 1.0, "latency (ms, log scale)")


def _decades(lo: float, hi: float) -> list[float]:
    """1, 2, 5 x 10^k ticks covering lo..hi."""
    out = []
    for k in range(math.floor(math.log10(lo)), math.ceil(math.log10(hi)) + 1):
        out += [m * 10 ** k for m in (1, 2, 5) if lo <= m * 10 ** k <= hi]
    return out


def latency_text(rec: dict | None) -> str:
    """'41.2 (onnx, 2 thr)': a latency record's median ms, backend and threads; '' for none."""
    return f"{rec['median_ms']:.3g} ({rec['backend']}, {rec['threads']} thr)" if rec else ""


def _about(rec: dict) -> str:
    return (f"measured {rec['median_ms']:.3g} ms median, p90 {rec['p90_ms']:.3g} ms: {rec['backend']}, "
            f"{rec['threads']} thread{'s' if rec['threads'] != 1 else ''}, {rec['imgsz']} px, on {rec['cpu']}, "
            f"{rec['date']}")


def _label(row: dict) -> str:
    rec = row.get("latency")
    return (f"{row['name']}\n{row['params'] / 1e6:.2f} M params, {row['gflops']:.2f} GFLOPs, {row['layers']} layers"
            + ("\non the Pareto front" if row["pareto"] else "") + (f"\n{_about(rec)}" if rec else "")
            + "\nclick to load it into the designer")


def scatter_svg(rows: list[dict], index: dict[str, int], title: str, xaxis=PARAMS, yaxis=GFLOPS, svg_id="explore-svg",
                height: int = H, empty: str = "No design to show: press Explore, or widen the filters",
                named: bool = False) -> str:
    """`rows` (each with name, head, pareto and the axes' keys) as a log-log scatter of `xaxis` and `yaxis` (PARAMS,
    GFLOPS, LATENCY), the front drawn, measured designs ringed; `index`: name -> data-i. `named`: a few
    points, each drawn full size with its name beside it, nothing ringed."""
    H = height  # this plot's height (the module's H by default)
    head = (f'<svg id="{svg_id}" class="yld-explore" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {W} {H}" '
            f'style="width:100%;max-width:{W}px;height:auto;background:white;border:1px solid #e2e8f0;'
            f'border-radius:10px" font-family="ui-sans-serif, system-ui, sans-serif" font-size="11" role="img" '
            f'aria-label="{escape(title)}"><style>.pt{{cursor:pointer}} .pt:hover circle{{stroke:#0f172a;'
            f'stroke-width:2}} .pt:focus{{outline:none}} .pt:focus circle{{stroke:#0f172a;stroke-width:2.5}}</style>'
            f'<text x="{LEFT}" y="22" font-size="13" font-weight="600" fill="#0f172a">{escape(title)}</text>')
    if not rows:
        return head + (f'<text x="{W / 2}" y="{H / 2}" text-anchor="middle" fill="#94a3b8">{escape(empty)}'
                       f'</text></svg>')
    fx = lambda r: max(r[xaxis[0]] * xaxis[1], 1e-3)  # noqa: E731
    fy = lambda r: max(r[yaxis[0]] * yaxis[1], 1e-3)  # noqa: E731
    xs, ys = [fx(r) for r in rows], [fy(r) for r in rows]
    x0, x1 = min(xs) / 1.25, max(xs) * 1.25
    y0, y1 = min(ys) / 1.25, max(ys) * 1.25

    def sx(x):
        return LEFT + (math.log(x) - math.log(x0)) / (math.log(x1) - math.log(x0)) * (W - LEFT - RIGHT)

    def sy(y):
        return H - BOTTOM - (math.log(y) - math.log(y0)) / (math.log(y1) - math.log(y0)) * (H - TOP - BOTTOM)

    out = [head]
    for x in _decades(x0, x1):
        out.append(f'<line x1="{sx(x):.1f}" x2="{sx(x):.1f}" y1="{TOP}" y2="{H - BOTTOM}" stroke="#f1f5f9"/>'
                   f'<text x="{sx(x):.1f}" y="{H - BOTTOM + 16}" text-anchor="middle" fill="#64748b">{x:g}</text>')
    for y in _decades(y0, y1):
        out.append(f'<line x1="{LEFT}" x2="{W - RIGHT}" y1="{sy(y):.1f}" y2="{sy(y):.1f}" stroke="#f1f5f9"/>'
                   f'<text x="{LEFT - 6}" y="{sy(y) + 4:.1f}" text-anchor="end" fill="#64748b">{y:g}</text>')
    out.append(f'<text x="{(LEFT + W - RIGHT) / 2}" y="{H - 8}" text-anchor="middle" fill="#334155">{xaxis[2]}</text>'
               f'<text x="14" y="{(TOP + H - BOTTOM) / 2}" text-anchor="middle" fill="#334155" '
               f'transform="rotate(-90 14 {(TOP + H - BOTTOM) / 2})">{yaxis[2]}</text>')
    front = sorted((r for r in rows if r["pareto"]), key=fx)
    if len(front) > 1:
        path = " ".join(f"{'M' if k == 0 else 'L'}{sx(fx(r)):.1f},{sy(fy(r)):.1f}" for k, r in enumerate(front))
        out.append(f'<path d="{path}" fill="none" stroke="#dc2626" stroke-width="1.5" stroke-dasharray="4 3"/>')
    for r in sorted(rows, key=lambda r: (r["pareto"], r.get("latency") is not None)):  # front, measured on top
        colour = HEADS.get(r.get("head") or "", OTHER)
        front_pt, measured = r["pareto"], r.get("latency") is not None and not named
        big = front_pt or named
        px, py = sx(fx(r)), sy(fy(r))
        ring = (f'<circle class="ring" cx="{px:.1f}" cy="{py:.1f}" r="{9.5 if big else 7}" fill="none" '
                f'stroke="{RING}" stroke-width="1.6"/>') if measured else ""
        right = px > W * 0.7  # a name near the right edge goes left of its point
        name = (f'<text x="{px - 9 if right else px + 9:.1f}" y="{py + 4:.1f}" font-size="10" fill="#334155" '
                f'text-anchor="{"end" if right else "start"}">{escape(r["name"])}</text>') if named else ""
        out.append(f'<g class="pt{" front" if front_pt else ""}{" measured" if measured else ""}" '
                   f'data-i="{index[r["name"]]}" tabindex="0" role="button" data-name="{escape(r["name"])}">'
                   f'<title>{escape(_label(r))}</title>{ring}<circle cx="{px:.1f}" cy="{py:.1f}" '
                   f'r="{6 if big else 3.2}" fill="{colour}" fill-opacity="{1 if big else 0.55}" '
                   f'stroke="{"#dc2626" if front_pt else "white"}" stroke-width="{2 if front_pt else 0.6}"/>{name}</g>')
    out.append(_legend(marks=not named))
    out.append("</svg>")
    return "".join(out)


def _legend(marks: bool = True) -> str:
    """The heads' colours, then (`marks`) what the red outline and the ring mean."""
    out, x = [f'<text x="{LEFT}" y="42" fill="#334155">head:</text>'], LEFT + 42
    more = [("Pareto front", "#dc2626"), ("latency measured", RING)] if marks else []
    for name, colour in [*HEADS.items(), ("recipe (preset w/o picks)", OTHER), *more]:
        outline = name in ("Pareto front", "latency measured")
        shape = (f'<circle cx="{x}" cy="38" r="5" fill="white" stroke="{colour}" stroke-width="2"/>' if outline
                 else f'<circle cx="{x}" cy="38" r="4.5" fill="{colour}"/>')
        out.append(f'{shape}<text x="{x + 8}" y="42" fill="#334155">{escape(name)}</text>')
        x += 20 + 6.4 * len(name)
    return "".join(out)


def latency_svg(rows: list[dict], index: dict[str, int], imgsz: int) -> str:
    """The measured designs among `rows`: latency vs GFLOPs (log-log), clickable as the main scatter."""
    measured = [{**r, "pareto": False} for r in rows if r.get("latency_ms")]
    title = f"latency vs GFLOPs — {len(measured)} of these designs measured on this machine at {imgsz} px"
    return scatter_svg(measured, index, title, GFLOPS, LATENCY, "explore-latency-svg", 300,
                       "None of these designs measured here at this size yet: Measure in the Design tab, or "
                       "launch.py explore --measure-front", named=len(measured) <= 12)


COLUMNS = [("name", "design"), ("kind", "kind"), ("params", "params"), ("gflops", "GFLOPs"),
           ("fused_gflops", "fused GFLOPs"), ("layers", "layers"), ("pareto", "front"), ("latency_ms", "latency ms")]


def table_html(rows: list[dict], index: dict[str, int]) -> str:
    """The designs shown, fewest parameters first; a row click loads the design (the same `data-i`)."""
    head = "".join(f"<th>{escape(label)}</th>" for _, label in COLUMNS)
    body = []
    for r in sorted(rows, key=lambda r: (r["params"], r["gflops"])):
        rec = r.get("latency")
        cells = [escape(r["name"]), r["kind"], f"{r['params']:,}", f"{r['gflops']:.2f}", f"{r['fused_gflops']:.2f}",
                 str(r["layers"]), "★" if r["pareto"] else "",
                 f'<span class="yld-latency" title="{escape(_about(rec))}">{escape(latency_text(rec))}</span>'
                 if rec else ""]
        body.append(f'<tr data-i="{index[r["name"]]}" tabindex="0" title="click to load it into the designer"'
                    f'{" class=front" if r["pareto"] else ""}>' + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    return (f'<div class="yld-explore-table" style="max-height:420px;overflow:auto"><table style="width:100%;'
            f'border-collapse:collapse;font-size:0.85rem;font-variant-numeric:tabular-nums"><thead><tr>{head}</tr>'
            f'</thead><tbody>{"".join(body)}</tbody></table></div>')


def status_html(shown: int, front: int, tried: int, left_out: dict, imgsz: int, nc: int, seconds: float) -> str:
    """One line on what the plot holds, and why designs were left out (in a details block)."""
    why = "".join(f"<li>{n} × {escape(reason)}</li>" for reason, n in left_out.items())
    more = (f"<details><summary>{sum(left_out.values())} of {tried} combinations make no model</summary>"
            f"<ul>{why}</ul></details>") if left_out else ""
    return (f'<div class="yld-note" id="explore-status">{shown} designs at {imgsz} px, {nc} classes, {front} on '
            f'the Pareto front (most params for the GFLOPs) (counted in {seconds:.1f} s). Click a point or a row to load '
            f'it into the designer.{more}</div>')
