"""The app: one gr.Blocks with the designer's tabs, served with Netron's viewer beside it."""
from __future__ import annotations

import gc

import gradio as gr

from .api import register_api
from .design_tab import build_design_tab
from .export_tab import build_export_tab
from .server import create_server
from .test_tab import build_test_tab
from .train_tab import build_train_tab, design_line
from .views import CSS


def build_app() -> gr.Blocks:
    with gr.Blocks(title="YOLO Lite Designer") as demo:
        gr.Markdown("## YOLO Lite Designer\nCompose a lightweight detector from a backbone, a neck and a head; "
                    "the numbers match what YOLOv5 / Ultralytics print.")
        with gr.Tab("Design"):
            design = build_design_tab()
        with gr.Tab("Export"):
            build_export_tab(design)
        with gr.Tab("Train"):
            train_tab = gr.Column()
        with gr.Tab("Test"):
            test_model = build_test_tab(design)
        with train_tab:
            info = build_train_tab(design, test_model)
        demo.load(design_line, [design], [info], api_visibility="private")
        register_api()
    return demo


def create_app():
    """The FastAPI app: the page at /, Netron's viewer at /netron/."""
    demo = build_app().queue(default_concurrency_limit=4)
    return create_server(demo, css=CSS, theme=gr.themes.Soft(), footer_links=["api"])


def serve(host: str = "127.0.0.1", port: int = 7860) -> None:
    import uvicorn

    app = create_app()
    gc.freeze()  # the long-lived objects of torch and gradio leave the collector's rounds
    print(f"YOLO Lite Designer on http://{host}:{port}")
    uvicorn.run(app, host=host, port=port, log_level="warning")


def serve_in_background(host: str = "127.0.0.1", port: int = 7860, timeout: float = 60):
    """Start the server on a thread (tests, benchmarks); returns a function that stops it."""
    import threading
    import time

    import uvicorn

    server = uvicorn.Server(uvicorn.Config(create_app(), host=host, port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.time() + timeout
    while not server.started and time.time() < deadline:
        time.sleep(0.05)
    if not server.started:
        raise RuntimeError("the app did not start")

    def stop():
        server.should_exit = True
        thread.join(timeout=10)

    return stop
