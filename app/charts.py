"""Small SVG charts as plain strings, so they update cheaply every second and look the same
everywhere: line charts for the Train tab (loss per batch, mAP per epoch; round ticks on both axes,
a legend laid out by its text) and the Design tab's named scatter plot."""
from __future__ import annotations

import math
from html import escape

COLOURS = ["#2563eb", "#dc2626", "#059669", "#d97706", "#7c3aed"]
W, H, L, R, B = 460, 280, 52, 14, 46  # the line chart's size and margins (its top follows the legend)
CHAR_W = 6.4  # an 11 px sans-serif character, wide enough for digits (legend layout)


def _step(raw: float) -> float:
    """The round step (1, 2, 2.5, 5 x 10^k) at least `raw`."""
    mag = 10 ** math.floor(math.log10(raw))
    return next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw * 0.999)


def nice_ticks(lo: float, hi: float, n: int = 5, integer: bool = False) -> list[float]:
    """About `n` round tick values (1, 2, 2.5, 5 x 10^k steps) from lo to hi inclusive."""
    if hi <= lo:
        return [lo]
    step = _step((hi - lo) / n)
    if integer:
        step = max(1, math.ceil(step))
    first = math.ceil(lo / step - 1e-9) * step
    count = int(math.floor((hi - first) / step + 1e-9)) + 1
    return [round(first + k * step, 10) for k in range(max(count, 0))]


def nice_top(value: float, cap: float | None = None) -> float:
    """A round axis top just above `value` (at most `cap`)."""
    value = max(value, 1e-9)
    step = _step(value / 4)
    top = math.ceil(value * 1.02 / step) * step
    return min(top, cap) if cap else top


def _fmt(v: float) -> str:
    return f"{v:.4g}" if abs(v) >= 1e-3 or v == 0 else f"{v:.1e}"


def legend_rows(names: list[str], width: float) -> list[list[tuple[int, float]]]:
    """Legend entries (index, x offset) per row: each as wide as its text, wrapped to `width`."""
    rows, x = [[]], 0.0
    for i, text in enumerate(names):
        w = 16 + len(text) * CHAR_W + 14
        if rows[-1] and x + w > width:
            rows.append([])
            x = 0.0
        rows[-1].append((i, x))
        x += w
    return rows


def line_chart(series: dict[str, list[tuple[float, float]]], title: str, x_label: str, chart_id: str,
               y_max: float | None = None, *, faint: dict[str, list[tuple[float, float]]] | None = None,
               marks: list[float] = (), y_label: str = "", x_min: float | None = None,
               x_integer: bool = False, legend: dict[str, float] | None = None, dots: bool = False,
               empty: str = "no data yet", y_min_top: float = 0.0) -> str:
    """Lines (one per series) with round ticks on both axes and a legend laid out by its text, so
    entries never overlap. `faint`: per series, raw points drawn faintly in its colour under the line;
    `marks`: x values marked by dashed verticals (epoch boundaries); `y_max`: the axis top at most this;
    `legend`: the value each entry shows (default: the series' last y); `dots`: mark each point of a
    line (few points: one per epoch); `empty`: what an empty chart says; `y_min_top`: the axis top
    at least this (all-zero values still get round ticks)."""
    faint = faint or {}
    points = [p for pts in list(series.values()) + list(faint.values()) for p in pts]
    names = list(series)
    shown = {k: (legend or {}).get(k, pts[-1][1] if pts else 0.0) for k, pts in series.items()}
    texts = [f"{k} {_fmt(shown[k])}" for k in names]
    rows = legend_rows(texts, W - L - R)
    top = 30 + 15 * len(rows) + 8
    head = (f'<svg id="{chart_id}" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {W} {H}" '
            f'style="width:100%;max-width:{W}px;height:auto;background:white;border:1px solid #e2e8f0;'
            f'border-radius:10px" font-family="ui-sans-serif, system-ui, sans-serif" font-size="11">'
            f'<title>{escape(title)}</title><text x="{L}" y="18" font-size="13" font-weight="600" fill="#0f172a">'
            f'{escape(title)}</text>')
    if not points:
        return head + f'<text x="{W / 2}" y="{H / 2}" text-anchor="middle" fill="#94a3b8">{escape(empty)}</text></svg>'
    x0 = min(p[0] for p in points) if x_min is None else min(x_min, min(p[0] for p in points))
    x1 = max(p[0] for p in points)
    x1 = x1 if x1 > x0 else x0 + 1
    y0, y1 = 0.0, max(nice_top(max(p[1] for p in points), y_max), y_min_top)

    def sx(x):
        return L + (x - x0) / (x1 - x0) * (W - L - R)

    def sy(y):
        return H - B - (min(y, y1) - y0) / (y1 - y0) * (H - top - B)

    out = [head]
    for y in nice_ticks(y0, y1, 5):
        out.append(f'<line x1="{L}" x2="{W - R}" y1="{sy(y):.1f}" y2="{sy(y):.1f}" stroke="#eef2f7"/>'
                   f'<text class="ytick" x="{L - 6}" y="{sy(y) + 4:.1f}" text-anchor="end" fill="#64748b">'
                   f'{_fmt(y)}</text>')
    for x in marks:
        if x0 < x < x1:
            out.append(f'<line data-mark="{x:g}" x1="{sx(x):.1f}" x2="{sx(x):.1f}" y1="{top}" y2="{H - B}" '
                       f'stroke="#94a3b8" stroke-dasharray="3 3" stroke-width="1"/>')
    base = H - B
    out.append(f'<line x1="{L}" x2="{W - R}" y1="{base}" y2="{base}" stroke="#94a3b8"/>'
               f'<line x1="{L}" x2="{L}" y1="{top}" y2="{base}" stroke="#94a3b8"/>')
    for x in nice_ticks(x0, x1, 6, integer=x_integer):
        out.append(f'<line x1="{sx(x):.1f}" x2="{sx(x):.1f}" y1="{base}" y2="{base + 4}" stroke="#94a3b8"/>'
                   f'<text class="xtick" x="{sx(x):.1f}" y="{base + 16}" text-anchor="middle" fill="#64748b">'
                   f'{_fmt(x)}</text>')
    out.append(f'<text x="{(L + W - R) / 2}" y="{H - 8}" text-anchor="middle" fill="#334155">{escape(x_label)}</text>')
    if y_label:
        mid = (top + base) / 2
        out.append(f'<text x="13" y="{mid}" text-anchor="middle" fill="#334155" '
                   f'transform="rotate(-90 13 {mid})">{escape(y_label)}</text>')
    for i, name in enumerate(names):
        colour = COLOURS[i % len(COLOURS)]
        raw = faint.get(name, [])
        if raw:
            marks_d = "".join(f"M{sx(x):.1f},{sy(y):.1f}h0.01" for x, y in raw)
            out.append(f'<path data-raw="{escape(name)}" d="{marks_d}" stroke="{colour}" stroke-opacity="0.28" '
                       f'stroke-width="3" stroke-linecap="round" fill="none"/>')
        pts = series[name]
        path = " ".join(f"{'M' if j == 0 else 'L'}{sx(x):.1f},{sy(y):.1f}" for j, (x, y) in enumerate(pts))
        out.append(f'<path d="{path}" fill="none" stroke="{colour}" stroke-width="1.8" '
                   f'stroke-linejoin="round" data-series="{escape(name)}"/>')
        if dots:
            out += [f'<circle cx="{sx(x):.1f}" cy="{sy(y):.1f}" r="2.6" fill="{colour}"/>' for x, y in pts]
    for r, row in enumerate(rows):
        y = 30 + 15 * r + 4
        for i, dx in row:
            lx, colour = L + dx, COLOURS[i % len(COLOURS)]
            out.append(f'<g class="legend-item" data-legend="{escape(names[i])}">'
                       f'<rect x="{lx:.1f}" y="{y - 5}" width="12" height="3" fill="{colour}"/>'
                       f'<text x="{lx + 16:.1f}" y="{y}" fill="#334155">{escape(texts[i])}</text></g>')
    out.append("</svg>")
    return "".join(out)


