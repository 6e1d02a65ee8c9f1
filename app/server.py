"""The web server: the Gradio app mounted on a FastAPI app that also serves Netron's viewer for
exports (routes under /netron/, files from engine/viewer.py only)."""
from __future__ import annotations

import fastapi
import gradio as gr
from fastapi.responses import FileResponse, HTMLResponse, PlainTextResponse

from engine import viewer

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
                                headers={"Cache-Control": "no-store"})
        path = viewer.static_file(name)
        if path is None:
            return PlainTextResponse("not found", status_code=404)
        return FileResponse(path)


def create_server(demo: gr.Blocks, **mount_kw) -> fastapi.FastAPI:
    app = fastapi.FastAPI()
    netron_routes(app)
    return gr.mount_gradio_app(app, demo, path="/", **mount_kw)
