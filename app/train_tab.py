"""The Train tab: pick the data and settings, start `launch.py train` in its own process for the
design on the Design tab, watch progress, loss and mAP curves and the log live, stop it cleanly, and
find earlier runs again. The job is followed through its event file; the session keeps only its
name (plain data)."""
from __future__ import annotations

import os
import shutil
import threading
from html import escape

import gradio as gr
import torch

from engine.data.config import DataError
from engine.data.zipdata import extract_dataset_zip
from engine.train.jobs import TrainJob, list_runs, read_events, run_crash_message, run_state
from graph.counts import count
from graph.errors import SpecError
from graph.resolve import resolve
from graph.source import source as design_source

from . import settings
from .charts import line_chart
from .choices import model_choices
from .janitor import room_left
from .paths import PathRefused, client_file
from .views import error_html

PROJECT = os.environ.get("YLD_RUNS", "runs")
JOBS: dict[str, TrainJob] = {}  # job name -> job, across sessions (a session holds only the name)
_starting = threading.Lock()
SOURCES = ["Built-in shapes", "data.yaml on the server", "Upload a zip (YOLO layout)"]


def devices() -> list[str]:
    return ["cpu"] + [f"cuda:{i}" for i in range(torch.cuda.device_count())]


def design_line(design: dict) -> str:
    try:
        c = count(resolve(design_source(text=design["yaml"]).spec, 640))
        return (f'<div class="yld-note" id="train-design">Training <b>{escape(design.get("name", "model"))}</b>: '
                f'{c.params:,} parameters, {c.gflops:.2f} GFLOPs at 640 (the design on the Design tab).</div>')
    except SpecError as err:
        return error_html(str(err))


def curves(events: list[dict]) -> tuple[str, str]:
    """(loss chart, mAP chart) as SVG: each loss term's running epoch mean per batch; mAP per epoch."""
    losses: dict[str, list] = {}
    for e in events:
        if e["event"] == "batch_end":
            for k, v in e["loss"].items():
                losses.setdefault(k, []).append((e["epoch"] + (e["batch"] + 1) / e["batches"], v))
    maps: dict[str, list] = {"mAP50": [], "mAP50-95": []}
    for e in events:
        if e["event"] == "epoch_end":
            for k in maps:
                maps[k].append((e["epoch"] + 1, e["metrics"][k]))
    return (line_chart(losses, "Loss terms (epoch mean so far)", "epoch", "loss-chart"),
            line_chart({k: v for k, v in maps.items() if v}, "Validation mAP", "epoch", "map-chart", y_max=1.0))


def progress_html(events: list[dict], state: str, message: str = "") -> str:
    last = next((e for e in reversed(events) if e["event"] == "batch_end"), None)
    epoch = next((e for e in reversed(events) if e["event"] == "epoch_end"), None)
    if last is None:
        body = "starting…" if state == "running" else ""
        frac = 0.0
    else:
        done = last["epoch"] * last["batches"] + last["batch"] + 1
        frac = done / (last["epochs"] * last["batches"])
        eta = int(last["eta_s"])
        body = (f"epoch {last['epoch'] + 1}/{last['epochs']} · batch {last['batch'] + 1}/{last['batches']} · "
                f"{last['images_per_s']:.1f} img/s · ETA {eta // 60}:{eta % 60:02d}")
    if epoch:
        m = epoch["metrics"]
        body += f" · last mAP50 {m['mAP50']:.3f}, mAP50-95 {m['mAP50-95']:.3f}"
    colour = {"running": "#2563eb", "finished": "#059669", "stopped": "#d97706", "crashed": "#dc2626",
              "incomplete": "#7c3aed"}.get(state, "#64748b")
    note = f'<div class="yld-error">{escape(message)}</div>' if message else ""
    return (f'<div id="train-progress" data-state="{state}"><div style="font-weight:600;color:{colour}">{state}</div>'
            f'<div style="background:#e2e8f0;border-radius:6px;height:10px;margin:6px 0">'
            f'<div style="width:{frac * 100:.1f}%;background:{colour};height:10px;border-radius:6px"></div></div>'
            f'<div class="yld-note">{escape(body)}</div>{note}</div>')


