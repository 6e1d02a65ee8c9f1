"""HTML fragments the designer shows: the numbers panel and the yaml error line. The page's CSS lives in
app/styles.py (`CSS`, also importable from here)."""
from __future__ import annotations

from html import escape

from graph.report import dead_line

from .styles import CSS  # noqa: F401  (app/main.py and the benches take it from here)


def _stat(label: str, value: str, key: str, raw=None, hint: str = "") -> str:
    data = f' data-value="{raw}"' if raw is not None else ""
    title = f' title="{escape(hint)}"' if hint else ""
    return (f'<div class="yld-stat"{title}><div class="yld-label">{label}</div>'
            f'<div class="yld-value" id="stat-{key}"{data}>{value}</div></div>')


def _pairs(cells: list[str]) -> str:
    return "".join(f'<div class="yld-pair">{"".join(cells[i:i + 2])}</div>' for i in range(0, len(cells), 2))


def _layers_hint(by: str) -> str:
    """Whose summary line the layer count follows (graph/counts.py `layers_by`)."""
    if by.startswith("Ultralytics"):
        return f"leaf modules, as {by} counts them"
    return f"modules, as {by or 'YOLOv5'} counts them"


def summary_html(result: dict, change: str = "", imgsz: int = 640, refused: str = "") -> str:
    """The numbers panel: six cards in three pairs, in fixed places (they never reflow between designs;
    the pairs wrap 3 / 2 + 1 / 1 a row with the width, app/styles.py), the other GFLOPs conventions in a
    pair under them when they differ. `refused`: an image size the page did not take; the numbers stay
    at `imgsz` and the panel says so."""
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
    other = []
    if abs(c["gflops_stride"] - c["gflops"]) > 0.005:
        other.append(_stat("YOLO-style GFLOPs", f"{c['gflops_stride']:.2f}", "gflops-yolo",
                           round(c["gflops_stride"], 4), "as YOLOv5 7.0 prints it"))
    ul = c.get("gflops_ultralytics", c["gflops"])
    if abs(ul - c["gflops"]) > 0.005:
        other.append(_stat("Ultralytics 8.4 GFLOPs", f"{ul:.2f}", "gflops-ul", round(ul, 4),
                           "as Ultralytics 8.4 prints it: its thop's rules (nearest upsampling free), "
                           "extrapolated from small stride-high images"))
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
    if refused:
        head += (f'<div class="yld-refused" id="stat-refused" role="status">Numbers at {imgsz} px: image size '
                 f'{escape(refused)} was not taken</div>')
    rows = f'<div class="yld-stats">{_pairs(cells)}</div>'
    if other:
        rows += f'<div class="yld-stats yld-stats-other">{_pairs(other)}</div>'
    return f'<div class="yld-summary">{head}{rows}{why}{delta}{notes}</div>'


def error_html(message: str) -> str:
    if not message:
        return '<div class="yld-ok"></div>'
    return f'<div class="yld-error" role="alert">⚠ {escape(message)}</div>'
