"""Training jobs as the page runs them: a process per run, followed through its events, stopped
cleanly, found again later; and dataset zips checked before use."""
import io
import os
import time
import zipfile

import pytest

from engine.checkpoint import load_checkpoint
from engine.data.config import DataError, load_data_config
from engine.data.synthetic import ensure_shapes
from engine.data.zipdata import extract_dataset_zip
from engine.train.jobs import TrainJob, list_runs


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return ensure_shapes(root=str(tmp_path_factory.mktemp("shapes")), n_train=8, n_val=4, imgsz=64, seed=2)


@pytest.fixture(scope="module")
def longer(tmp_path_factory):
    """20 batches of 2 an epoch: a stop asked after the first batch lands inside epoch 1."""
    return ensure_shapes(root=str(tmp_path_factory.mktemp("shapes40")), n_train=40, n_val=4, imgsz=64, seed=2)


def wait(job, until, timeout=300):
    deadline = time.time() + timeout
    while time.time() < deadline:
        job.poll()
        if until(job):
            return
        time.sleep(0.3)
    raise AssertionError(f"timed out; state {job.state}; log:\n{job.log_tail()}")


def test_job_runs_to_the_end_and_is_listed(tiny, tmp_path):
    job = TrainJob({"preset": "yolov8n", "data": tiny, "epochs": 1, "imgsz": 64, "batch": 4}, str(tmp_path)).start()
    wait(job, lambda j: j.state != "running")
    assert job.state == "finished", job.log_tail()
    kinds = [e["event"] for e in job.events]
    assert kinds[0] == "fit_start" and "batch_end" in kinds and "epoch_end" in kinds and kinds[-1] == "fit_end"
    assert load_checkpoint(os.path.join(job.dir, "best.pt")).trained
    runs = list_runs(str(tmp_path))
    assert runs[0]["name"] == job.name and runs[0]["epochs"] == 1 and runs[0]["best"]


def test_stop_mid_run_leaves_a_loadable_last_pt(longer, tmp_path):
    job = TrainJob({"preset": "yolov5n", "data": longer, "epochs": 50, "imgsz": 64, "batch": 2}, str(tmp_path)).start()
    wait(job, lambda j: any(e["event"] == "batch_end" for e in j.events))
    job.stop()
    wait(job, lambda j: j.state != "running")
    assert job.state == "stopped", job.log_tail()
    end = next(e for e in job.events if e["event"] == "fit_end")
    assert end["stopped"] and end["partial"]["epoch"] == 0 and end["epochs_done"] == 0
    assert not any(e["event"] == "epoch_end" for e in job.events)  # a partial epoch is not an epoch
    assert load_checkpoint(os.path.join(job.dir, "last.pt")).model.nc == 4
    run = list_runs(str(tmp_path))[0]
    assert run["epochs"] == 0 and f"stopped during epoch 1 (batch {end['partial']['batch']}/20)" in run["label"]
    assert "stopped during epoch 1" in job.log_tail() and job.waiting_for() == ""


def test_stop_with_validation_asked(longer, tmp_path):
    job = TrainJob({"preset": "yolov8n", "data": longer, "epochs": 5, "imgsz": 64, "batch": 2}, str(tmp_path)).start()
    wait(job, lambda j: any(e["event"] == "batch_end" for e in j.events))
    job.stop(validate=True)
    assert job.waiting_for().startswith(("waiting for", "validating", "writing"))
    wait(job, lambda j: j.state != "running")
    part = next(e for e in job.events if e["event"] == "epoch_partial")
    assert job.state == "stopped" and "mAP50" in part["metrics"] and os.path.exists(os.path.join(job.dir, "best.pt"))


def test_a_crash_is_reported(tmp_path):
    job = TrainJob({"cfg": str(tmp_path / "missing.yaml"), "epochs": 1}, str(tmp_path)).start()
    wait(job, lambda j: j.state != "running")
    assert job.state == "crashed" and "missing.yaml" in job.crash_message()


def make_zip(files: dict) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, data in files.items():
            z.writestr(name, data)
    return buf.getvalue()


def test_good_zip_unpacks_into_its_folder_only(tiny, tmp_path):
    root = os.path.dirname(tiny)
    files = {}
    for sub in ("images/train", "images/val", "labels/train", "labels/val"):
        for f in sorted(os.listdir(os.path.join(root, sub)))[:3]:
            files[f"set/{sub}/{f}"] = open(os.path.join(root, sub, f), "rb").read()
    z = tmp_path / "ok.zip"
    z.write_bytes(make_zip(files))
    data = extract_dataset_zip(str(z), str(tmp_path / "job" / "data"))
    assert data.startswith(str(tmp_path / "job"))
    cfg = load_data_config(data)
    assert len(cfg["train"]) == 3 and len(cfg["val"]) == 3 and cfg["nc"] >= 1


@pytest.mark.parametrize("files, words", [
    ({"../evil.txt": b"x", "images/a.jpg": b""}, "outside"),
    ({"/abs/evil.txt": b"x"}, "outside"),
    ({"images/train/a.jpg": b"x"}, "no labels/"),
    ({"readme.txt": b"x"}, "no images/"),
], ids=["dotdot", "absolute", "no-labels", "no-images"])
def test_bad_zips_are_refused(tmp_path, files, words):
    z = tmp_path / "bad.zip"
    z.write_bytes(make_zip(files))
    with pytest.raises(DataError, match=words):
        extract_dataset_zip(str(z), str(tmp_path / "job"))
    assert not (tmp_path / "evil.txt").exists()


def test_not_a_zip(tmp_path):
    z = tmp_path / "x.zip"
    z.write_text("hello")
    with pytest.raises(DataError, match="not a readable zip"):
        extract_dataset_zip(str(z), str(tmp_path / "job"))


def test_page_reports_bad_label_rows_before_training(tiny, tmp_path):
    import shutil

    from app.train_tab import check_dataset

    root = tmp_path / "ds"
    shutil.copytree(os.path.dirname(tiny), root)
    label = sorted((root / "labels" / "train").iterdir())[0]
    label.write_text(label.read_text() + "7 0.5 0.5 0.1 0.1\n0.5 0.5\n")
    data = root / "data.yaml"
    data.write_text(f"path: {root}\ntrain: images/train\nval: images/val\nnames: [circle, square, triangle, cross]\n")
    html = check_dataset(str(data), 64)
    assert "2 warning(s)" in html and label.name in html and "out of range" in html
