"""Small SVG line charts for the Train tab (loss terms per batch, mAP per epoch): plain strings, so
they update cheaply every second and look the same everywhere."""
from __future__ import annotations

from html import escape

COLOURS = ["#2563eb", "#dc2626", "#059669", "#d97706", "#7c3aed"]
W, H, L, R, T, B = 460, 260, 48, 12, 44, 36


def line_chart(series: dict[str, list[tuple[float, float]]], title: str, x_label: str, chart_id: str,
               y_max: float | None = None) -> str:
    points = [p for pts in series.values() for p in pts]
    head = (f'<svg id="{chart_id}" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {W} {H}" '
            f'style="width:100%;max-width:{W}px;height:auto;background:white;border:1px solid #e2e8f0;'
            f'border-radius:10px" font-family="ui-sans-serif, system-ui, sans-serif" font-size="11">'
            f'<text x="{L}" y="18" font-size="13" font-weight="600" fill="#0f172a">{escape(title)}</text>')
    if not points:
        return head + f'<text x="{W / 2}" y="{H / 2}" text-anchor="middle" fill="#94a3b8">no data yet</text></svg>'
    x0, x1 = min(p[0] for p in points), max(p[0] for p in points)
    y0, y1 = 0.0, y_max or max(max(p[1] for p in points), 1e-9) * 1.05
    x1 = x1 if x1 > x0 else x0 + 1

    def sx(x):
        return L + (x - x0) / (x1 - x0) * (W - L - R)

    def sy(y):
        return H - B - (y - y0) / (y1 - y0) * (H - T - B)

    out = [head]
    for k in range(5):  # grid and y ticks
        y = y0 + (y1 - y0) * k / 4
        out.append(f'<line x1="{L}" x2="{W - R}" y1="{sy(y):.1f}" y2="{sy(y):.1f}" stroke="#f1f5f9"/>'
                   f'<text x="{L - 6}" y="{sy(y) + 4:.1f}" text-anchor="end" fill="#64748b">{y:.2g}</text>')
    out.append(f'<text x="{(L + W - R) / 2}" y="{H - 6}" text-anchor="middle" fill="#64748b">{escape(x_label)} '
               f'{x0:g}–{x1:g}</text>')
    for i, (name, pts) in enumerate(series.items()):
        colour = COLOURS[i % len(COLOURS)]
        path = " ".join(f"{'M' if j == 0 else 'L'}{sx(x):.1f},{sy(y):.1f}" for j, (x, y) in enumerate(pts))
        out.append(f'<path d="{path}" fill="none" stroke="{colour}" stroke-width="1.8" data-series="{escape(name)}"/>')
        if len(pts) == 1:
            x, y = pts[0]
            out.append(f'<circle cx="{sx(x):.1f}" cy="{sy(y):.1f}" r="3" fill="{colour}"/>')
        lx = L + 10 + i * 90
        last = pts[-1][1] if pts else 0
        out.append(f'<rect x="{lx}" y="{T - 16}" width="10" height="3" fill="{colour}"/>'
                   f'<text x="{lx + 14}" y="{T - 12}" fill="#334155">{escape(name)} {last:.3g}</text>')
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
