"""Small hardening fixes: huge images in the Test tab, compare.csv quoting and formula injection,
a training killed by a signal (message and Earlier runs), and `train --device` on a bad device."""
from __future__ import annotations

import csv
import io
import json
import os
import pathlib
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import numpy as np
import pytest
from PIL import Image

from app.handlers import pins_csv
from engine.deploy.run import predictors, run_images
from engine.train.jobs import TrainJob, list_runs
from graph.templates import preset_path

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


# ---------------------------------------------------------------- 1. a 16384-px-wide image
@pytest.fixture(scope="module")
def three_images():
    from gradio.utils import get_upload_folder

    os.makedirs(get_upload_folder(), exist_ok=True)  # the page only reads files uploaded to it
    d = pathlib.Path(tempfile.mkdtemp(prefix="yld-test-wide-", dir=get_upload_folder()))
    Image.new("RGB", (320, 200), (30, 160, 90)).save(d / "a.png")
    wide = np.zeros((64, 16384, 3), np.uint8)
    wide[:, ::512] = 255  # something to look at
    Image.fromarray(wide).save(d / "wide.png")
    Image.new("RGB", (200, 300), (200, 60, 60)).save(d / "c.png")
    yield [str(d / n) for n in ("a.png", "wide.png", "c.png")]
    shutil.rmtree(d, ignore_errors=True)


def webp_ok(im: Image.Image) -> bool:
    im.save(io.BytesIO(), "WEBP")  # raises over 16383 px, as in Gradio's gallery
    return True


def test_wide_image_comes_back_displayable_with_the_others(three_images):
    from app.test_tab import DESIGN, do_predict

    design = {"yaml": open(preset_path("yolov5n")).read(), "name": "v5n"}
    gallery, table, _, message = do_predict(three_images, DESIGN, None, design, 0.0, 0.5, "PyTorch", 64)
    assert [cap.split(":")[0] for _, cap in gallery] == ["a.png", "wide.png", "c.png"], message
    for im, _ in gallery:
        assert max(im.size) <= 4096 and webp_ok(im)
    wide_boxes = [row[3:] for row in table if row[0] == "wide.png"]
    assert wide_boxes and all(0 <= x1 <= x2 <= 16384 and 0 <= y1 <= y2 <= 64 for x1, y1, x2, y2 in wide_boxes)
    assert max(x2 for _, _, x2, _ in wide_boxes) > 4096  # boxes stay in the original pixels


def test_one_failing_image_loses_none_of_the_others(three_images):
    preds = dict(predictors(yaml_text=open(preset_path("yolov5n")).read(), imgsz=64))
    real = preds["torch"]

    class Flaky:  # fails on the wide one only, like an encoder or a model would
        def predict(self, img, **kw):
            if img.shape[1] > 10000:
                raise RuntimeError("boom\non two lines")
            return real.predict(img, **kw)

        def benchmark(self, img, **kw):
            return real.benchmark(img, **kw)
    preds["torch"] = Flaky()
    out = run_images(preds, three_images, conf=0.0, timing_runs=1)
    assert [r["name"] for r in out["results"]] == ["a.png", "c.png"]
    assert len(out["errors"]) == 1 and out["errors"][0].startswith("wide.png:") and "\n" not in out["errors"][0]


