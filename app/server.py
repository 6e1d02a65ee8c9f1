"""The web server: the Gradio app mounted on a FastAPI app that also serves Netron's viewer for
exports (routes under /netron/, files from engine/deploy/viewer.py only), all behind the request
guard."""
from __future__ import annotations

import fastapi
import gradio as gr
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import FileResponse, HTMLResponse, PlainTextResponse, Response

from engine.deploy import viewer

from . import settings
from .security import Guard

STORE = viewer.ExportStore()


def netron_routes(app: fastapi.FastAPI, store: viewer.ExportStore = STORE) -> None:
    @app.get("/netron/models/{token}/{name}")
    def model(token: str, name: str):
        path = store.model_file(token, name)
        if path is None:
            return PlainTextResponse("not found", status_code=404)
        return FileResponse(path, media_type="application/octet-stream", headers={"Cache-Control": "no-store"})

    @app.get("/netron/{name}")
    def static(name: str, token: str = ""):
        if name == "index.html":  # the viewer, set up for one live export (its scripts load beside it)
            if store.model_file(token, "model.onnx") is None:
                return PlainTextResponse("This export is gone (re-export to view it again).", status_code=404)
            return HTMLResponse(viewer.viewer_page(f"models/{token}/model.onnx", "model.onnx"),
                                headers={"Cache-Control": "no-store", **viewer.HEADERS})
        path = viewer.static_file(name)
        if path is None:
            return PlainTextResponse("not found", status_code=404)
        script = viewer.patched_script(name)  # its telemetry cut out; every file carries the CSP (workers too)
        if script is not None:
            return Response(script, media_type="text/javascript",
                            headers={"Cache-Control": "no-cache", **viewer.HEADERS})
        return FileResponse(path, headers=viewer.HEADERS)


def create_server(demo: gr.Blocks, **mount_kw):
    """The ASGI app: Gradio and the viewer behind the request guard (app/security.py), with
    Gradio's own upload check on, the upload limit and the cache clean-up of the settings."""
    s = settings.current()
    app = fastapi.FastAPI()
    # A CORS policy of our own (no other origin) replaces Gradio's, which lets any localhost page in.
    app.add_middleware(CORSMiddleware, allow_origins=[], allow_credentials=False)
    netron_routes(app)
    demo.delete_cache = (min(600, s.cache_ttl_s), s.cache_ttl_s)
    # Outputs may come from the runs folder (best.pt) wherever it is, besides Gradio's defaults.
    gr.mount_gradio_app(app, demo, path="/", max_file_size=s.max_file_size, server_name=s.host,
                        server_port=s.port, allowed_paths=[s.runs_dir], **mount_kw)
    # mount_gradio_app never marks the blocks launched, and Gradio checks that input files were
    # uploaded (not just named by the client) only once they are.
    demo.has_launched = True
    return Guard(app)
