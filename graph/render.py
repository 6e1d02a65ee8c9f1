"""render: LayerGraph + Counts -> an SVG picture of the model, the one the designer shows; and
`mark_selected`, which highlights one layer in an SVG already drawn.

A legend on top says how to read the picture. Under it three columns — backbone, neck, head — each
a titled group; layers top to bottom in order. A node shows index, block, repeats, output channels,
stride and size; its fill deepens with its share of the model's FLOPs (and a bar under the text
gives the share exactly; once the design is measured, an amber bar above it gives the layer's share of
the measured time, so the layers whose time exceeds their FLOPs stand out); the P3 / P4 / P5 maps the head reads carry an orange tap badge, the
backbone maps the neck reads a grey one. Edges between consecutive layers are short verticals;
skips within a column are dashed curves beside it (left of the backbone, right of the neck, away
from the reads across columns, which are curves from side to side).

Every node is a `<g class="node" data-index=… data-module=… data-card=…>` that takes keyboard focus
(tabindex, role, aria-label). `data-card` holds the hover card's lines (separated by newlines):
args, parameters, GFLOPs, output shape, receptive field (graph/receptive.py); the Detect node's card
gives the receptive field of each map it reads. The page (app/graph_view.py) shows the card and turns
clicks into layer picks; the SVG's own <style> draws hover, focus and the selected layer.

Colours that must follow the page's theme (text, edges, outlines, section titles) are drawn by that
<style> through CSS classes and custom properties (`--yld-text`, `--yld-edge` ... ; app/styles.py sets
them for Gradio's light and dark themes); their fallbacks, and the attributes, are the light colours,
so the SVG reads the same on its own. `--yld-w` on the root is its natural width: the page never
shrinks it below a readable scale (app/styles.py).
"""
from __future__ import annotations

import re
from html import escape

from .counts import Counts
from .receptive import head_inputs, receptive_fields
from .resolve import LayerGraph

NODE_W, NODE_H, ROW, COL_GAP, PAD, HEADER = 210, 38, 50, 90, 16, 34
SECTIONS = (("backbone", "Backbone"), ("neck", "Neck"), ("head", "Head"))
TINT = {"backbone": (37, 99, 235), "neck": (5, 150, 105), "head": (217, 70, 35)}
TAP_HEAD, TAP_NECK = "#f59e0b", "#cbd5e1"  # badge colours: maps the head reads / the neck reads
TIME = "#d97706"  # the measured-time bar
SELECTED = "#d97706"
LEGEND_ROW, LEGEND_FONT = 20, 11
STYLE = ("<style>"
         ".yld-graph .tx{fill:var(--yld-text,#0f172a)}"
         ".yld-graph .tx2{fill:var(--yld-text-2,#334155)}"
         ".yld-graph .idx{fill:var(--yld-muted,#64748b)}"
         ".yld-graph .edges,.yld-graph .edge{stroke:var(--yld-edge,#64748b)}"
         ".yld-graph .head-fill{fill:var(--yld-edge,#64748b)}"
         ".yld-graph .body,.yld-graph .outline{stroke:var(--yld-outline,#334155)}"
         ".yld-graph .share{fill:var(--yld-text,#0f172a)}"
         ".yld-graph .paper{fill:var(--yld-paper,#fff)}"
         + "".join(f".yld-graph .title-{s}{{fill:var(--yld-{s},rgb{TINT[s]})}}" for s, _ in SECTIONS) +
         ".yld-graph .node{cursor:pointer}"
         ".yld-graph .node:focus{outline:none}"
         ".yld-graph .node:hover .body,.yld-graph .node:focus-visible .body"
         "{stroke:var(--yld-text,#0f172a);stroke-width:2}"
         f".yld-graph .node.selected .body{{stroke:{SELECTED};stroke-width:3.5}}"
         ".yld-graph .node.selected .idx{fill:#b45309;font-weight:700}"
         "</style>")


def _fill(section: str, share: float) -> str:
    r, g, b = TINT[section]
    a = 0.08 + 0.62 * min(1.0, share * 4)  # a layer with a quarter of the FLOPs is fully tinted
    return f"rgba({r},{g},{b},{a:.2f})"


def _args(args) -> str:
    text = ", ".join("None" if a is None else str(a) for a in args)
    return text if len(text) < 90 else text[:87] + "..."


