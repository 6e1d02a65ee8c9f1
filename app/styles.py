"""The page's CSS (handed to Gradio by app/main.py): the numbers panel, the field and error messages,
the graph's frame, toolbar and hover card, the pickers, and the layouts at narrow widths.

Colours come from a few custom properties set once for Gradio's light theme and once under its `.dark`
class (on <body> with `?__theme=dark`): the panels, the graph's SVG (graph/render.py draws with the
same properties, with the light colours as fallbacks), the charts and Netron's frame follow the
theme. The properties sit on `.gradio-container`, inside <body>, so Gradio's own variables they read
are the theme's."""
from __future__ import annotations

THEME = """
.gradio-container {
  --yld-text: #0f172a; --yld-text-2: #334155; --yld-muted: #64748b; --yld-line: #e2e8f0;
  --yld-card: #f8fafc; --yld-paper: var(--block-background-fill, #fff); --yld-grid: #eef2f7;
  --yld-edge: #64748b; --yld-outline: #334155; --yld-good: #0f766e;
  --yld-backbone: rgb(37, 99, 235); --yld-neck: rgb(5, 150, 105); --yld-head: rgb(217, 70, 35);
  --yld-warn-fg: #92400e; --yld-warn-bg: #fffbeb; --yld-warn-line: #fde68a;
  --yld-err-fg: #b91c1c; --yld-err-bg: #fef2f2; --yld-err-line: #fecaca;
}
.dark .gradio-container {
  --yld-text: #f1f5f9; --yld-text-2: #cbd5e1; --yld-muted: #9ca3af; --yld-line: #374151;
  --yld-card: #111827; --yld-grid: #273244;
  --yld-edge: #94a3b8; --yld-outline: #94a3b8; --yld-good: #5eead4;
  --yld-backbone: #93c5fd; --yld-neck: #6ee7b7; --yld-head: #fdba74;
  --yld-warn-fg: #fcd34d; --yld-warn-bg: #2b2111; --yld-warn-line: #854d0e;
  --yld-err-fg: #fca5a5; --yld-err-bg: #2a1215; --yld-err-line: #7f1d1d;
}
"""

# Six cards in three pairs (Parameters + GFLOPs, the fused pair, Layers + Weights): three pairs a row on
# a wide panel, 2 + 1 on a middle one, one (two cards) on a phone; the other GFLOPs pair, when there is
# one, on the same tracks below. The pairs wrap by the panel's own width (auto-fill, at most three
# tracks), so no viewport breakpoint guesses it; Gradio drops @container rules from custom CSS. Values
# scale with the panel (`cqi`: .yld-summary is a size container) between 1 and 1.25 rem. Other panels
# (Export) put plain cards in .yld-stats.
NUMBERS = """
.yld-summary {padding: 4px 2px; container-type: inline-size;}
.yld-name {font-size: 0.9rem; color: var(--yld-muted); margin-bottom: 8px;}
.yld-stats {display: grid; grid-template-columns: repeat(auto-fit, minmax(min(100%, 130px), 1fr)); gap: 8px;}
.yld-stats:has(> .yld-pair) {grid-template-columns:
  repeat(auto-fill, minmax(max(min(100%, 240px), calc((100% - 16px) / 3)), 1fr));}
.yld-pair {display: grid; grid-template-columns: repeat(2, minmax(0, 1fr)); gap: 8px;}
.yld-stats-other {margin-top: 8px;}
.yld-stats > .yld-stat .yld-value, .yld-stats > .yld-stat .yld-label {white-space: normal; overflow-wrap: anywhere;}
.yld-stat {min-width: 0; border: 1px solid var(--yld-line); border-radius: 10px; padding: 8px 10px;
           background: var(--yld-card);}
.yld-label {font-size: 0.72rem; color: var(--yld-muted); text-transform: uppercase; letter-spacing: 0.04em;
            white-space: nowrap; overflow: hidden; text-overflow: ellipsis;}
.yld-value {font-size: clamp(1rem, 2.2cqi, 1.25rem); font-weight: 650; color: var(--yld-text);
            font-variant-numeric: tabular-nums; white-space: nowrap; overflow: hidden; text-overflow: ellipsis;}
.yld-why, .yld-note {font-size: 0.8rem; color: var(--yld-muted); margin-top: 6px;}
.yld-change {margin-top: 8px; font-weight: 600; color: var(--yld-good);}
.yld-refused {display: inline-block; margin: -2px 0 8px; padding: 2px 8px; border-radius: 6px; font-size: 0.8rem;
              color: var(--yld-warn-fg); background: var(--yld-warn-bg); border: 1px solid var(--yld-warn-line);}
"""

