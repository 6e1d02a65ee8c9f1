"""Issue 15 without a browser: run lists named by design / date / epochs / best mAP50, a stop mid-epoch
that is not an epoch, what a stop waits for, charts with ticks and a legend that never overlaps, the
EMA loss curve, the ETA with validation, quiet number checks, the latency spread, the export panels,
and `launch.py info` on an unknown name."""
import json
import os
import re
import subprocess
import sys
import time
import types

import numpy as np
import pytest
import torch

from app import charts
from app.train_views import curves, loss_series, number_problem, progress_html, settings_problems
from engine.data.synthetic import ensure_shapes
from engine.train.jobs import checkpoints, list_runs, waiting_for
from engine.train.stopping import StopAndEta
from engine.train.trainer import Events, TrainConfig, Trainer

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return ensure_shapes(root=str(tmp_path_factory.mktemp("shapes")), n_train=12, n_val=4, imgsz=64, seed=3)


def stopped_run(tiny, tmp, validate=False, after_batch=0, **kw):
    seen, events = [], Events()
    events.on("*", seen.append)
    trainer = Trainer(TrainConfig(preset="yolov8n", data=tiny, epochs=2, imgsz=64, batch=4, project=str(tmp),
                                  name="exp", close_mosaic=0, warmup_epochs=0.0, **kw), events)
    trainer.validate_partial = validate

    def stop(e):
        if e["batch"] == after_batch:
            trainer.stop_requested = True
    events.on("batch_end", stop)
    return trainer.fit(), seen


# ---------------------------------------------------------------- a stop mid-epoch is not an epoch
def test_stop_mid_epoch_is_not_an_epoch(tiny, tmp_path):
    result, seen = stopped_run(tiny, tmp_path)
    kinds = [e["event"] for e in seen]
    assert "epoch_end" not in kinds and kinds[-3:] == ["stopping", "epoch_partial", "fit_end"]
    assert result["partial"] == {"epoch": 0, "batch": 1, "batches": 3} and result["epochs_done"] == 0
    assert next(e for e in seen if e["event"] == "epoch_partial")["metrics"] is None  # not validated: not asked
    assert not os.path.exists(result["best"])
    raw = torch.load(result["last"], weights_only=True)
    assert raw["meta"]["partial"]["batch"] == 1 and raw["meta"]["train"]["epoch"] == -1  # resume redoes epoch 1
    resumed = Trainer(TrainConfig(resume=result["last"], epochs=1)).fit()
    assert resumed["epochs_done"] == 1 and resumed["partial"] is None and os.path.exists(resumed["best"])


def test_stop_mid_epoch_validates_when_asked(tiny, tmp_path):
    result, seen = stopped_run(tiny, tmp_path, validate=True)
    stop = next(e for e in seen if e["event"] == "stopping")
    part = next(e for e in seen if e["event"] == "epoch_partial")
    assert stop["partial"] and stop["validate"] and "mAP50" in part["metrics"]
    assert os.path.exists(result["best"]) and "epoch_end" not in [e["event"] for e in seen]


def test_stop_file_asks_for_validation(tmp_path):
    t = types.SimpleNamespace(validate_partial=False, save_dir=str(tmp_path))
    assert not StopAndEta.validate_on_stop(t)
    (tmp_path / "validate-on-stop").write_text("")
    assert StopAndEta.validate_on_stop(t)


def test_eta_includes_validation():
    t = types.SimpleNamespace(val_seconds=None, c=types.SimpleNamespace(epochs=3),
                              val_loader=types.SimpleNamespace(dataset=range(10)), train_set=range(100))
    guess = StopAndEta._eta(t, 0, 4, 10, 5.0)  # first epoch: 5 s for 5 of 10 batches, no validation yet
    assert guess > 5 + 20  # more than the batches alone: a guess for the three validations
    t.val_seconds = 7.0
    assert StopAndEta._eta(t, 1, 9, 10, 10.0) == pytest.approx(0 + 10 + 2 * 7.0)  # last batch of epoch 2


# ---------------------------------------------------------------- run lists and the stop's words
def write_events(folder, events, files=("last.pt",)):
    os.makedirs(folder)
    with open(os.path.join(folder, "events.jsonl"), "w") as fh:
        fh.writelines(json.dumps(e) + "\n" for e in events)
    for f in files:
        open(os.path.join(folder, f), "wb").close()


START = {"event": "fit_start", "time": 1767225600.0, "epochs": 5, "batches": 25,
         "args": {"cfg": "/x/runs/run-1/shufflenet-lite.yaml"}}


def epoch_end(epoch, m50, m5095):
    return {"event": "epoch_end", "epoch": epoch, "epochs": 5, "metrics": {"mAP50": m50, "mAP50-95": m5095}}