def _attr(text: str) -> str:
    """An attribute value that keeps its newlines through both HTML and XML parsers."""
    return escape(text).replace("\n", "&#10;")


def _text_w(text: str, size: float = LEGEND_FONT) -> float:
    return len(text) * size * 0.56  # a fair average advance for a sans-serif


def _badge(x: float, y: float, label: str, colour: str) -> str:
    """A tap badge whose top-left corner is (x, y)."""
    return (f'<g class="tap"><rect x="{x}" y="{y}" width="30" height="15" rx="7" fill="{colour}"/>'
            f'<text x="{x + 15}" y="{y + 11}" font-size="10" font-weight="700" text-anchor="middle" '
            f'fill="#111827">{label}</text></g>')


def _legend_icons(tint: tuple[int, int, int], timed: bool = False) -> list[tuple[str, float, str]]:
    """(icon drawn at the origin, icon width, text) for each legend entry; `timed`: with the time bar's."""
    r, g, b = tint
    time_bar = [('<rect class="paper outline" x="0" y="-6" width="30" height="12" rx="3" fill="#fff" '
                 'stroke="#334155" stroke-width="0.6"/>'
                 f'<rect x="1" y="-1" width="24" height="3" fill="{TIME}"/>', 30,
                 "amber bar: its share of the measured time")] if timed else []
    swatches = "".join(f'<rect x="{i * 13}" y="-9" width="12" height="12" rx="3" '
                       f'fill="rgba({r},{g},{b},{a})" class="outline" stroke="#334155" stroke-width="0.6"/>'
                       for i, a in enumerate((0.08, 0.39, 0.70)))
    return [
        (swatches, 38, "fill deepens with the layer's share of the model's FLOPs"),
        ('<rect class="paper outline" x="0" y="-6" width="30" height="12" rx="3" fill="#fff" stroke="#334155" '
         'stroke-width="0.6"/>'
         '<rect class="share" x="1" y="3" width="18" height="3" fill="#0f172a" opacity="0.55"/>', 30,
         "bar under a node: its exact FLOP share"),
        *time_bar,
        ('<path class="edge" d="M0,-3 L26,-3" stroke="#64748b" stroke-width="1.3" marker-end="url(#arrow)"/>', 30,
         "data flow"),
        ('<path class="edge" d="M0,-3 L26,-3" stroke="#64748b" stroke-width="1.3" stroke-dasharray="4 3" '
         'marker-end="url(#arrow)"/>', 30, "skip within the column"),
        (_badge(0, -10, "P3", TAP_HEAD), 30, "a map the head reads"),
        (_badge(0, -10, "P4", TAP_NECK), 30, "a backbone map the neck reads"),
    ]


def _legend(width: float, tint, timed: bool = False) -> tuple[str, float]:
    """The legend, flowed into rows that fit `width`; returns (svg, height)."""
    left = PAD + COL_GAP // 2 - 14  # level with the columns' left edge
    parts, x, row = [], left, 0
    for icon, icon_w, text in _legend_icons(tint, timed):
        item_w = icon_w + 6 + _text_w(text) + 18
        if x + item_w > width - left and x > left:
            x, row = left, row + 1
        y = PAD + 12 + row * LEGEND_ROW
        parts.append(f'<g transform="translate({x:.0f},{y})">{icon}<text x="{icon_w + 6}" y="0" '
                     f'font-size="{LEGEND_FONT}" class="tx2" fill="#475569">{escape(text)}</text></g>')
        x += item_w
    height = (row + 1) * LEGEND_ROW + 8
    return f'<g class="legend" aria-label="legend">{"".join(parts)}</g>', height


def _layout(graph: LayerGraph, cols: list[str], top: float) -> tuple[dict, dict]:
    """(x, y) of every node's top-left corner, and the number of rows in each column."""
    pos, rows = {}, {s: 0 for s in cols}
    for node in graph.layers:
        c = cols.index(node.section)
        x = PAD + c * (NODE_W + COL_GAP) + COL_GAP // 2
        y = top + HEADER + rows[node.section] * ROW
        if node is graph.head:  # level with the maps it reads
            y = sum(pos[s][1] for s in node.sources) / len(node.sources)
        rows[node.section] += 1
        pos[node.index] = (x, y)
    return pos, rows