# Messages: errors, the quiet checks under number fields (their block is hidden while it has nothing
# to say, so an empty one leaves no gap), the stop notice, tables, the edit panel's history.
MESSAGES = """
.yld-error {color: var(--yld-err-fg); background: var(--yld-err-bg); border: 1px solid var(--yld-err-line);
            border-radius: 8px; padding: 8px 10px; font-family: ui-monospace, monospace; font-size: 0.85rem;}
.yld-field-msg {color: var(--yld-warn-fg); background: var(--yld-warn-bg); border: 1px solid var(--yld-warn-line);
                border-radius: 8px; padding: 6px 10px; font-size: 0.85rem; margin-top: 4px;}
.yld-field-ok {display: none;}
#design-numbers:has(.yld-field-ok), #train-settings:has(.yld-field-ok), #test-size:has(.yld-field-ok),
#export-size:has(.yld-field-ok) {display: none;}
.yld-stopping {color: var(--yld-warn-fg); background: var(--yld-warn-bg); border: 1px solid var(--yld-warn-line);
               border-radius: 8px; padding: 6px 10px; font-size: 0.85rem; margin-top: 6px;}
#train-progress .yld-note {margin-top: 2px;}
.yld-table {border-collapse: collapse; margin-top: 6px;}
.yld-table td, .yld-table th {border: 1px solid var(--yld-line); padding: 4px 10px; text-align: right;}
.yld-edit-msg {font-size: 0.85rem; color: var(--yld-good); min-height: 1.2em;}
.yld-history {max-height: 260px; overflow: auto; font-size: 0.85rem; border: 1px solid var(--yld-line);
              border-radius: 8px; padding: 6px 10px; background: var(--yld-card);}
.yld-history ol {margin: 0; padding-left: 1.4em;}
.yld-hist-undone {color: #94a3b8; text-decoration: line-through;}
.yld-hist-empty {color: var(--yld-muted);}
"""

# The graph fits the panel's width, but never below 0.9 of its natural size (`--yld-w`, set by
# graph/render.py): the smallest text (10 px) stays >= 9 px and a narrow screen scrolls the canvas
# sideways instead. The zoom buttons set their own size (app/graph_view.py lifts the minimum).
GRAPH = """
#graph {overflow: auto; max-height: 900px; border: 1px solid var(--yld-line); border-radius: 10px;
        background: var(--yld-paper);}
#graph svg {display: block; margin: 0 auto;}
#graph svg.yld-graph {min-width: calc(var(--yld-w, 0px) * 0.9);}
#graph .yld-graph-wrap {position: relative;}
#graph .yld-graph-tools {position: sticky; top: 0; left: 0; z-index: 2; display: flex; gap: 4px;
                         justify-content: flex-end; align-items: center; padding: 4px 8px;
                         background: var(--yld-paper); border-bottom: 1px solid var(--yld-line);}
#graph .yld-graph-tools button {min-width: 30px; height: 26px; padding: 0 8px; border: 1px solid var(--yld-line);
                                border-radius: 6px; background: var(--yld-card); color: var(--yld-text);
                                font-weight: 600; cursor: pointer;}
#graph .yld-graph-tools button:hover, #graph .yld-graph-tools button:focus-visible {background: var(--yld-line);}
#graph .yld-zoom-level {order: -1; margin-right: auto; font-size: 0.75rem; color: var(--yld-muted);
                        font-variant-numeric: tabular-nums;}
#graph .yld-graph-canvas {overflow: auto; max-height: 840px;}
#graph .yld-graph-card {position: absolute; z-index: 3; max-width: 400px; pointer-events: none;
                        background: #0f172a; color: #f8fafc; border-radius: 8px; padding: 8px 10px;
                        font-size: 0.78rem; line-height: 1.4; box-shadow: 0 6px 18px rgba(15, 23, 42, 0.3);
                        font-variant-numeric: tabular-nums; overflow-wrap: anywhere; border: 1px solid #334155;}
#graph .yld-graph-card[hidden] {display: none;}
#graph .yld-graph-card div {color: #e2e8f0; margin: 0;}
#graph .yld-graph-card div.yld-card-title {font-weight: 700; color: #fcd34d; margin-bottom: 2px;}
"""

# Dropdowns: the text stops short of the arrow (ellipsis), the info line under a label reads (not the
# theme's faint grey); the Scale radio keeps n..x on one row.
PICKERS = """
.info-text {color: var(--yld-muted);}
input[role="combobox"] {text-overflow: ellipsis; padding-right: 26px !important; box-sizing: border-box;}
#scale .wrap {flex-wrap: nowrap; gap: 4px;}
#scale .wrap label {flex: 1 1 0; min-width: 0; justify-content: center; padding-left: 6px; padding-right: 6px;}
"""

# The charts (app/charts.py), the compare plot and the Train tab's progress track draw light colours
# inline; the theme's win here. Netron's viewer has a dark style only for the browser's own dark
# preference (an iframe's `color-scheme` does not reach it in Chromium): in the page's dark theme its
# frame is inverted, hues kept, so it is not a white panel in a dark page.
CHARTS = ("#loss-chart", "#map-chart", "#compare-plot-svg")


def _each(chart_rule: str) -> str:
    """`chart_rule` (with `{c}` for the chart) for each chart, one selector list: Gradio splits a rule's
    selectors at commas to re-scope them, so no :is(a, b) here."""
    selectors, body = chart_rule.rsplit(" {", 1)
    return ", ".join(s.strip().format(c=c) for c in CHARTS for s in selectors.split(",")) + " {" + body + "\n"


OTHERS = "".join(_each(rule) for rule in (
    "{c} {background: var(--yld-paper) !important; border-color: var(--yld-line) !important;}",
    '{c} text[fill="#0f172a"] {fill: var(--yld-text);}',
    '{c} text[fill="#334155"] {fill: var(--yld-text-2);}',
    '{c} text[fill="#64748b"] {fill: var(--yld-muted);}',
    '{c} line[stroke="#eef2f7"], {c} line[stroke="#f1f5f9"] {stroke: var(--yld-grid);}',
    '{c} circle[stroke="white"] {stroke: var(--yld-paper);}',
)) + """
#train-progress > div[style*="background:#e2e8f0"] {background: var(--yld-line) !important;}
#netron-frame {border-color: var(--yld-line) !important;}
.dark #netron-frame {filter: invert(0.86) hue-rotate(180deg);}
"""

CSS = THEME + NUMBERS + MESSAGES + GRAPH + PICKERS + OTHERS
