"""render: LayerGraph + Counts -> an SVG picture of the model, the one the designer shows.

Three columns — backbone, neck, head — each a titled group; layers top to bottom in order. A node
shows index, block, repeats, output channels, stride and size; its fill deepens with its share of
the model's FLOPs (and a bar under the text gives the share exactly); the P3 / P4 / P5 maps the head
reads carry a tap badge. Hovering a node shows its args, parameters, GFLOPs and output shape
(an SVG <title>). Edges between consecutive layers are short verticals; skips curve beside the
column; reads across columns are curves from side to side.
"""
from __future__ import annotations

from html import escape

from .counts import Counts
from .resolve import LayerGraph

NODE_W, NODE_H, ROW, COL_GAP, PAD, HEADER = 210, 38, 50, 90, 16, 34
SECTIONS = (("backbone", "Backbone"), ("neck", "Neck"), ("head", "Head"))
TINT = {"backbone": (37, 99, 235), "neck": (5, 150, 105), "head": (217, 70, 35)}


def _fill(section: str, share: float) -> str:
    r, g, b = TINT[section]
    a = 0.08 + 0.62 * min(1.0, share * 4)  # a layer with a quarter of the FLOPs is fully tinted
    return f"rgba({r},{g},{b},{a:.2f})"


def _args(args) -> str:
    text = ", ".join("None" if a is None else str(a) for a in args)
    return text if len(text) < 90 else text[:87] + "..."


def render_svg(graph: LayerGraph, counts: Counts) -> str:
    cols = [s for s, _ in SECTIONS if any(n.section == s for n in graph.layers)]
    pos, rows = {}, {s: 0 for s in cols}
    for node in graph.layers:
        c = cols.index(node.section)
        x = PAD + c * (NODE_W + COL_GAP) + COL_GAP // 2
        y = PAD + HEADER + rows[node.section] * ROW
        if node is graph.head:  # level with the maps it reads
            y = sum(pos[s][1] for s in node.sources) / len(node.sources)
        rows[node.section] += 1
        pos[node.index] = (x, y)
    # backbone maps the neck reads: labelled by level, like the P3 / P4 / P5 the head reads
    levels = {s: f"P{graph.layers[s].stride.bit_length() - 1}" for node in graph.layers
              if node.section != "backbone" for s in node.sources
              if s >= 0 and graph.layers[s].section == "backbone" and graph.layers[s].stride}
    width = PAD * 2 + len(cols) * (NODE_W + COL_GAP)
    height = PAD * 2 + HEADER + max(rows.values()) * ROW
    total = sum(r["gflops"] for r in counts.per_layer) or 1.0
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="{width}" '
           f'height="{height}" style="max-width:100%;height:auto" font-family="ui-sans-serif, system-ui, sans-serif" role="img" '
           f'aria-label="model graph">',
           '<defs><marker id="arrow" viewBox="0 0 8 8" refX="7" refY="4" markerWidth="6" markerHeight="6" '
           'orient="auto"><path d="M0,0 L8,4 L0,8 z" fill="#64748b"/></marker></defs>']
    for c, section in enumerate(cols):
        x0 = PAD + c * (NODE_W + COL_GAP) + COL_GAP // 2 - 14
        label = dict(SECTIONS)[section]
        r, g, b = TINT[section]
        out.append(f'<g class="section" data-section="{section}"><rect x="{x0}" y="{PAD}" width="{NODE_W + 28}" '
                   f'height="{height - 2 * PAD}" rx="12" fill="rgba({r},{g},{b},0.04)" '
                   f'stroke="rgba({r},{g},{b},0.35)"/><text x="{x0 + 14}" y="{PAD + 22}" font-size="14" '
                   f'font-weight="600" fill="rgb({r},{g},{b})">{label}</text></g>')
    out.append('<g class="edges" fill="none" stroke="#64748b" stroke-width="1.3">')
    for node in graph.layers:
        tx, ty = pos[node.index]
        for s in node.sources:
            if s < 0:
                continue
            sx, sy = pos[s]
            if sx == tx and s == node.index - 1:
                out.append(f'<path d="M{sx + NODE_W / 2},{sy + NODE_H} L{tx + NODE_W / 2},{ty}" '
                           f'marker-end="url(#arrow)"/>')
            elif sx == tx:  # a skip within the column: bow out to the left
                bow = sx - 10 - min(40, (ty - sy) / 12)
                out.append(f'<path d="M{sx},{sy + NODE_H / 2} C{bow},{sy + NODE_H / 2} {bow},{ty + NODE_H / 2} '
                           f'{tx},{ty + NODE_H / 2}" stroke-dasharray="4 3" marker-end="url(#arrow)"/>')
            else:
                x1, x2 = (sx + NODE_W, tx) if sx < tx else (sx, tx + NODE_W)
                mid = (x1 + x2) / 2
                out.append(f'<path d="M{x1},{sy + NODE_H / 2} C{mid},{sy + NODE_H / 2} {mid},{ty + NODE_H / 2} '
                           f'{x2},{ty + NODE_H / 2}" marker-end="url(#arrow)"/>')
    out.append("</g>")
    for node, row in zip(graph.layers, counts.per_layer):
        x, y = pos[node.index]
        share = row["gflops"] / total
        rep = f" ×{node.n}" if node.n > 1 else ""
        if node.c_out:
            _, h, w = node.shape
            line2 = f"{node.c_out} ch · /{node.stride} · {h}×{w}"
        else:
            line2 = f"{graph.spec.nc} classes · strides {'/'.join(map(str, graph.strides))}"
        shape = "×".join(map(str, node.shape)) if node.c_out else "predictions"
        tip = (f"{node.index} {node.module}{rep}\nargs: [{_args(row['args'])}]\nparams: {row['params']:,}\n"
               f"GFLOPs: {row['gflops']:.3f} ({share:.1%} of the model)\noutput: {shape}")
        out.append(f'<g class="node" data-index="{node.index}" data-module="{escape(node.module)}">'
                   f'<title>{escape(tip)}</title>'
                   f'<rect x="{x}" y="{y}" width="{NODE_W}" height="{NODE_H}" rx="7" '
                   f'fill="{_fill(node.section, share)}" stroke="#334155" stroke-width="1"/>'
                   f'<text x="{x + 8}" y="{y + 15}" font-size="12" fill="#0f172a"><tspan fill="#64748b">'
                   f'{node.index}</tspan> <tspan font-weight="600">{escape(node.module)}</tspan>{rep}</text>'
                   f'<text x="{x + 8}" y="{y + 29}" font-size="10.5" fill="#334155">{escape(line2)}</text>'
                   f'<rect x="{x + 1}" y="{y + NODE_H - 4}" width="{max(1.0, (NODE_W - 2) * share):.1f}" '
                   f'height="3" fill="#0f172a" opacity="0.55"/>')
        tap = node.tap or levels.get(node.index)
        if tap:
            colour = "#f59e0b" if node.tap else "#cbd5e1"
            out.append(f'<g class="tap"><rect x="{x + NODE_W - 34}" y="{y - 7}" width="30" height="15" rx="7" '
                       f'fill="{colour}"/><text x="{x + NODE_W - 19}" y="{y + 4}" font-size="10" '
                       f'font-weight="700" text-anchor="middle" fill="#111827">{tap}</text></g>')
        out.append("</g>")
    out.append("</svg>")
    return "".join(out)
