"""HTML fragments the designer shows: the numbers panel and the yaml error line."""
from __future__ import annotations

from html import escape

from graph.report import dead_line


def _stat(label: str, value: str, key: str, raw=None, hint: str = "") -> str:
    data = f' data-value="{raw}"' if raw is not None else ""
    title = f' title="{escape(hint)}"' if hint else ""
    return (f'<div class="yld-stat"{title}><div class="yld-label">{label}</div>'
            f'<div class="yld-value" id="stat-{key}"{data}>{value}</div></div>')


def _layers_hint(by: str) -> str:
    """Whose summary line the layer count follows (graph/counts.py `layers_by`)."""
    if by.startswith("Ultralytics"):
        return f"leaf modules, as {by} counts them"
    return f"modules, as {by or 'YOLOv5'} counts them"


def summary_html(result: dict, change: str = "", imgsz: int = 640) -> str:
    c = result["counts"]
    cells = [
        _stat("Parameters", f"{c['params']:,}", "params", c["params"]),
        _stat(f"GFLOPs @{imgsz}", f"{c['gflops']:.2f}", "gflops", round(c["gflops"], 4),
              "2 × multiply-adds of one forward pass, thop's counting rules"),
        _stat("Fused params", f"{c['fused_params']:,}", "fused-params", c["fused_params"],
              "deploy form: BatchNorm folded into convs, RepVGG blocks re-parameterised, unused weights dropped"),
        _stat("Fused GFLOPs", f"{c['fused_gflops']:.2f}", "fused-gflops", round(c["fused_gflops"], 4),
              "deploy form: BatchNorm folded into convs, RepVGG blocks re-parameterised"),
        _stat("Layers", f"{c['layers']}", "layers", c["layers"], _layers_hint(c.get("layers_by", ""))),
        _stat("Weights", f"{c['params'] * 4 / 2**20:.2f} MB", "size", None, "fp32"),
    ]
    ul = c.get("gflops_ultralytics", c["gflops"])
    if abs(ul - c["gflops"]) > 0.005:
        cells.insert(2, _stat("Ultralytics 8.4 GFLOPs", f"{ul:.2f}", "gflops-ul", round(ul, 4),
                              "as Ultralytics 8.4 prints it: its thop's rules (nearest upsampling free), "
                              "extrapolated from small stride-high images"))
    if abs(c["gflops_stride"] - c["gflops"]) > 0.005:
        cells.insert(2, _stat("YOLO-style GFLOPs", f"{c['gflops_stride']:.2f}", "gflops-yolo",
                              round(c["gflops_stride"], 4), "as YOLOv5 7.0 prints it"))
    why = ""
    if abs(c["gflops_stride"] - c["gflops"]) > 0.005:
        why = ('<div class="yld-why">YOLOv5 prints the YOLO-style figure: it counts one '
               '32-pixel image and scales by area, which overstates layers whose cost does not grow with the '
               'image (squeeze-and-excite).</div>')
    if c.get("dead_params"):
        why += f'<div class="yld-note" id="stat-dead">⚠ {escape(dead_line(c["dead_params"], c.get("dead", [])))}</div>'
    delta = f'<div class="yld-change" id="stat-change">{escape(change)} vs previous design</div>' if change else ""
    notes = "".join(f'<div class="yld-note">{escape(n)}</div>' for n in result.get("notes", []))
    head = (f'<div class="yld-name">{escape(result["name"])} · {result["nc"]} classes · '
            f'{escape(result["dialect"])} yaml · strides {"/".join(map(str, result["strides"]))}</div>')
    return f'<div class="yld-summary">{head}<div class="yld-stats">{"".join(cells)}</div>{why}{delta}{notes}</div>'


def error_html(message: str) -> str:
    if not message:
        return '<div class="yld-ok"></div>'
    return f'<div class="yld-error" role="alert">⚠ {escape(message)}</div>'


