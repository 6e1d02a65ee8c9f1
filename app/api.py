"""The page's work as API endpoints for gradio_client: `compose` (picks -> design), `info` (yaml
text -> design) and `edit` (yaml text + edit operations -> the edited design), all through
graph/source.py as the page is. Plain JSON in and out."""
from __future__ import annotations

import gradio as gr

from graph.errors import SpecError

from . import handlers as h


def _public(result: dict, text: str) -> dict:
    if not result["ok"]:
        return dict(result)
    return {"ok": True, "name": result["name"], "yaml": text, "notes": result["notes"],
            "strides": result["strides"], **result["counts"], "svg": result["svg"]}


def api_compose(backbone: str, neck: str, head: str, scale: str = "s", nc: int = 80, imgsz: int = 640) -> dict:
    """Compose a backbone + neck + head at a scale; returns the yaml and its counts, or an error."""
    try:
        design, size = h.picks_source(backbone, neck, head, scale, nc), int(imgsz)
    except (SpecError, ValueError, TypeError) as err:
        return {"ok": False, "error": str(err)}
    result = h.evaluate(design, size)
    return _public(result, result.get("yaml"))


def api_info(yaml_text: str, imgsz: int = 640) -> dict:
    """Counts of a model yaml (YOLOv5 or Ultralytics dialect); an error line if it does not resolve."""
    try:
        size = int(imgsz)
    except (ValueError, TypeError):
        return {"ok": False, "error": f"image size must be a whole number, got {imgsz!r}"}
    return _public(h.evaluate(yaml_text or "", size), yaml_text)


MAX_EDITS = 200


def api_edit(yaml_text: str, edits: list, imgsz: int = 640) -> dict:
    """Apply edits to a model yaml, left to right, as `launch.py edit` does: `edits` is a list of
    [operation, value] pairs — ["recipe", "ghost"], ["section", "neck"], ["where", "k=3,s=2"],
    ["swap", "Conv=GSConv"], ["insert", "3:[-1, 1, Conv, [64, 3, 1]]"], ["delete", "5"],
    ["set", "4:c2=128"]. Returns the edited yaml and its counts (with `before`: the counts it had),
    or an error line naming the layer; the given yaml is never changed."""
    try:
        size = int(imgsz)
        steps = [(str(op), str(value)) for op, value in edits or []]
    except (ValueError, TypeError):
        return {"ok": False, "error": "edits are [operation, value] pairs; imgsz a whole number"}
    if len(steps) > MAX_EDITS:
        return {"ok": False, "error": f"at most {MAX_EDITS} edits in one call, got {len(steps)}"}
    result = h.edit_design(yaml_text or "", steps, size)
    out = _public(result, result.get("yaml"))
    if out["ok"]:
        out["before"] = {k: result["before"][k] for k in ("params", "gflops", "fused_params", "fused_gflops")}
    return out


def register_api() -> None:
    gr.api(api_compose, api_name="compose")
    gr.api(api_info, api_name="info")
    gr.api(api_edit, api_name="edit")
