"""The designer's handlers: plain functions of plain data (strings, numbers, dicts) that call
graph/. No Gradio here, so they are tested without a browser and scripted through the API.

A design comes in through graph/source.py (a Source: what the user named, as plain hashable data) or
as yaml text; the per-session state is that text and the numbers it gave, never a model object.
`evaluate` is cached on the Source (text is made one first, through a cache of its own), and its costly
part (resolve, count, draw) on the spec, so a design reached again through another Source (its own text
in the page's state) is not counted or drawn twice: it is a pure function; text too large to evaluate is
refused before the caches. The yaml offered for download is written when it is asked for
(`write_yaml_file`), never on a design change.
"""
from __future__ import annotations

import csv
import functools
import hashlib
import io
import os
import re
import tempfile
import threading

from graph import edit
from graph.counts import count
from graph.errors import SpecError
from graph.limits import MAX_TEXT_BYTES
from graph.render import render_svg
from graph.report import unused_note
from graph.resolve import resolve
from graph.source import Source, source

DEFAULT_PRESET = "yolov8n"
PIN_COLUMNS = ["name", "imgsz", "classes", "params", "GFLOPs", "fused params", "fused GFLOPs", "size MB",
               "latency ms"]  # pin_row's keys
DOWNLOADS = "yld-files"  # the temp folder's sub-folder for files offered for download
TABLE_HEADERS = ["#", "from", "n", "params", "module", "arguments", "output", "GFLOPs"]


def evaluate(design: Source | str, imgsz: int = 640, name: str = "model") -> dict:
    """A Source or yaml text -> {ok, name, yaml, counts, svg, table, notes, strides, dialect, nc}, or
    {ok: False, error, layer, module, field, why}. `yaml` is the Source's own text, or its spec written
    once with the stride comments of the graph resolved here; `name` names text whose yaml does not.

    Text that is not a str, or larger than graph/limits.MAX_TEXT_BYTES, is refused here, before the
    caches, so a refused text never becomes a cache key."""
    if not isinstance(design, Source):
        refused = _refuse_text(design)
        if refused is not None:
            return {"ok": False, **refused.as_dict()}
        design = _text_source(design, name)
        if isinstance(design, SpecError):
            return {"ok": False, **design.as_dict()}
    # One evaluation of a design at a time: a second request for it (Gradio's dropdown sends a mouse pick
    # twice, at once) waits and takes the cached result instead of counting it again beside the first.
    with _STRIPES[hash((design, int(imgsz))) % len(_STRIPES)]:
        return _evaluate_cached(design, imgsz)


_STRIPES = [threading.Lock() for _ in range(16)]


def _refuse_text(text) -> SpecError | None:
    if not isinstance(text, str):
        return SpecError(f"the model yaml must be text, got {type(text).__name__}")
    if len(text) > MAX_TEXT_BYTES or len(text.encode("utf-8", "replace")) > MAX_TEXT_BYTES:
        return SpecError(f"the yaml is larger than {MAX_TEXT_BYTES // 1024} KB; a model file is a few KB")
    return None


@functools.lru_cache(maxsize=64)
def _text_source(text: str, name: str) -> Source | SpecError:
    """Checked text -> Source (or the SpecError saying why not); cached, so a text is parsed once."""
    try:
        return source(text=text, name=name)
    except SpecError as err:
        return err.with_traceback(None)


@functools.lru_cache(maxsize=64)
def _measured(spec, name: str, imgsz: int) -> tuple | SpecError:
    """(graph, counts, svg, table rows) of a spec at imgsz, or the SpecError saying why not; cached on
    the spec itself (`name` too: it takes no part in a spec's equality), so one design is resolved,
    counted and drawn once whichever Source it came through (the pickers, then its own yaml text in the
    page's state, an undo)."""
    try:
        graph = resolve(spec, int(imgsz))
        counts = count(graph)
    except SpecError as err:
        return err.with_traceback(None)
    table = [[r["index"], str(r["from"]), r["n"], r["params"], r["module"], str(r["args"]).replace("'", ""),
              "×".join(map(str, r["out_shape"])) if r["out_shape"] else "-", round(r["gflops"], 3)]
             for r in counts.per_layer]
    return graph, counts, render_svg(graph, counts), table


