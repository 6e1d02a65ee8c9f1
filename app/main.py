"""The app: one gr.Blocks with the designer's tabs, and `serve()` for `python launch.py`."""
from __future__ import annotations

import gc

import gradio as gr

from .api import register_api
from .design_tab import build_design_tab
from .views import CSS


def build_app() -> gr.Blocks:
    with gr.Blocks(title="YOLO Lite Designer") as demo:
        gr.Markdown("## YOLO Lite Designer\nCompose a lightweight detector from a backbone, a neck and a head; "
                    "the numbers match what YOLOv5 / Ultralytics print.")
        with gr.Tab("Design"):
            build_design_tab()
        register_api()
    return demo


def serve(host: str = "127.0.0.1", port: int = 7860, **launch_kw) -> None:
    demo = build_app()
    gc.freeze()  # the long-lived objects of torch and gradio leave the collector's rounds
    demo.queue(default_concurrency_limit=4).launch(
        server_name=host, server_port=port, css=CSS, theme=gr.themes.Soft(), footer_links=["api"], **launch_kw)
