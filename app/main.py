"""The app: one gr.Blocks with the designer's tabs, served with Netron's viewer beside it."""
from __future__ import annotations

import gc

import gradio as gr

from . import janitor, prewarm, settings
from .api import register_api
from .design_tab import build_design_tab
from .explore_tab import build_explore_tab
from .export_tab import build_export_tab
from .server import create_server
from .test_tab import build_test_tab
from .train_tab import build_train_tab, design_line, keep_lists_current
from .views import CSS


def build_app() -> gr.Blocks:
    with gr.Blocks(title="YOLO Lite Designer", analytics_enabled=False) as demo:  # nothing leaves the machine
        gr.Markdown("## YOLO Lite Designer\nCompose a lightweight detector from a backbone, a neck and a head; "
                    "the numbers match what YOLOv5 / Ultralytics print.")
        parts = {}  # the Design tab's pickers and outputs, which the Explore tab drives
        with gr.Tab("Design"):
            design = build_design_tab(parts)
        with gr.Tab("Export"):
            build_export_tab(design)
        with gr.Tab("Train") as train_page:
            train_tab = gr.Column()
        with gr.Tab("Test") as test_page:
            test_model = build_test_tab(design)
        with gr.Tab("Explore"):
            build_explore_tab(parts)
        with train_tab:
            info, runs = build_train_tab(design, test_model)
        demo.load(design_line, [design], [info], api_visibility="private")
        keep_lists_current(demo, train_page, test_page, runs, test_model)  # never the server start's lists
        register_api()
    return demo


def create_app():
    """The ASGI app: the page at /, Netron's viewer at /netron/, behind the request guard, with the
    settings of app/settings.py (configure them first)."""
    settings.prepare_temp()  # before the Blocks exist: Gradio's cache goes into the private folder
    demo = build_app().queue(default_concurrency_limit=4)
    app = create_server(demo, css=CSS, theme=gr.themes.Soft(), footer_links=["api"])
    janitor.start()
    return app


def address(s: settings.Settings) -> str:
    """The URL to open (with the token when there is one)."""
    host = "127.0.0.1" if s.host in ("0.0.0.0", "::") else s.host
    host = f"[{host}]" if ":" in host else host
    return f"http://{host}:{s.port}/" + (f"?token={s.token}" if s.token else "")


def serve(**options) -> None:
    """Serve with the given settings (see app/settings.py; launch.py's flags fill them)."""
    import uvicorn

    s = settings.configure(**options)
    app = create_app()
    prewarm.start()  # the design space into the disk cache, in a nice-19 process (app/prewarm.py)
    gc.freeze()  # the long-lived objects of torch and gradio leave the collector's rounds
    print(f"YOLO Lite Designer on {address(s)}")
    if s.token:
        print("Anyone with this address (its token) can use the app; keep it private. --no-auth turns this off.")
    print(f"Limits: {s.max_jobs} training run(s) at a time, uploads up to {s.max_file_size / 2**20:.0f} MiB, "
          f"disk quota {s.disk_quota / 2**30:.1f} GiB for {s.runs_dir} and {s.temp_root}")
    uvicorn.run(app, host=s.host, port=s.port, log_level="warning")


def serve_in_background(host: str = "127.0.0.1", port: int = 7860, timeout: float = 60, **options):
    """Start the server on a thread (tests, benchmarks); returns a function that stops it."""
    settings.configure(host=host, port=port, **options)
    return run_in_thread(create_app(), host, port, timeout, "the app")


def run_in_thread(app, host: str, port: int, timeout: float = 60, what: str = "the server"):
    """Serve an ASGI app with uvicorn on a daemon thread, wait until it listens; returns stop()."""
    import threading
    import time

    import uvicorn

    server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.time() + timeout
    while not server.started and time.time() < deadline:
        time.sleep(0.05)
    if not server.started:
        raise RuntimeError(f"{what} did not start")

    def stop():
        server.should_exit = True
        thread.join(timeout=10)

    return stop