@functools.lru_cache(maxsize=64)
def _evaluate_cached(design: Source, imgsz: int) -> dict:
    """`evaluate` of a Source; cached on (Source, imgsz): it is a pure function. One resolve serves
    the counts, the picture and the stride comments of the yaml."""
    spec = design.spec
    measured = _measured(spec, spec.name, int(imgsz))
    if isinstance(measured, SpecError):
        return {"ok": False, **measured.as_dict()}
    graph, counts, svg, table = measured
    try:
        text = design.yaml(graph)
    except SpecError as err:
        return {"ok": False, **err.as_dict()}
    return {
        "ok": True, "name": spec.name, "dialect": spec.dialect, "nc": spec.nc, "yaml": text,
        "notes": list(design.notes) + unused_note(graph, counts),
        "strides": graph.strides, "counts": counts.as_dict(), "svg": svg, "table": table,
    }


def timed_svg(text: str, imgsz: int, layer_ms: dict, name: str = "model") -> str | None:
    """The graph of the design `text` at `imgsz` with the measured milliseconds of each layer drawn as a
    time-share bar beside the FLOP-share bar (graph/render.py); None when the text is not a good design.
    Drawn once per measurement: every design change that shows the measured design asks again."""
    if not isinstance(text, str):
        return None
    return _timed_svg(text, int(imgsz), tuple(sorted(layer_ms.items())), name)


@functools.lru_cache(maxsize=8)
def _timed_svg(text: str, imgsz: int, layer_ms: tuple, name: str) -> str | None:
    design = _text_source(text, name)
    if isinstance(design, SpecError):
        return None
    measured = _measured(design.spec, design.spec.name, imgsz)  # cached with evaluate
    if isinstance(measured, SpecError):
        return None
    graph, counts, _, _ = measured
    return render_svg(graph, counts, dict(layer_ms))


def _cache_clear() -> None:
    _timed_svg.cache_clear()
    _text_source.cache_clear()
    _evaluate_cached.cache_clear()
    _measured.cache_clear()


evaluate.cache_info = _evaluate_cached.cache_info  # the cache behind evaluate, for tests and benches
evaluate.cache_clear = _cache_clear


def edit_design(text: str, steps, imgsz: int = 640, name: str = "model") -> dict:
    """yaml text + block edits ((operation, value) pairs of graph/edit.apply, left to right, or a function
    spec -> (spec, notes) such as the layer inspector's graph/inspect.replace) -> evaluate's
    result of the edited design, plus `before` (the text's counts) and `changed` (indices of the layers
    that differ; None when layers were inserted or deleted); or {ok: False, error, ...}: the text's own
    error or the edit's one-line refusal. The text is never changed. The API's /edit and the Design
    tab's edit panel both come here."""
    before = evaluate(text, imgsz, name)
    if not before["ok"]:
        return dict(before)
    design = _text_source(text, name)  # evaluate checked and parsed it (cached)
    try:
        spec, notes = steps(design.spec) if callable(steps) else edit.apply(design.spec, steps)
    except SpecError as err:
        return {"ok": False, **err.as_dict()}
    result = evaluate(Source(spec, design.notes + tuple(notes), f"{spec.name}: edited by YOLO Lite Designer"),
                      int(imgsz))
    if not result["ok"]:
        return dict(result)
    old, new = design.spec.layers, spec.layers
    changed = [i for i, (a, b) in enumerate(zip(old, new)) if a != b] if len(old) == len(new) else None
    return {**result, "before": before["counts"], "changed": changed}  # a new dict: evaluate's is cached