def _edges(graph: LayerGraph, pos: dict) -> str:
    out = ['<g class="edges" fill="none" stroke="#64748b" stroke-width="1.3">']
    for node in graph.layers:
        tx, ty = pos[node.index]
        for s in node.sources:
            if s < 0:
                continue
            sx, sy = pos[s]
            if sx == tx and s == node.index - 1:
                out.append(f'<path d="M{sx + NODE_W / 2},{sy + NODE_H} L{tx + NODE_W / 2},{ty}" '
                           f'marker-end="url(#arrow)"/>')
            elif sx == tx:  # a skip within the column: dashed, bowing out on the side reads across don't use
                side = sx if graph.layers[s].section == "backbone" else sx + NODE_W  # backbone: left
                bow = side + (1 if side > sx else -1) * (10 + min(40, (ty - sy) / 12))
                out.append(f'<path d="M{side},{sy + NODE_H / 2} C{bow},{sy + NODE_H / 2} {bow},{ty + NODE_H / 2} '
                           f'{side},{ty + NODE_H / 2}" stroke-dasharray="4 3" marker-end="url(#arrow)"/>')
            else:
                x1, x2 = (sx + NODE_W, tx) if sx < tx else (sx, tx + NODE_W)
                mid = (x1 + x2) / 2
                out.append(f'<path d="M{x1},{sy + NODE_H / 2} C{mid},{sy + NODE_H / 2} {mid},{ty + NODE_H / 2} '
                           f'{x2},{ty + NODE_H / 2}" marker-end="url(#arrow)"/>')
    out.append("</g>")
    return "".join(out)


def _cards(graph: LayerGraph, counts: Counts, total: float, layer_ms: dict[int, float]) -> dict[int, str]:
    """The hover card of every node: lines separated by newlines."""
    timed = sum(layer_ms.values()) or 1.0
    fields = receptive_fields(graph)
    cards = {}
    for node, row in zip(graph.layers, counts.per_layer):
        share = row["gflops"] / total
        rep = f" ×{node.n}" if node.n > 1 else ""
        reads = ", ".join("image" if s < 0 else str(s) for s in node.sources)
        lines = [f"{node.index} {node.module}{rep} · {node.section}", f"reads: {reads}",
                 f"args: [{_args(row['args'])}]", f"params: {row['params']:,}",
                 f"GFLOPs: {row['gflops']:.3f} ({share:.1%} of the model)"]
        if layer_ms:
            ms = layer_ms.get(node.index, 0.0)
            lines.append(f"measured: {ms:.2f} ms ({ms / timed:.1%} of the time)")
        if node.c_out:
            lines.append(f"output: {'×'.join(map(str, node.shape))}, stride {node.stride}")
            lines.append(f"receptive field: {fields[node.index].rf:,} px")
        else:
            lines.append(f"output: predictions, strides {'/'.join(map(str, graph.strides))}")
            lines.append(f"receptive field of each input at {graph.imgsz} px:")
            lines += [h.line(graph.imgsz) for h in head_inputs(graph, fields)]
        if node.tap:
            lines.append(f"tap {node.tap}: the head reads this map")
        cards[node.index] = "\n".join(lines)
    return cards