def resolve_data(source: str, path: str, upload) -> str | tuple[str, str]:
    """'shapes', a checked server data.yaml path, or ('zip', the checked uploaded zip)."""
    if source == SOURCES[0]:
        return "shapes"
    if source == SOURCES[1]:
        if not path or not os.path.isfile(path) or not path.lower().endswith((".yaml", ".yml")):
            raise DataError(f"no data.yaml at {path!r} on the server")
        if not settings.current().data_path_allowed(path):
            raise DataError(f"{path!r} is outside the dataset folders this server was started with (--data-root)")
        return path
    if not upload:
        raise DataError("upload a zip in YOLO layout first (images/train, images/val, labels/...)")
    return "zip", client_file(upload, "dataset zip")


def server_busy() -> str | None:
    """Why no training can start now (the server-wide limit), or None."""
    running = [j for j in JOBS.values() if j.state == "running"]
    limit = settings.current().max_jobs
    if len(running) >= limit:
        return (f"The server is already running {len(running)} training run(s), its limit (--max-jobs {limit}): "
                f"wait for one to end or stop it.")
    return None


def start(design, source, path, upload, epochs, imgsz, batch, device, job_name):
    """Check everything, then make the run folder and start the process; a refused start leaves
    nothing on disk."""
    job = JOBS.get(job_name or "")
    if job is not None and job.state == "running":
        return job_name, error_html("A training run of this session is still running: stop it or wait for it.")
    if device not in devices():
        return job_name, error_html(f"unknown device {device!r}; this server has {', '.join(devices())}")
    with _starting:  # two sessions pressing Start at once still count against one limit
        busy = server_busy()
        if busy:
            return job_name, error_html(busy)
        return _start_checked(design, source, path, upload, epochs, imgsz, batch, device, job_name)


def _start_checked(design, source, path, upload, epochs, imgsz, batch, device, job_name):
    job = TrainJob({}, PROJECT)
    try:
        resolve(design_source(text=design["yaml"]).spec, int(imgsz))  # a design that does not resolve never trains
        data = resolve_data(source, path, upload)
        os.makedirs(job.dir)
        if isinstance(data, tuple):
            data = extract_dataset_zip(data[1], os.path.join(job.dir, "data"), max_bytes=room_left())
        cfg = os.path.join(job.dir, "model.yaml")
        with open(cfg, "w", encoding="utf-8") as fh:
            fh.write(design["yaml"])
        report = check_dataset(data, int(imgsz)) if data != "shapes" else ""
    except (DataError, SpecError, PathRefused) as err:
        shutil.rmtree(job.dir, ignore_errors=True)
        return job_name, error_html(str(err))
    job.args = {"cfg": cfg, "data": data, "epochs": int(epochs), "imgsz": int(imgsz), "batch": int(batch),
                "device": device}
    JOBS[job.name] = job.start()
    return job.name, report or error_html("")


def check_dataset(data: str, imgsz: int) -> str:
    """Read a dataset before training it: a bad one is said here, not by a crashed process; bad
    label rows and unreadable images are listed (they are skipped, not fatal)."""
    from engine.data.config import load_data_config
    from engine.data.dataset import YoloDataset

    cfg = load_data_config(data)
    warnings, skipped = [], 0
    for split in ("train", "val"):
        ds = YoloDataset(cfg[split], cfg["names"], imgsz)
        warnings += ds.warnings
        skipped += ds.skipped_images
    if not warnings and not skipped:
        return ""
    shown = "".join(f"<li>{escape(w)}</li>" for w in warnings[:8])
    more = f"<li>… and {len(warnings) - 8} more</li>" if len(warnings) > 8 else ""
    return (f'<div class="yld-note" id="data-warnings">Dataset read with {len(warnings)} warning(s), '
            f'{skipped} unreadable image(s) skipped:<ul>{shown}{more}</ul></div>')


def poll(job_name):
    job = JOBS.get(job_name or "")
    if job is None:
        return (gr.skip(),) * 6
    job.poll()
    state = job.state
    loss, maps = curves(job.events)
    message = job.crash_message() if state == "crashed" else ""
    best = os.path.join(job.dir, "best.pt")
    done = state != "running"
    return (progress_html(job.events, state, message), loss, maps, job.log_tail(),
            best if done and os.path.exists(best) else gr.skip(),
            gr.update(choices=model_choices(PROJECT)) if done else gr.skip())