def picks_source(backbone: str, neck: str, head: str, scale: str, nc: int) -> Source:
    """The pickers' design (SpecError when they do not compose)."""
    return source(picks={"backbone": backbone, "neck": neck, "head": head, "scale": scale}, nc=int(nc))


def compose_yaml(backbone: str, neck: str, head: str, scale: str, nc: int, imgsz: int = 640) -> str:
    """The yaml text the pickers stand for (what `launch.py compose` writes for the same picks)."""
    return picks_source(backbone, neck, head, scale, nc).yaml(imgsz=int(imgsz))


def preset_yaml(name: str, nc: int | None = None) -> tuple[dict | None, str]:
    """(picks or None, yaml text) of a preset: its file, or its spec written out when `nc` changes it."""
    src = source(preset=name, nc=nc)
    return src.picks, src.yaml()


def change_note(now: dict, before: dict | None) -> str:
    """'−41% params, −30% GFLOPs' against the previous design ('' when there is none or no change)."""
    if not before:
        return ""
    parts = []
    for key, label in (("params", "params"), ("gflops", "GFLOPs")):
        a, b = before[key], now[key]
        if a and a != b:
            pct = (b - a) / a * 100
            parts.append(f"{'+' if pct > 0 else '−'}{abs(pct):.0f}% {label}")
    return ", ".join(parts)


def safe_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-.") or "model"


def download_file(filename: str, text: str) -> str:
    """`text` as FILENAME for a download button, in a folder named by its content under the temp
    folder's `yld-files/` (the same design gives the same file, not a new folder per edit; the
    server's housekeeping removes old ones)."""
    digest = hashlib.sha256(f"{filename}\0{text}".encode("utf-8", "replace")).hexdigest()[:20]
    folder = os.path.join(tempfile.gettempdir(), DOWNLOADS, digest)
    os.makedirs(folder, mode=0o700, exist_ok=True)
    path = os.path.join(folder, filename)
    if not os.path.exists(path):
        with open(path, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
    return path


def write_yaml_file(text: str, name: str) -> str:
    """The yaml as NAME.yaml for the download button."""
    return download_file(f"{safe_name(name)}.yaml", text)


def read_upload(path: str | None, limit: int = 256 * 1024) -> str:
    """Text of an uploaded yaml file; SpecError if it is not readable text."""
    if not path:
        raise SpecError("no file was uploaded")
    try:
        if os.path.getsize(path) > limit:
            raise SpecError(f"the uploaded file is larger than {limit // 1024} KB; a model yaml is a few KB")
        with open(path, encoding="utf-8") as fh:
            return fh.read()
    except (OSError, UnicodeDecodeError) as err:
        raise SpecError(f"cannot read the uploaded file as text: {err.__class__.__name__}") from None


def pin_row(result: dict, label: str, imgsz: int = 640, latency_ms: float | str = "") -> dict:
    """One compare row of an evaluated design, counted at `imgsz` (its GFLOPs follow the image size);
    `latency_ms`: its measured median (app/measure_panel.py), '' when it was not measured."""
    c = result["counts"]
    return {"name": label, "imgsz": int(imgsz), "classes": result["nc"], "params": c["params"], "GFLOPs": round(c["gflops"], 2),
            "fused params": c["fused_params"], "fused GFLOPs": round(c["fused_gflops"], 2),
            "size MB": round(c["params"] * 4 / 2**20, 2), "latency ms": latency_ms}


def pins_csv(pins: list[dict]) -> str:
    """compare.csv for download: quoted by the csv module; a text cell that a spreadsheet would
    read as a formula (= + - @, tab, CR first) gets a leading ' ."""
    def cell(v):
        return "'" + v if isinstance(v, str) and v.startswith(("=", "+", "-", "@", "\t", "\r")) else v
    buf = io.StringIO()
    out = csv.writer(buf)
    out.writerow(PIN_COLUMNS)
    out.writerows([cell(p.get(c, "")) for c in PIN_COLUMNS] for p in pins)
    return download_file("compare.csv", buf.getvalue())