# ---------------------------------------------------------------- 2. compare.csv
def test_compare_csv_quotes_and_neutralises_formulas():
    names = ['say "hi", twice', "two\nlines", '=HYPERLINK("http://evil.example","x")', "+1", "-1", "@SUM(A1)",
             "\tTAB", "plain"]
    pins = [{"name": n, "imgsz": 640, "classes": 80, "params": 1000 + i, "GFLOPs": 1.5, "fused params": 990, "fused GFLOPs": 1.4,
             "size MB": 0.01} for i, n in enumerate(names)]
    with open(pins_csv(pins), newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == ["name", "imgsz", "classes", "params", "GFLOPs", "fused params", "fused GFLOPs", "size MB",
                       "latency ms"]
    assert len(rows) == 1 + len(names) and all(len(r) == 9 for r in rows)
    got = [r[0] for r in rows[1:]]
    assert got[:2] == names[:2] and got[-1] == "plain"
    assert got[2:7] == ["'" + n for n in names[2:7]]
    assert [r[3] for r in rows[1:]] == [str(1000 + i) for i in range(len(names))]


# ---------------------------------------------------------------- 3. a training killed by a signal
def test_sigkilled_job_is_crashed_with_signal_and_last_log_line(tmp_path, monkeypatch):
    job = TrainJob({}, str(tmp_path))
    code = "import time; print('hello'); print('last words', flush=True); time.sleep(30)"
    monkeypatch.setattr(job, "command", lambda: [sys.executable, "-c", code])
    job.start()
    deadline = time.time() + 30
    while "last words" not in job.log_tail() and time.time() < deadline:
        time.sleep(0.1)
    os.kill(job.proc.pid, signal.SIGKILL)
    job.proc.wait(timeout=30)
    job.poll()
    msg = job.crash_message()
    assert job.state == "crashed"
    assert "SIGKILL" in msg and "last words" in msg and "\n" not in msg


def write_run(folder, events, log="epoch 1/30 batch 3/8\n"):
    os.makedirs(folder)
    with open(os.path.join(folder, "events.jsonl"), "w") as fh:
        fh.writelines(json.dumps(e) + "\n" for e in events)
    with open(os.path.join(folder, "train.log"), "w") as fh:
        fh.write(log)
    old = time.time() - 3600
    for f in ("events.jsonl", "train.log"):
        os.utime(os.path.join(folder, f), (old, old))


START = {"event": "fit_start", "epochs": 30, "batches": 8}
BATCH = {"event": "batch_end", "epoch": 0, "epochs": 30, "batch": 2, "batches": 8, "loss": {"box": 1.0},
         "images_per_s": 5.0, "eta_s": 100.0}


def test_run_without_fit_end_is_listed_as_crashed(tmp_path, monkeypatch):
    write_run(str(tmp_path / "killed"), [START, BATCH], log="epoch 1/30 batch 3/8\nlast words here\n")
    write_run(str(tmp_path / "done"), [START, BATCH, {"event": "fit_end", "stopped": False}])
    os.makedirs(tmp_path / "empty")  # nothing in it: not a run
    runs = {r["name"]: r for r in list_runs(str(tmp_path))}
    assert set(runs) == {"killed", "done"}
    assert runs["killed"]["state"] == "crashed" and runs["killed"]["epochs"] == 0
    assert runs["done"]["state"] == "finished"

    import app.train_tab as tt

    monkeypatch.setattr(tt, "PROJECT", str(tmp_path))
    labels = dict((v, k) for k, v in tt.run_choices())
    assert "crashed" in labels[str(tmp_path / "killed")]
    html = tt.load_run(str(tmp_path / "killed"))[0]
    assert 'data-state="crashed"' in html and "last words here" in html


# ---------------------------------------------------------------- 4. train --device
@pytest.mark.parametrize("device, words", [
    ("cuda:0", "cuda:0 was asked for but this machine has no CUDA device; use --device cpu"),
    ("gpu7", "unknown device 'gpu7'"),
])
def test_train_bad_device_is_one_line_exit_2(device, words, tmp_path):
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": ""}
    p = subprocess.run([sys.executable, "launch.py", "train", "--preset", "yolov8n", "--epochs", "1",
                        "--device", device, "--project", str(tmp_path)],
                       cwd=ROOT, capture_output=True, text=True, timeout=60, env=env)
    assert p.returncode == 2, p.stderr
    assert "Traceback" not in p.stderr and len(p.stderr.strip().splitlines()) == 1, p.stderr
    assert words in p.stderr


def test_check_device_on_a_one_gpu_machine(monkeypatch):
    import torch

    from engine.train.trainer import DeviceError, check_device

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    assert check_device(" CUDA:0 ") == "cuda:0" and check_device("cuda") == "cuda" and check_device("cpu") == "cpu"
    with pytest.raises(DeviceError, match="has 1 CUDA device"):
        check_device("cuda:1")
