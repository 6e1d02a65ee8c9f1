"""The Train tab: pick the data and settings, start `launch.py train` in its own process for the
design on the Design tab, watch progress, loss and mAP curves and the log live, stop it cleanly (and
see what the stop waits for), and find earlier runs again. The job is followed through its event
file; the session keeps only its name (plain data). The run lists here and on the Test tab are
rebuilt on page load, on tab select and when a run ends. What it shows is made in train_views.py."""
from __future__ import annotations

import os
import shutil
import threading
from html import escape

import gradio as gr
import torch

from engine.data.config import DataError
from engine.data.zipdata import extract_dataset_zip
from engine.train.jobs import TrainJob, describe_run, list_runs, read_events, run_crash_message
from graph.errors import SpecError
from graph.resolve import resolve
from graph.source import source as design_source

from . import settings
from .choices import model_choices
from .handlers import evaluate, safe_name
from .janitor import room_left
from .paths import PathRefused, client_file
from .train_views import curves, field_note, progress_html, settings_problems
from .views import error_html

PROJECT = os.environ.get("YLD_RUNS", "runs")
JOBS: dict[str, TrainJob] = {}  # job name -> job, across sessions (a session holds only the name)
_starting = threading.Lock()
SOURCES = ["Built-in shapes", "data.yaml on the server", "Upload a zip (YOLO layout)"]


def devices() -> list[str]:
    return ["cpu"] + [f"cuda:{i}" for i in range(torch.cuda.device_count())]


def design_line(design: dict) -> str:
    result = evaluate(design["yaml"], 640, design.get("name", "model"))  # cached: the Design tab counted it
    if not result["ok"]:
        return error_html(result["error"])
    c = result["counts"]
    return (f'<div class="yld-note" id="train-design">Training <b>{escape(design.get("name", "model"))}</b>: '
            f'{c["params"]:,} parameters, {c["gflops"]:.2f} GFLOPs at 640 (the design on the Design tab).</div>')


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


def check_settings(epochs, imgsz, batch) -> str:
    """The quiet check of the number fields, shown under them as they are typed."""
    return field_note(settings_problems(epochs, imgsz, batch))


def start(design, source, path, upload, epochs, imgsz, batch, device, job_name):
    """Check everything, then make the run folder and start the process; a refused start leaves
    nothing on disk. -> (job name, message html)."""
    problems = settings_problems(epochs, imgsz, batch)
    if problems:
        return job_name, error_html(" ".join(problems))
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


def start_clicked(design, source, path, upload, epochs, imgsz, batch, device, job_name):
    """The Start button: out-of-range numbers are said next to their fields, quietly (no toast, no
    traceback in the server log); otherwise `start`. -> (job name, message html, settings note html)."""
    problems = settings_problems(epochs, imgsz, batch)
    if problems:
        return job_name, error_html(""), field_note(problems)
    return (*start(design, source, path, upload, epochs, imgsz, batch, device, job_name), field_note([]))


def _start_checked(design, source, path, upload, epochs, imgsz, batch, device, job_name):
    job = TrainJob({}, PROJECT)
    try:
        resolve(design_source(text=design["yaml"]).spec, int(imgsz))  # a design that does not resolve never trains
        data = resolve_data(source, path, upload)
        os.makedirs(job.dir)
        if isinstance(data, tuple):
            data = extract_dataset_zip(data[1], os.path.join(job.dir, "data"), max_bytes=room_left())
        cfg = os.path.join(job.dir, f"{safe_name(design.get('name') or 'model')}.yaml")  # names the run's design
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


def _seen(job: TrainJob) -> str:
    return f"{job.name}:{job.state}:{len(job.events)}:{job.stopping}"


def poll(job_name, seen):
    """Every second: the job's progress, charts, log and checkpoint when something changed; the run
    lists (here and on the Test tab) once, when the run ends."""
    job = JOBS.get(job_name or "")
    if job is None:
        return (gr.skip(),) * 8
    job.poll()
    now = _seen(job)
    if now == seen:
        return (gr.skip(),) * 8
    state = job.state
    loss, maps = curves(job.events)
    message = job.crash_message() if state == "crashed" else ""
    ckpt = next((p for p in (os.path.join(job.dir, f) for f in ("best.pt", "last.pt")) if os.path.exists(p)), None)
    before = seen.split(":")[1] if seen and seen.startswith(f"{job.name}:") else None
    ended = state != "running" and before != state  # the lists change once, when the run ends
    return (progress_html(job.events, state, message, job.waiting_for()), loss, maps, job.log_tail(),
            ckpt if state != "running" and ckpt else gr.skip(),
            gr.update(choices=model_choices(PROJECT)) if ended else gr.skip(),
            gr.update(choices=run_choices()) if ended else gr.skip(), now)


def stop(job_name, validate=False):
    """Ask the run to stop after its batch (and to validate the partial epoch if ticked); the
    progress box says what the stop waits for until the process has ended."""
    job = JOBS.get(job_name or "")
    if job is None or job.state != "running":
        return '<div class="yld-note" id="train-nothing-to-stop">No training run of this page is running.</div>', gr.skip()
    job.stop(bool(validate))
    job.poll()
    return error_html(""), progress_html(job.events, job.state, "", job.waiting_for())


def _running() -> set[str]:
    return {name for name, job in JOBS.items() if job.state == "running"}


