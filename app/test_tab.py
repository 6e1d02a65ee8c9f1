"""The Test tab: drop images in, pick the model (the shipped demo model, the current design, untrained,
or a checkpoint of this project, named by its run), and see detections and latency for PyTorch and
onnxruntime: the median and spread of several runs and the threads each used. A first visit has the
demo model picked and its sample images loaded, so one click on Detect shows boxes; without the demo
file (demo/shapes-ghost-lite.pt) the tab says so and starts on the current design."""
from __future__ import annotations

from html import escape

import gradio as gr

from engine.checkpoint import CheckpointError
from engine.deploy.export import ExportError
from engine.deploy.run import predictors, run_images
from graph.errors import SpecError

from .choices import DEMO, DESIGN, UPLOADED, demo_model, demo_note, demo_path, model_choices, sample_files
from .paths import client_file, run_file
from .train_views import field_note, number_problem
from .views import error_html

DISPLAY_MAX = 4096  # annotated images are shown with their long side at most this (boxes keep image pixels)


TIMING_RUNS = 10  # runs per backend for the latency table: its median and spread


def _latency_html(latency: dict, trained: bool) -> str:
    """Per backend: threads, the median of each stage and of the total, and the total's p10–p90."""
    rows = []
    for b, t in latency.items():
        total = t.get("total", t["pre"] + t["inference"] + t["post"])
        spread = f"{t['p10']:.1f}–{t['p90']:.1f}" if "p10" in t else "–"
        rows.append(f"<tr data-backend=\"{b}\"><td>{'PyTorch' if b == 'torch' else 'onnxruntime'}</td>"
                    f"<td>{t.get('threads') or '–'}</td><td>{t['pre']:.1f}</td><td>{t['inference']:.1f}</td>"
                    f"<td>{t['post']:.1f}</td><td><b>{total:.1f}</b></td><td>{spread}</td></tr>")
    runs = max((t.get("runs", 0) for t in latency.values()), default=0)
    note = ("" if trained else '<div class="yld-note" id="untrained-note">Untrained design: the boxes are '
            'meaningless (random weights), the timing is real.</div>')
    return (f'<div id="latency">{note}<table class="yld-table"><tr><th>backend</th><th>threads</th>'
            f'<th>pre ms</th><th>inference ms</th><th>post ms</th><th>total ms (median)</th>'
            f'<th>total p10–p90 ms</th></tr>{"".join(rows)}</table>'
            f'<div class="yld-note">Median of {runs} runs after a warm-up, on the first image; p10–p90 is the '
            f'spread of the total over those runs (a busy machine widens it). Deploy form (BatchNorm folded).'
            f'</div></div>')


def _caption(r: dict) -> str:
    h, w = r["shape"][:2]
    shown = "" if r["image"].size == (w, h) else f" (shown scaled down from {w}x{h})"
    return f"{r['name']}: {len(r['detections'])} detections{shown}"


def size_note(imgsz) -> str:
    """The quiet check of the Inference size field, shown under it."""
    return field_note([p for p in [number_problem("Inference size", imgsz, 32, 1920, 32)] if p], "test-size-msg")