CSS = """
.yld-summary {padding: 4px 2px;}
.yld-name {font-size: 0.9rem; color: #475569; margin-bottom: 8px;}
.yld-stats {display: grid; grid-template-columns: repeat(auto-fill, minmax(104px, 1fr)); gap: 8px;}
.yld-stat {min-width: 0; border: 1px solid #e2e8f0; border-radius: 10px; padding: 8px 12px; background: #f8fafc;}
.yld-label {font-size: 0.75rem; color: #64748b; text-transform: uppercase; letter-spacing: 0.04em;}
.yld-value {font-size: 1.25rem; font-weight: 650; color: #0f172a; font-variant-numeric: tabular-nums;}
.yld-why, .yld-note {font-size: 0.8rem; color: #64748b; margin-top: 6px;}
.yld-change {margin-top: 8px; font-weight: 600; color: #0f766e;}
.yld-error {color: #b91c1c; background: #fef2f2; border: 1px solid #fecaca; border-radius: 8px; padding: 8px 10px;
            font-family: ui-monospace, monospace; font-size: 0.85rem;}
.yld-field-msg {color: #92400e; background: #fffbeb; border: 1px solid #fde68a; border-radius: 8px;
                 padding: 6px 10px; font-size: 0.85rem; margin-top: 4px;}
.yld-field-ok {display: none;}
.yld-stopping {color: #92400e; background: #fffbeb; border: 1px solid #fde68a; border-radius: 8px;
               padding: 6px 10px; font-size: 0.85rem; margin-top: 6px;}
#train-progress .yld-note {margin-top: 2px;}
.yld-table {border-collapse: collapse; margin-top: 6px;}
.yld-table td, .yld-table th {border: 1px solid #e2e8f0; padding: 4px 10px; text-align: right;}
#graph {overflow: auto; max-height: 900px; border: 1px solid #e2e8f0; border-radius: 10px; background: white;}
#graph svg {display: block; margin: 0 auto;}
#graph .yld-graph-wrap {position: relative;}
#graph .yld-graph-tools {position: sticky; top: 0; z-index: 2; display: flex; gap: 4px; justify-content: flex-end;
                         align-items: center; padding: 4px 8px; background: rgba(255, 255, 255, 0.92);
                         border-bottom: 1px solid #e2e8f0;}
#graph .yld-graph-tools button {min-width: 30px; height: 26px; padding: 0 8px; border: 1px solid #cbd5e1;
                                border-radius: 6px; background: #f8fafc; color: #0f172a; font-weight: 600;
                                cursor: pointer;}
#graph .yld-graph-tools button:hover, #graph .yld-graph-tools button:focus-visible {background: #e2e8f0;}
#graph .yld-zoom-level {order: -1; margin-right: auto; font-size: 0.75rem; color: #64748b;
                        font-variant-numeric: tabular-nums;}
#graph .yld-graph-canvas {overflow: auto; max-height: 840px;}
#graph .yld-graph-card {position: absolute; z-index: 3; max-width: 400px; pointer-events: none;
                        background: #0f172a; color: #f8fafc; border-radius: 8px; padding: 8px 10px;
                        font-size: 0.78rem; line-height: 1.4; box-shadow: 0 6px 18px rgba(15, 23, 42, 0.3);
                        font-variant-numeric: tabular-nums; overflow-wrap: anywhere;}
#graph .yld-graph-card[hidden] {display: none;}
#graph .yld-graph-card div {color: #e2e8f0; margin: 0;}
#graph .yld-graph-card div.yld-card-title {font-weight: 700; color: #fcd34d; margin-bottom: 2px;}
.yld-edit-msg {font-size: 0.85rem; color: #0f766e; min-height: 1.2em;}
.yld-history {max-height: 260px; overflow: auto; font-size: 0.85rem; border: 1px solid #e2e8f0; border-radius: 8px;
              padding: 6px 10px; background: #f8fafc;}
.yld-history ol {margin: 0; padding-left: 1.4em;}
.yld-hist-undone {color: #94a3b8; text-decoration: line-through;}
.yld-hist-empty {color: #64748b;}
"""
