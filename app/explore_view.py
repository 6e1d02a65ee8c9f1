"""What the Explore tab draws, as plain strings: the scatter of params vs GFLOPs (both axes logarithmic:
the catalogue spans 0.4 to 100 M parameters), one point per design, coloured by head, the Pareto front
drawn as a line through its points (larger, outlined); and the table of the same designs. Every point
and every row carries `data-i`, the design's index in the explored rows, which app/explore_tab.py's
script turns into a click event."""
from __future__ import annotations

import math
from html import escape

HEADS = {"yolov5": "#2563eb", "yolov8": "#059669", "yolo11": "#d97706", "yolo26": "#7c3aed"}
OTHER = "#64748b"  # a recipe on a preset without picks
W, H, LEFT, RIGHT, TOP, BOTTOM = 760, 450, 58, 18, 58, 46


def _decades(lo: float, hi: float) -> list[float]:
    """1, 2, 5 x 10^k ticks covering lo..hi."""
    out = []
    for k in range(math.floor(math.log10(lo)), math.ceil(math.log10(hi)) + 1):
        out += [m * 10 ** k for m in (1, 2, 5) if lo <= m * 10 ** k <= hi]
    return out


def _label(row: dict) -> str:
    return (f"{row['name']}\n{row['params'] / 1e6:.2f} M params, {row['gflops']:.2f} GFLOPs, {row['layers']} layers"
            + ("\non the Pareto front" if row["pareto"] else "") + "\nclick to load it into the designer")


def scatter_svg(rows: list[dict], index: dict[str, int], title: str) -> str:
    """`rows` (each with params, gflops, pareto, head, name) as a log-log scatter; `index`: name -> data-i."""
    head = (f'<svg id="explore-svg" class="yld-explore" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {W} {H}" '
            f'style="width:100%;max-width:{W}px;height:auto;background:white;border:1px solid #e2e8f0;'
            f'border-radius:10px" font-family="ui-sans-serif, system-ui, sans-serif" font-size="11" role="img" '
            f'aria-label="{escape(title)}"><style>.pt{{cursor:pointer}} .pt:hover circle{{stroke:#0f172a;'
            f'stroke-width:2}} .pt:focus{{outline:none}} .pt:focus circle{{stroke:#0f172a;stroke-width:2.5}}</style>'
            f'<text x="{LEFT}" y="22" font-size="13" font-weight="600" fill="#0f172a">{escape(title)}</text>')
    if not rows:
        return head + (f'<text x="{W / 2}" y="{H / 2}" text-anchor="middle" fill="#94a3b8">No design to show: '
                       f'press Explore, or widen the filters</text></svg>')
    xs, ys = [r["params"] / 1e6 for r in rows], [max(r["gflops"], 1e-3) for r in rows]
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
    out.append(f'<text x="{(LEFT + W - RIGHT) / 2}" y="{H - 8}" text-anchor="middle" fill="#334155">parameters (M, '
               f'log scale)</text><text x="14" y="{(TOP + H - BOTTOM) / 2}" text-anchor="middle" fill="#334155" '
               f'transform="rotate(-90 14 {(TOP + H - BOTTOM) / 2})">GFLOPs (log scale)</text>')
    front = sorted((r for r in rows if r["pareto"]), key=lambda r: r["params"])
    if len(front) > 1:
        path = " ".join(f"{'M' if k == 0 else 'L'}{sx(r['params'] / 1e6):.1f},{sy(max(r['gflops'], 1e-3)):.1f}"
                        for k, r in enumerate(front))
        out.append(f'<path d="{path}" fill="none" stroke="#dc2626" stroke-width="1.5" stroke-dasharray="4 3"/>')
    for r in sorted(rows, key=lambda r: r["pareto"]):  # the front drawn last, on top
        colour = HEADS.get(r.get("head") or "", OTHER)
        big = r["pareto"]
        out.append(f'<g class="pt{" front" if big else ""}" data-i="{index[r["name"]]}" tabindex="0" role="button" '
                   f'data-name="{escape(r["name"])}"><title>{escape(_label(r))}</title>'
                   f'<circle cx="{sx(r["params"] / 1e6):.1f}" cy="{sy(max(r["gflops"], 1e-3)):.1f}" '
                   f'r="{6 if big else 3.2}" fill="{colour}" fill-opacity="{1 if big else 0.55}" '
                   f'stroke="{"#dc2626" if big else "white"}" stroke-width="{2 if big else 0.6}"/></g>')
    out.append(_legend())
    out.append("</svg>")
    return "".join(out)


def _legend() -> str:
    out, x = [], LEFT + 4
    for name, colour in [*HEADS.items(), ("recipe on a preset without picks", OTHER), ("Pareto front", "#dc2626")]:
        shape = (f'<circle cx="{x}" cy="38" r="4.5" fill="{colour}"/>' if name != "Pareto front" else
                 f'<circle cx="{x}" cy="38" r="5" fill="white" stroke="{colour}" stroke-width="2"/>')
        label = f"head {name}" if name in HEADS else name
        out.append(f'{shape}<text x="{x + 8}" y="42" fill="#334155">{escape(label)}</text>')
        x += 20 + 6.4 * len(label)
    return "".join(out)


COLUMNS = [("name", "design"), ("kind", "kind"), ("params", "params"), ("gflops", "GFLOPs"),
           ("fused_gflops", "fused GFLOPs"), ("layers", "layers"), ("pareto", "front")]


def table_html(rows: list[dict], index: dict[str, int]) -> str:
    """The designs shown, fewest parameters first; a row click loads the design (the same `data-i`)."""
    head = "".join(f"<th>{escape(label)}</th>" for _, label in COLUMNS)
    body = []
    for r in sorted(rows, key=lambda r: (r["params"], r["gflops"])):
        cells = [escape(r["name"]), r["kind"], f"{r['params']:,}", f"{r['gflops']:.2f}", f"{r['fused_gflops']:.2f}",
                 str(r["layers"]), "★" if r["pareto"] else ""]
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