def stop(job_name):
    job = JOBS.get(job_name or "")
    if job is not None:
        job.stop()
    return error_html("Stopping: the current batch finishes, then last.pt is written." if job else "")


def _running() -> set[str]:
    return {name for name, job in JOBS.items() if job.state == "running"}


def run_choices() -> list[tuple[str, str]]:
    """Every run under PROJECT, crashed ones too: 'NAME · state · N epochs · mAP50 x'."""
    return [(f"{r['name']} · {r['state']} · {r['epochs']} epochs · mAP50 {r['mAP50'] or 0:.3f}", r["dir"])
            for r in list_runs(PROJECT, _running())]


def load_run(folder):
    if not folder:
        return (gr.skip(),) * 5
    root = os.path.realpath(PROJECT)
    if os.path.dirname(os.path.realpath(folder)) != root:  # only run folders of this app
        return progress_html([], "idle", "not a run folder of this app"), gr.skip(), gr.skip(), None, gr.skip()
    events = [e for e in read_events(os.path.join(folder, "events.jsonl"))[0] if isinstance(e, dict)]
    loss, maps = curves(events)
    best = os.path.join(folder, "best.pt")
    state = run_state(folder, events, os.path.basename(os.path.normpath(folder)) in _running())
    message = run_crash_message(folder) if state == "crashed" else ""
    return (progress_html(events, state, message), loss, maps,
            best if os.path.exists(best) else None, gr.update(choices=model_choices(PROJECT), value=best if os.path.exists(best) else None))


def build_train_tab(design_state: gr.State, test_model: gr.Dropdown):
    job_name = gr.State("")
    design_info = gr.HTML("", elem_id="train-design-line")
    with gr.Row(equal_height=False):
        with gr.Column(scale=1, min_width=320):
            source = gr.Radio(SOURCES, value=SOURCES[0], label="Dataset")
            path = gr.Textbox(label="data.yaml path on the server", placeholder="/data/my/data.yaml")
            upload = gr.File(label="Dataset zip", file_types=[".zip"])
            with gr.Row():
                epochs = gr.Number(30, label="Epochs", precision=0, minimum=1, maximum=1000)
                imgsz = gr.Number(256, label="Train image size", precision=0, minimum=32, maximum=1280, step=32)
            with gr.Row():
                batch = gr.Number(16, label="Batch", precision=0, minimum=1, maximum=512)
                device = gr.Dropdown(devices(), value="cpu", label="Device")
            with gr.Row():
                go = gr.Button("Start", variant="primary", elem_id="train-start")
                halt = gr.Button("Stop", variant="stop", elem_id="train-stop")
            message = gr.HTML(error_html(""), elem_id="train-message")
            runs = gr.Dropdown(run_choices(), label="Earlier runs", elem_id="train-runs")
            refresh = gr.Button("Refresh runs", size="sm")
        with gr.Column(scale=2):
            progress = gr.HTML(progress_html([], "idle"), elem_id="train-progress-box")
            with gr.Row():
                loss_plot = gr.HTML(curves([])[0], elem_id="loss-plot")
                map_plot = gr.HTML(curves([])[1], elem_id="map-plot")
            log = gr.Textbox(label="Log", lines=10, max_lines=10, elem_id="train-log", interactive=False)
            best = gr.File(label="best.pt", elem_id="train-best", interactive=False)
    timer = gr.Timer(1.0)
    go.click(start, [design_state, source, path, upload, epochs, imgsz, batch, device, job_name],
             [job_name, message], api_visibility="private")
    halt.click(stop, [job_name], [message], api_visibility="private")
    timer.tick(poll, [job_name], [progress, loss_plot, map_plot, log, best, test_model], api_visibility="private",
               show_progress="hidden")
    refresh.click(lambda: gr.update(choices=run_choices()), None, [runs], api_visibility="private")
    runs.input(load_run, [runs], [progress, loss_plot, map_plot, best, test_model], api_visibility="private")
    design_state.change(design_line, [design_state], [design_info], api_visibility="private")
    return design_info
