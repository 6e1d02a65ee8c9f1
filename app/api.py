"""The page's work as API endpoints for gradio_client: `compose` (picks -> design) and `info`
(yaml text -> design), both through graph/source.py as the page is. Plain JSON in and out."""
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


def register_api() -> None:
    gr.api(api_compose, api_name="compose")
    gr.api(api_info, api_name="info")
