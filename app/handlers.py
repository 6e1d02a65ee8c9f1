"""The designer's handlers: plain functions of plain data (strings, numbers, dicts) that call
graph/. No Gradio here, so they are tested without a browser and scripted through the API.

A design is evaluated from its yaml text — the per-session state is that text and the numbers it
gave, never a model object. `evaluate` is cached on (text, imgsz): it is a pure function.
"""
from __future__ import annotations

import functools
import os
import re
import tempfile

from graph.compose import compose
from graph.counts import count
from graph.dump import stride_comments, to_yaml
from graph.errors import SpecError
from graph.render import render_svg
from graph.resolve import resolve
from graph.spec import parse
from graph.templates import preset, preset_path

DEFAULT_PRESET = "yolov8n"
TABLE_HEADERS = ["#", "from", "n", "params", "module", "arguments", "output", "GFLOPs"]


@functools.lru_cache(maxsize=64)
def evaluate(text: str, imgsz: int = 640, name: str = "model") -> dict:
    """yaml text -> {ok, name, counts, svg, table, notes, strides, dialect} or {ok: False, error, layer}."""
    try:
        spec, notes = parse(text, name=name)
        graph = resolve(spec, int(imgsz))
        counts = count(graph)
    except SpecError as err:
        return {"ok": False, **err.as_dict()}
    return {
        "ok": True, "name": spec.name, "dialect": spec.dialect, "nc": spec.nc, "notes": notes,
        "strides": graph.strides, "counts": counts.as_dict(), "svg": render_svg(graph, counts),
        "table": [[r["index"], str(r["from"]), r["n"], r["params"], r["module"],
                   str(r["args"]).replace("'", ""), "×".join(map(str, r["out_shape"])) if r["out_shape"] else "-",
                   round(r["gflops"], 3)] for r in counts.per_layer],
    }


def compose_yaml(backbone: str, neck: str, head: str, scale: str, nc: int, imgsz: int = 640) -> str:
    """The yaml text the pickers stand for (what `launch.py compose` writes for the same picks)."""
    spec = compose(backbone, neck, head, scale, int(nc))
    graph = resolve(spec, int(imgsz))
    return to_yaml(spec, stride_comments(graph), title=f"{spec.name}: composed by YOLO Lite Designer "
                   f"(backbone {backbone}, neck {neck}, head {head}, scale {scale})")


def preset_yaml(name: str, nc: int | None = None) -> tuple[dict | None, str]:
    """(picks or None, yaml text) of a preset; with picks the text is their composition."""
    p = preset(name)
    if p.get("picks"):
        k = p["picks"]
        return k, compose_yaml(k["backbone"], k["neck"], k["head"], k["scale"], nc or 80)
    with open(preset_path(name), encoding="utf-8") as fh:
        text = fh.read()
    if nc is not None:
        text = re.sub(r"(?m)^nc:\s*\d+", f"nc: {int(nc)}", text, count=1)
    return None, text


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


def write_yaml_file(text: str, name: str) -> str:
    """The yaml in a fresh private folder, as NAME.yaml, for the download button."""
    folder = tempfile.mkdtemp(prefix="yld-yaml-")
    path = os.path.join(folder, f"{safe_name(name)}.yaml")
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(text)
    return path


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


def pin_row(result: dict, label: str) -> dict:
    c = result["counts"]
    return {"name": label, "params": c["params"], "GFLOPs": round(c["gflops"], 2),
            "fused params": c["fused_params"], "fused GFLOPs": round(c["fused_gflops"], 2),
            "size MB": round(c["params"] * 4 / 2**20, 2)}


def pins_csv(pins: list[dict]) -> str:
    folder = tempfile.mkdtemp(prefix="yld-compare-")
    path = os.path.join(folder, "compare.csv")
    cols = ["name", "params", "GFLOPs", "fused params", "fused GFLOPs", "size MB"]
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(",".join(cols) + "\n")
        for p in pins:
            fh.write(",".join(f'"{p[c]}"' if c == "name" else str(p[c]) for c in cols) + "\n")
    return path