def do_predict(files, choice, ckpt, design, conf, iou, backend, imgsz):
    """-> (gallery, detections table, latency html, message html). A bad Inference size is said next
    to the field (size_note, on change); Detect then points there."""
    if number_problem("Inference size", imgsz, 32, 1920, 32):
        return gr.skip(), gr.skip(), gr.skip(), error_html("Fix the Inference size first (see the note under it).")
    if not files:
        return gr.skip(), gr.skip(), gr.skip(), error_html("Drop one or more images (jpg, png, bmp, webp) first.")
    try:
        paths = [client_file(f, "image") for f in files]
        if choice == DESIGN:
            preds = predictors(yaml_text=design["yaml"], imgsz=int(imgsz), name=design.get("name", "design"))
        elif choice == DEMO:
            if demo_model() is None:
                return gr.skip(), gr.skip(), gr.skip(), error_html(demo_note())
            preds = predictors(source=demo_path(), imgsz=int(imgsz))
        else:
            path = ckpt if choice == UPLOADED else choice
            if not path:
                return gr.skip(), gr.skip(), gr.skip(), error_html("Upload a checkpoint (.pt) of this project first.")
            path = client_file(path, "checkpoint") if choice == UPLOADED else run_file(path, "checkpoint")
            preds = predictors(source=path, imgsz=int(imgsz))
        out = run_images(preds, paths, float(conf), float(iou), "onnx" if backend == "onnxruntime" else "torch",
                         timing_runs=TIMING_RUNS, max_side=DISPLAY_MAX)
    except (SpecError, CheckpointError, ExportError, ValueError) as err:
        return gr.skip(), gr.skip(), gr.skip(), error_html(str(err))
    gallery = [(r["image"], _caption(r)) for r in out["results"]]
    table = [[r["name"], d["class_name"], d["confidence"], *d["box"]] for r in out["results"] for d in r["detections"]]
    message = error_html("; ".join(out["errors"])) if out["errors"] else error_html("")
    latency = _latency_html(out["latency"], out["trained"]) if out["latency"] else gr.skip()
    return gallery, table, latency, message


def demo_size(choice):
    """Picking the demo sets the Inference size to the one it was trained at."""
    demo = demo_model() if choice == DEMO else None
    return gr.update(value=demo["imgsz"]) if demo else gr.skip()


def build_test_tab(design_state: gr.State):
    demo = demo_model()
    size = demo["imgsz"] if demo else 640
    with gr.Row(equal_height=False):
        with gr.Column(scale=1, min_width=320):
            files = gr.File(sample_files if demo else None, label="Images", file_count="multiple",
                            file_types=["image"], elem_id="test-images")  # the samples, fresh on each visit
            samples = gr.Button("Sample images", size="sm", elem_id="test-samples", visible=demo is not None)
            choice = gr.Dropdown(model_choices(), value=DEMO if demo else DESIGN, label="Model", elem_id="test-model",
                                 allow_custom_value=True)  # a run removed meanwhile is a message, not a choice error
            gr.HTML(f'<div class="yld-note" id="demo-note">{escape(demo_note())}</div>', elem_id="test-demo")
            ckpt = gr.File(label="Checkpoint (.pt) of this project", file_types=[".pt"], elem_id="test-ckpt")
            backend = gr.Radio(["PyTorch", "onnxruntime"], value="PyTorch", label="Backend for the boxes")
            conf = gr.Slider(0.0, 1.0, 0.25, step=0.01, label="Confidence")
            iou = gr.Slider(0.05, 0.95, 0.45, step=0.05, label="IoU (NMS)")
            imgsz = gr.Number(size, label="Inference size", precision=0, step=32, elem_id="test-imgsz")
            size_msg = gr.HTML(size_note(size), elem_id="test-size")  # checked quietly here, no toast
            go = gr.Button("Detect", variant="primary", elem_id="detect")
            refresh = gr.Button("Refresh model list", size="sm")
        with gr.Column(scale=2):
            message = gr.HTML(error_html(""), elem_id="test-message")
            gallery = gr.Gallery(label="Detections", elem_id="test-gallery", columns=2, height=520)
            latency = gr.HTML("", elem_id="test-latency")
            table = gr.Dataframe(headers=["image", "class", "confidence", "x1", "y1", "x2", "y2"],
                                 interactive=False, label="Boxes", elem_id="test-boxes")
    go.click(do_predict, [files, choice, ckpt, design_state, conf, iou, backend, imgsz],
             [gallery, table, latency, message], api_visibility="private")
    imgsz.change(size_note, [imgsz], [size_msg], api_visibility="private", show_progress="hidden")
    choice.change(demo_size, [choice], [imgsz], api_visibility="private", show_progress="hidden")
    samples.click(sample_files, None, [files], api_visibility="private")
    refresh.click(lambda: gr.update(choices=model_choices()), None, [choice], api_visibility="private")
    return choice