def test_runs_are_named_by_design_date_epochs_best_map(tmp_path):
    write_events(str(tmp_path / "run-1"), [START, epoch_end(0, 0.2, 0.1), epoch_end(1, 0.5, 0.3), epoch_end(2, 0.4, 0.2),
                                           {"event": "fit_end", "stopped": False}], ("best.pt", "last.pt"))
    partial = {"epoch": 3, "batch": 9, "batches": 25}
    write_events(str(tmp_path / "run-2"), [{**START, "args": {"preset": "yolov8n"}}, epoch_end(0, 0.1, 0.05),
                                           {"event": "fit_end", "stopped": True, "partial": partial}])
    runs = {r["name"]: r for r in list_runs(str(tmp_path))}
    when = time.strftime("%Y-%m-%d %H:%M", time.localtime(START["time"]))
    assert runs["run-1"]["label"] == f"shufflenet-lite · {when} · 3 epochs · best mAP50 0.500"
    assert runs["run-2"]["label"] == f"yolov8n · {when} · 1 epoch · best mAP50 0.100 · stopped during epoch 4 (batch 9/25)"
    assert sorted(os.path.basename(os.path.dirname(p)) + "/" + os.path.basename(p)
                  for p in checkpoints(str(tmp_path))) == ["run-1/best.pt", "run-2/last.pt"]  # last.pt: no best.pt


def test_model_choices_are_labelled(tmp_path):
    from app.choices import DEMO, DESIGN, model_choices

    write_events(str(tmp_path / "run-1"), [START, epoch_end(0, 0.25, 0.1), {"event": "fit_end", "stopped": False}],
                 ("best.pt",))
    choices = [c for c in model_choices(str(tmp_path)) if c[1] != DEMO]  # the demo, first: tests/test_demo.py
    assert choices[0] == (DESIGN, DESIGN)
    label, value = choices[2]
    assert value == str(tmp_path / "run-1" / "best.pt") and label.startswith("shufflenet-lite · ")
    assert label.endswith("1 epoch · best mAP50 0.250 — best.pt") and "/" not in label


def test_waiting_for_says_what_the_stop_waits_for():
    batch = {"event": "batch_end", "epoch": 0, "epochs": 2, "batch": 8, "batches": 25, "time": 10.0}
    assert "model and data to load" in waiting_for([START])
    assert waiting_for([START, {**batch, "time": 6.0, "batch": 7}, batch]) == \
        "waiting for batch 10/25 to finish (a batch takes about 4 s), then last.pt is written"
    assert "validation of epoch 1" in waiting_for([START, {**batch, "batch": 24}])
    stop = {"event": "stopping", "epoch": 0, "batch": 9, "batches": 25, "partial": True, "validate": False}
    assert waiting_for([START, batch, stop]) == "writing last.pt"
    assert "validating the partial epoch" in waiting_for([START, batch, {**stop, "validate": True}])


def test_progress_box_stopping_and_stopped():
    batch = {"event": "batch_end", "epoch": 0, "epochs": 2, "batch": 8, "batches": 25, "eta_s": 80,
             "images_per_s": 9.0, "loss": {"box": 1.0}}
    html = progress_html([START, batch], "running", "", "waiting for batch 10/25 to finish, then last.pt is written")
    assert 'id="train-stopping"' in html and "yld-error" not in html and ">stopping<" in html
    end = {"event": "fit_end", "stopped": True, "partial": {"epoch": 0, "batch": 9, "batches": 25}, "seconds": 12}
    html = progress_html([START, batch, end], "stopped")
    assert "stopped during epoch 1 (batch 9/25)" in html and "not validated" in html and "0 complete epochs" in html
    assert 'data-partial="1:9/25"' in html and "train-stopping" not in html and "mAP50 " not in html


# ---------------------------------------------------------------- charts
def test_ticks_are_round():
    assert charts.nice_ticks(0, 1.0, 5) == [0, 0.2, 0.4, 0.6, 0.8, 1.0]
    assert charts.nice_ticks(0, 37, 6, integer=True) == [0, 10, 20, 30]
    assert charts.nice_top(0.0012, 1.0) == pytest.approx(0.0015) and charts.nice_top(0.9, 1.0) == 1.0


def test_legend_entries_never_overlap():
    rows = charts.legend_rows(["mAP50 0.0012", "mAP50-95 0.00031", "x" * 60, "y"], 394)
    flat = [(i, x) for row in rows for i, x in row]
    assert len(rows) >= 2 and [i for i, _ in flat] == [0, 1, 2, 3]
    first = rows[0]
    assert first[1][1] >= first[0][1] + 16 + len("mAP50 0.0012") * charts.CHAR_W