def run_choices() -> list[tuple[str, str]]:
    """Every run under PROJECT, crashed ones too, named by design, date, epochs, best mAP50 (and how
    it ended when it did not finish); the value is its folder."""
    return [(r["label"], r["dir"]) for r in list_runs(PROJECT, _running())]


def refresh_lists():
    """(Earlier runs, Test tab's models): rebuilt from the runs folder (page load, tab select)."""
    return gr.update(choices=run_choices()), gr.update(choices=model_choices(PROJECT))


def load_run(folder):
    if not folder:
        return (gr.skip(),) * 5
    root = os.path.realpath(PROJECT)
    if os.path.dirname(os.path.realpath(folder)) != root or not os.path.isdir(folder):  # run folders of this app
        return progress_html([], "idle", "not a run folder of this app"), gr.skip(), gr.skip(), None, gr.skip()
    events = [e for e in read_events(os.path.join(folder, "events.jsonl"))[0] if isinstance(e, dict)]
    loss, maps = curves(events)
    run = describe_run(folder, os.path.basename(os.path.normpath(folder)) in _running())
    state = run["state"]
    message = run_crash_message(folder) if state == "crashed" else ""
    ckpt = run["best"] or run["last"]
    return (progress_html(events, state, message), loss, maps, ckpt,
            gr.update(choices=model_choices(PROJECT), value=ckpt))


def source_fields(source):
    """Show only what the chosen dataset source needs: the path box, the zip upload, or neither."""
    return gr.update(visible=source == SOURCES[1]), gr.update(visible=source == SOURCES[2])


def build_train_tab(design_state: gr.State, test_model: gr.Dropdown):
    """The tab's layout and wiring; -> (design line, Earlier runs dropdown) for the page to refresh."""
    job_name, seen = gr.State(""), gr.State("")
    design_info = gr.HTML("", elem_id="train-design-line")
    with gr.Row(equal_height=False):
        with gr.Column(scale=1, min_width=320):
            source = gr.Radio(SOURCES, value=SOURCES[0], label="Dataset", elem_id="train-source")
            path = gr.Textbox(label="data.yaml path on the server", placeholder="/data/my/data.yaml",
                              visible=False, elem_id="train-data-path")
            upload = gr.File(label="Dataset zip", file_types=[".zip"], visible=False, elem_id="train-zip")
            with gr.Row():  # no minimum / maximum: Gradio would raise (a toast and a traceback); checked here
                epochs = gr.Number(30, label="Epochs", precision=0, elem_id="train-epochs")
                imgsz = gr.Number(256, label="Train image size", precision=0, step=32, elem_id="train-imgsz")
            with gr.Row():
                batch = gr.Number(16, label="Batch", precision=0, elem_id="train-batch")
                device = gr.Dropdown(devices(), value="cpu", label="Device")
            settings_msg = gr.HTML(field_note([]), elem_id="train-settings")
            with gr.Row():
                go = gr.Button("Start", variant="primary", elem_id="train-start")
                halt = gr.Button("Stop", variant="stop", elem_id="train-stop")
            validate = gr.Checkbox(False, label="On Stop, validate the partial epoch (its mAP; takes longer)",
                                   elem_id="train-validate-on-stop")
            message = gr.HTML(error_html(""), elem_id="train-message")
            runs = gr.Dropdown(run_choices(), label="Earlier runs", elem_id="train-runs", allow_custom_value=True)
            refresh = gr.Button("Refresh runs", size="sm")
        with gr.Column(scale=2):
            progress = gr.HTML(progress_html([], "idle"), elem_id="train-progress-box")
            with gr.Row():
                loss_plot = gr.HTML(curves([])[0], elem_id="loss-plot")
                map_plot = gr.HTML(curves([])[1], elem_id="map-plot")
            log = gr.Textbox(label="Log", lines=10, max_lines=10, elem_id="train-log", interactive=False)
            best = gr.File(label="Checkpoint (best.pt, or last.pt when no epoch was validated)",
                           elem_id="train-best", interactive=False)
    timer = gr.Timer(1.0)
    private = {"api_visibility": "private"}
    source.change(source_fields, [source], [path, upload], **private)
    for field in (epochs, imgsz, batch):
        field.change(check_settings, [epochs, imgsz, batch], [settings_msg], show_progress="hidden", **private)
    go.click(start_clicked, [design_state, source, path, upload, epochs, imgsz, batch, device, job_name],
             [job_name, message, settings_msg], api_name="start", **private)  # "start": the event's name
    halt.click(stop, [job_name, validate], [message, progress], **private)
    timer.tick(poll, [job_name, seen], [progress, loss_plot, map_plot, log, best, test_model, runs, seen],
               show_progress="hidden", **private)
    refresh.click(lambda: gr.update(choices=run_choices()), None, [runs], **private)
    runs.input(load_run, [runs], [progress, loss_plot, map_plot, best, test_model], **private)
    design_state.change(design_line, [design_state], [design_info], **private)
    return design_info, runs


def keep_lists_current(demo: gr.Blocks, train_page: gr.Tab, test_page: gr.Tab, runs: gr.Dropdown,
                       test_model: gr.Dropdown) -> None:
    """The run lists follow the runs folder: rebuilt on page load and when either tab is selected."""
    private = {"api_visibility": "private", "show_progress": "hidden"}
    demo.load(refresh_lists, None, [runs, test_model], **private)
    train_page.select(refresh_lists, None, [runs, test_model], **private)
    test_page.select(refresh_lists, None, [runs, test_model], **private)
