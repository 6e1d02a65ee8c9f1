"""Finding 5 (and the private cache of finding 8): the server's use of the machine is bounded —
one training at a time for the whole server, no run folder for a refused start, a disk quota for
runs/ and temp files with the oldest unpinned items removed, zips unpacked within the room left,
no zombie trainers, no new temp folder per edit, exports that go with their folder, and temp files
no other user of the machine can read."""
import os
import stat
import sys
import time
import zipfile

import pytest

from app import handlers as h
from app import janitor, settings
from app import train_tab as tt
from engine import housekeeping
from engine.data.config import DataError
from engine.data.zipdata import extract_dataset_zip
from engine.train.jobs import TrainJob

YAML = h.preset_yaml("yolov8n")[1]


@pytest.fixture(autouse=True)
def restore():
    before, jobs = settings.current(), dict(tt.JOBS)
    yield
    for job in tt.JOBS.values():
        job.kill()
        if job.proc is not None:
            job.proc.wait(5)
    tt.JOBS.clear()
    tt.JOBS.update(jobs)
    settings._current = before


@pytest.fixture
def sleeping_jobs(monkeypatch, tmp_path):
    """Trainings that are a process sleeping, in a scratch runs folder."""
    monkeypatch.setattr(TrainJob, "command", lambda self: [sys.executable, "-c", "import time; time.sleep(60)"])
    monkeypatch.setattr(tt, "PROJECT", str(tmp_path / "runs"))
    return tmp_path / "runs"


def _start(session_job=""):
    return tt.start({"yaml": YAML, "name": "m"}, tt.SOURCES[0], "", None, 1, 64, 2, "cpu", session_job)


def test_one_training_at_a_time_for_the_whole_server(sleeping_jobs):
    settings.configure(max_jobs=1)
    first, message = _start("")
    assert first in tt.JOBS and tt.JOBS[first].state == "running", message
    second, message = _start("")  # another session: its own (empty) job name
    assert second == "" and "--max-jobs 1" in message
    assert len(os.listdir(sleeping_jobs)) == 1
    tt.JOBS[first].kill()
    tt.JOBS[first].proc.wait(5)
    third, _ = _start("")
    assert third in tt.JOBS and third != first


def test_a_refused_start_leaves_no_run_folder(sleeping_jobs, tmp_path):
    bad_zip = tmp_path / "bad.zip"
    bad_zip.write_bytes(b"not a zip")
    for source, path, upload in [(tt.SOURCES[1], str(tmp_path / "nowhere.yaml"), None),
                                 (tt.SOURCES[2], "", None),
                                 (tt.SOURCES[2], "", str(bad_zip))]:  # not an upload: refused by path
        name, message = tt.start({"yaml": YAML, "name": "m"}, source, path, upload, 1, 64, 2, "cpu", "")
        assert name == "" and "yld-error" in message
    name, message = tt.start({"yaml": "nc: 1\nbackbone: [[-1, 1, Nope, [1]]]\nhead: []\n"}, tt.SOURCES[0], "",
                             None, 1, 64, 2, "cpu", "")
    assert name == "" and "Nope" in message
    assert not sleeping_jobs.exists() or os.listdir(sleeping_jobs) == []


def test_a_zip_unpacks_only_within_the_room_left(tmp_path):
    z = tmp_path / "d.zip"
    with zipfile.ZipFile(z, "w", zipfile.ZIP_DEFLATED) as f:
        f.writestr("images/train/a.png", b"\0" * 3_000_000)  # compresses to a few KB
        f.writestr("labels/train/a.txt", "0 0.5 0.5 0.1 0.1\n")
    with pytest.raises(DataError, match="room left"):
        extract_dataset_zip(str(z), str(tmp_path / "out"), max_bytes=1_000_000)
    assert not (tmp_path / "out" / "images").exists()


def _item(root, name, size, age, now):
    p = root / name
    p.mkdir(parents=True)
    (p / "f.bin").write_bytes(b"x" * size)
    os.utime(p / "f.bin", (now - age, now - age))
    return p


def test_clean_removes_old_temp_then_oldest_over_quota_and_keeps_pinned(tmp_path):
    now = time.time()
    temp, runs = tmp_path / "temp", tmp_path / "runs"
    old_tmp = _item(temp, "yld-old", 10, 10_000, now)
    new_tmp = _item(temp, "yld-new", 500, 10, now)
    _item(temp / "gradio", "abc", 300, 50, now)
    _item(runs, "run-1", 400, 5_000, now)
    live_run = _item(runs, "run-2", 400, 6_000, now)  # running: pinned although oldest
    outside = _item(tmp_path / "elsewhere", "keep", 5000, 99_999, now)
    items = housekeeping.collect(str(temp), str(runs), expand=("gradio",))
    assert {os.path.basename(i.path) for i in items} == {"yld-old", "yld-new", "abc", "run-1", "run-2"}
    removed = housekeeping.clean(items, quota=1000, ttl_s=3600, pinned={str(live_run)}, now=now)
    gone = {os.path.basename(i.path) for i in removed}
    assert gone == {"yld-old", "run-1", "abc"}  # ttl, then oldest first until 900 <= 1000
    assert new_tmp.exists() and live_run.exists() and outside.exists() and not old_tmp.exists()
    assert (temp / "gradio").is_dir()


def test_janitor_reaps_finished_trainers(sleeping_jobs, monkeypatch):
    monkeypatch.setattr(TrainJob, "command", lambda self: [sys.executable, "-c", "pass"])
    name, _ = _start("")
    pid = tt.JOBS[name].proc.pid
    deadline = time.time() + 10
    while time.time() < deadline:
        try:
            with open(f"/proc/{pid}/stat") as fh:
                if fh.read().split()[2] == "Z":
                    break
        except FileNotFoundError:
            break
        time.sleep(0.05)
    assert janitor.reap() == 0
    assert not os.path.exists(f"/proc/{pid}"), "the finished trainer is still a zombie"
    janitor.reap(now=time.time() + janitor.FORGET_AFTER_S + 1)
    assert name not in tt.JOBS


def test_the_same_design_reuses_one_download_file():
    a = h.write_yaml_file("nc: 1\n", "m")
    b = h.write_yaml_file("nc: 1\n", "m")
    c = h.write_yaml_file("nc: 2\n", "m")
    assert a == b != c and os.path.basename(a) == "m.yaml"
    assert os.path.dirname(os.path.dirname(a)) == os.path.dirname(os.path.dirname(c))


def test_an_exports_download_goes_with_its_folder():
    from app.export_tab import do_export
    from app.server import STORE

    design = {"yaml": h.preset_yaml("yolov8n")[1].replace("nc: 80", "nc: 2"), "name": "tiny"}
    _, path, _, token = do_export(design, 64, False, None)
    assert os.path.exists(path) and os.path.dirname(path) in STORE.folders()
    STORE.release(token)
    assert not os.path.exists(path)


def test_the_servers_temp_folder_is_private(app_url):
    from gradio.utils import get_upload_folder

    root = settings.current().temp_root
    assert root and stat.S_IMODE(os.stat(root).st_mode) & 0o077 == 0
    assert os.path.commonpath([get_upload_folder(), root]) == root
    import tempfile

    assert os.path.commonpath([tempfile.mkdtemp(), root]) == root