def test_loss_curve_is_raw_points_plus_an_ema_that_does_not_reset():
    events, true = [], []
    for ep in range(2):
        mean = 0.0
        for i in range(4):
            v = 3.0 - ep - 0.2 * i
            true.append(v)
            mean = (mean * i + v) / (i + 1)
            events.append({"event": "batch_end", "epoch": ep, "batch": i, "batches": 4, "loss": {"box": round(mean, 5)}})
    smooth, raw, marks = loss_series(events)
    assert [round(v, 3) for _, v in raw["box"]] == [round(v, 3) for v in true]  # from the running means
    assert marks == [1.0, 2.0]
    ys = [v for _, v in smooth["box"]]
    assert ys[4] < ys[3]  # crossing the boundary: no jump back up as an epoch mean would
    loss, maps = curves(events)
    assert loss.count('class="xtick"') >= 3 and loss.count('class="ytick"') >= 3
    assert 'data-raw="box"' in loss and 'data-series="box"' in loss and 'data-mark="1"' in loss
    assert "no validated epoch yet" in maps and "<circle" not in loss  # lines of many points: no dots
    zero = curves(events + [{"event": "epoch_end", "epoch": 0, "metrics": {"mAP50": 0.0, "mAP50-95": 0.0}}])[1]
    ticks = re.findall(r'class="ytick"[^>]*>([^<]+)<', zero)
    assert ticks[-1] == "0.01" and not any("e-" in t for t in ticks)  # all-zero mAP: still round ticks


# ---------------------------------------------------------------- quiet number checks
def test_number_checks():
    assert number_problem("Epochs", 5, 1, 1000) == ""
    assert "out of range" in number_problem("Train image size", 300, 32, 1280, 32)
    assert "enter a whole number" in number_problem("Batch", None, 1, 512)
    assert len(settings_problems(0, 300, 4)) == 2 and settings_problems(1, 64, 4) == []


def test_start_with_bad_numbers_says_so_next_to_the_fields(tmp_path, monkeypatch):
    import app.train_tab as tt
    from app.handlers import preset_yaml

    monkeypatch.setattr(tt, "PROJECT", str(tmp_path))
    design = {"yaml": preset_yaml("yolov8n")[1], "name": "yolov8n"}
    name, message, note = tt.start_clicked(design, tt.SOURCES[0], "", None, 0, 300, 4, "cpu", "")
    assert name == "" and "Epochs 0" in note and "Train image size 300" in note and os.listdir(tmp_path) == []
    assert "yld-error" not in message
    name, message = tt.start(design, tt.SOURCES[0], "", None, 5, 64, 0, "cpu", "")  # the plain handler says so too
    assert name == "" and "Batch 0 is out of range" in message and os.listdir(tmp_path) == []
    assert [u["visible"] for u in tt.source_fields(tt.SOURCES[0])] == [False, False]
    assert [u["visible"] for u in tt.source_fields(tt.SOURCES[1])] == [True, False]
    assert [u["visible"] for u in tt.source_fields(tt.SOURCES[2])] == [False, True]


# ---------------------------------------------------------------- Test and Export tabs
def test_latency_has_median_spread_and_threads():
    from app.test_tab import _latency_html
    from engine.deploy.run import predictors, run_images
    from graph.templates import preset_path

    preds = predictors(yaml_text=open(preset_path("yolov8n")).read(), imgsz=64)
    img = np.full((64, 64, 3), 120, np.uint8)
    out = run_images(preds, [img], timing_runs=6)
    for b in ("torch", "onnx"):
        t = out["latency"][b]
        assert t["runs"] == 6 and t["p10"] <= t["total"] <= t["p90"] and t["threads"] >= 1
    html = _latency_html(out["latency"], False)
    assert "threads" in html and "p10–p90" in html and "Median of 6 runs" in html


def test_export_pack_keeps_the_onnx_panel(tmp_path):
    import gradio as gr

    from app.export_tab import do_pack, export_clicked
    from app.handlers import preset_yaml

    design = {"yaml": preset_yaml("yolov8n")[1], "name": "yolov8n"}
    message, path, panel = do_pack(design, 64)
    assert os.path.exists(path) and 'id="pack-result"' in panel and "yolo_lite_blocks.py" in panel
    status, onnx_file, view, token, message = export_clicked(design, 100, False, "old")
    assert isinstance(status, type(gr.skip())) and token == "old" and "Export image size 100" in message


# ---------------------------------------------------------------- CLI
def test_info_unknown_name_lists_presets_and_close_matches():
    p = subprocess.run([sys.executable, "launch.py", "info", "yolov8"], cwd=ROOT, capture_output=True, text=True,
                       timeout=120)
    assert p.returncode == 2 and "Traceback" not in p.stderr and len(p.stderr.strip().splitlines()) == 1
    assert "neither a file nor a preset" in p.stderr and "No such file" not in p.stderr
    assert re.search(r"Did you mean yolov8\w", p.stderr) and "yolov5-mobilenetv3-small" in p.stderr