def render_svg(graph: LayerGraph, counts: Counts, layer_ms: dict[int, float] | None = None) -> str:
    """The picture; `layer_ms`: measured milliseconds per layer index (the Measure profile), drawn as a
    time-share bar on each node beside its FLOP-share bar."""
    layer_ms = {int(k): float(v) for k, v in (layer_ms or {}).items()}
    timed = sum(layer_ms.values())
    cols = [s for s, _ in SECTIONS if any(n.section == s for n in graph.layers)]
    width = PAD * 2 + len(cols) * (NODE_W + COL_GAP)
    legend, legend_h = _legend(width, TINT[cols[0]], bool(timed))
    top = PAD + legend_h
    pos, rows = _layout(graph, cols, top)
    # backbone maps the neck reads: labelled by level, like the P3 / P4 / P5 the head reads
    levels = {s: f"P{graph.layers[s].stride.bit_length() - 1}" for node in graph.layers
              if node.section != "backbone" for s in node.sources
              if s >= 0 and graph.layers[s].section == "backbone" and graph.layers[s].stride}
    height = top + PAD + HEADER + max(rows.values()) * ROW
    total = sum(r["gflops"] for r in counts.per_layer) or 1.0
    cards = _cards(graph, counts, total, layer_ms)
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" class="yld-graph" viewBox="0 0 {width} {height}" '
           f'width="{width}" height="{height}" style="--yld-w:{width}px;max-width:100%;height:auto" '
           f'font-family="ui-sans-serif, system-ui, sans-serif" role="group" '
           f'aria-label="model graph: {len(graph.layers)} layers; pick a layer to select it">',
           STYLE,
           '<defs><marker id="arrow" viewBox="0 0 8 8" refX="7" refY="4" markerWidth="6" markerHeight="6" '
           'orient="auto"><path class="head-fill" d="M0,0 L8,4 L0,8 z" fill="#64748b"/></marker></defs>', legend]
    for c, section in enumerate(cols):
        x0 = PAD + c * (NODE_W + COL_GAP) + COL_GAP // 2 - 14
        label = dict(SECTIONS)[section]
        r, g, b = TINT[section]
        out.append(f'<g class="section" data-section="{section}"><rect x="{x0}" y="{top}" width="{NODE_W + 28}" '
                   f'height="{height - top - PAD}" rx="12" fill="rgba({r},{g},{b},0.04)" '
                   f'stroke="rgba({r},{g},{b},0.35)"/><text x="{x0 + 14}" y="{top + 22}" font-size="14" '
                   f'font-weight="600" class="title-{section}" fill="rgb({r},{g},{b})">{label}</text></g>')
    out.append(_edges(graph, pos))
    for node, row in zip(graph.layers, counts.per_layer):
        x, y = pos[node.index]
        share = row["gflops"] / total
        rep = f" ×{node.n}" if node.n > 1 else ""
        if node.c_out:
            _, h, w = node.shape
            line2 = f"{node.c_out} ch · /{node.stride} · {h}×{w}"
            label = f"layer {node.index} {node.module}{rep}, {node.c_out} channels, stride {node.stride}"
        else:
            line2 = f"{graph.spec.nc} classes · strides {'/'.join(map(str, graph.strides))}"
            label = f"layer {node.index} {node.module}, {graph.spec.nc} classes"
        out.append(f'<g class="node" data-index="{node.index}" data-module="{escape(node.module)}" '
                   f'data-card="{_attr(cards[node.index])}" tabindex="0" role="button" '
                   f'aria-label="{escape(label)}">'
                   f'<rect class="body" x="{x}" y="{y}" width="{NODE_W}" height="{NODE_H}" rx="7" '
                   f'fill="{_fill(node.section, share)}" stroke="#334155" stroke-width="1"/>'
                   f'<text class="tx" x="{x + 8}" y="{y + 15}" font-size="12" fill="#0f172a">'
                   f'<tspan class="idx" fill="#64748b">'
                   f'{node.index}</tspan> <tspan font-weight="600">{escape(node.module)}</tspan>{rep}</text>'
                   f'<text class="tx2" x="{x + 8}" y="{y + 29}" font-size="10.5" fill="#334155">{escape(line2)}</text>'
                   f'<rect class="share" x="{x + 1}" y="{y + NODE_H - 4}" '
                   f'width="{max(1.0, (NODE_W - 2) * share):.1f}" height="3" fill="#0f172a" opacity="0.55"/>')
        if timed:
            part = layer_ms.get(node.index, 0.0) / timed
            out.append(f'<rect class="time" x="{x + 1}" y="{y + NODE_H - 7}" width="{max(1.0, (NODE_W - 2) * part):.1f}" '
                       f'height="2.5" fill="{TIME}"/>')
        tap = node.tap or levels.get(node.index)
        if tap:
            out.append(_badge(x + NODE_W - 34, y - 7, tap, TAP_HEAD if node.tap else TAP_NECK))
        out.append("</g>")
    out.append("</svg>")
    return "".join(out)


_SELECTED = re.compile(r'<g class="node selected" ')


def mark_selected(svg: str, index: int | None) -> str:
    """`svg` (from render_svg) with layer `index` marked selected and any other selection cleared;
    None clears it. A string edit: no re-render, so it is cheap on every pick."""
    svg = _SELECTED.sub('<g class="node" ', svg)
    if index is None:
        return svg
    mark = f'<g class="node" data-index="{int(index)}" '
    return svg.replace(mark, f'<g class="node selected" data-index="{int(index)}" ', 1)