def _nice_range(lo: float, hi: float) -> tuple[float, float]:
    """A padded axis range that keeps every point inside the frame (also for one point)."""
    if hi <= lo:
        pad = abs(lo) * 0.2 or 1.0
        return lo - pad, hi + pad
    pad = (hi - lo) * 0.12
    return max(0.0, lo - pad) if lo >= 0 else lo - pad, hi + pad


def scatter_chart(points: list[tuple[str, float, float]], title: str, x_label: str, y_label: str,
                  chart_id: str) -> str:
    """One named point per (name, x, y), every name written beside its point (and in its tooltip)."""
    w, h, left, right, top, bottom = 680, 320, 56, 190, 40, 44
    head = (f'<svg id="{chart_id}-svg" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w} {h}" '
            f'style="width:100%;max-width:{w}px;height:auto;background:white;border:1px solid #e2e8f0;'
            f'border-radius:10px" font-family="ui-sans-serif, system-ui, sans-serif" font-size="11" role="img" '
            f'aria-label="{escape(title)}"><text x="{left}" y="22" font-size="13" font-weight="600" '
            f'fill="#0f172a">{escape(title)}</text>')
    if not points:
        return head + (f'<text x="{w / 2}" y="{h / 2}" text-anchor="middle" fill="#94a3b8">Pin a design to '
                       f'plot it here</text></svg>')
    x0, x1 = _nice_range(min(p[1] for p in points), max(p[1] for p in points))
    y0, y1 = _nice_range(min(p[2] for p in points), max(p[2] for p in points))

    def sx(x):
        return left + (x - x0) / (x1 - x0) * (w - left - right)

    def sy(y):
        return h - bottom - (y - y0) / (y1 - y0) * (h - top - bottom)

    out = [head]
    for k in range(5):
        y, x = y0 + (y1 - y0) * k / 4, x0 + (x1 - x0) * k / 4
        out.append(f'<line x1="{left}" x2="{w - right}" y1="{sy(y):.1f}" y2="{sy(y):.1f}" stroke="#f1f5f9"/>'
                   f'<text x="{left - 6}" y="{sy(y) + 4:.1f}" text-anchor="end" fill="#64748b">{y:.3g}</text>'
                   f'<text x="{sx(x):.1f}" y="{h - bottom + 16}" text-anchor="middle" fill="#64748b">{x:.3g}</text>')
    out.append(f'<text x="{(left + w - right) / 2}" y="{h - 8}" text-anchor="middle" fill="#334155">'
               f'{escape(x_label)}</text><text x="14" y="{(top + h - bottom) / 2}" text-anchor="middle" '
               f'fill="#334155" transform="rotate(-90 14 {(top + h - bottom) / 2})">{escape(y_label)}</text>')
    for i, (name, x, y) in enumerate(points):
        colour = COLOURS[i % len(COLOURS)]
        label = name if len(name) <= 32 else name[:31] + "…"
        out.append(f'<g class="pin" data-name="{escape(name)}"><title>{escape(name)}: {x:.3g}, {y:.3g}</title>'
                   f'<circle cx="{sx(x):.1f}" cy="{sy(y):.1f}" r="5" fill="{colour}" stroke="white"/>'
                   f'<text x="{sx(x) + 8:.1f}" y="{sy(y) + 4:.1f}" fill="#0f172a">{escape(label)}</text></g>')
    out.append("</svg>")
    return "".join(out)
