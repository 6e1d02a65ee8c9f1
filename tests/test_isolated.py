"""Deploy work in a child process (engine/deploy/isolated.py): a child that crashes, exits, raises or
hangs comes back as one line naming what happened and the test process (the server, in the app) goes
on; the page's Measure and Export actions say so in their panels and leave the session state alone;
a measurement through the child has the keys of one taken in-process. The functions below the imports
are the children's jobs (run as `tests.test_isolated:<name>`)."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

import pytest

TESTS = "tests.test_isolated"


# ---------------------------------------------------------------- jobs run in the child

def echo(**kw):
    return {"got": kw, "pid": os.getpid()}


def segfault():
    os.kill(os.getpid(), signal.SIGSEGV)


def exit_3():
    os._exit(3)


def raise_type_error():
    raise TypeError("no such thing\nsecond line")


def hang(pid_file: str):
    """Start a grandchild, write both pids, then wait far longer than any test's timeout."""
    grandchild = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"])
    with open(pid_file, "w") as fh:
        fh.write(f"{os.getpid()} {grandchild.pid}")
    time.sleep(300)


def stamp(path: str, pause: float):
    start = time.time()
    time.sleep(pause)
    with open(path, "a") as fh:
        fh.write(f"{start} {time.time()}\n")
    return {}


def segfault_job(**_kw):
    segfault()


# ---------------------------------------------------------------- tests

def _job(timeout_s=120.0, title="Measuring"):
    from engine.deploy.isolated import Job

    return Job(title, "the measuring process", "try again or pick another backend", timeout_s=timeout_s)


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"  # a zombie is dead, only not yet reaped
    except OSError:
        return False


def test_a_child_returns_plain_data():
    import numpy as np

    from engine.deploy.isolated import run_isolated

    out = run_isolated(f"{TESTS}:echo", {"a": [1, 2], "b": np.float32(0.5), "c": (3, 4)}, _job())
    assert out["got"] == {"a": [1, 2], "b": 0.5, "c": [3, 4]} and out["pid"] != os.getpid()


def test_a_crashing_child_is_named_and_the_parent_goes_on():
    from engine.deploy.isolated import IsolatedError, run_isolated

    with pytest.raises(IsolatedError) as err:
        run_isolated(f"{TESTS}:segfault", {}, _job())
    assert err.value.how == "crashed"
    assert str(err.value) == ("Measuring stopped: the measuring process crashed (SIGSEGV) — nothing else was "
                              "affected; try again or pick another backend")
    assert run_isolated(f"{TESTS}:echo", {"x": 1}, _job())["got"] == {"x": 1}  # the next job runs as usual


@pytest.mark.parametrize("target, says, how", [("exit_3", "exited with status 3 without a result", "exited"),
                                               ("raise_type_error", "failed (TypeError: no such thing)", "failed")])
def test_a_child_that_exits_or_raises_is_named(target, says, how):
    from engine.deploy.isolated import IsolatedError, run_isolated

    with pytest.raises(IsolatedError) as err:
        run_isolated(f"{TESTS}:{target}", {}, _job())
    assert err.value.how == how and f"the measuring process {says} — nothing else" in str(err.value)
    assert "\n" not in str(err.value)


def test_a_child_past_its_timeout_is_killed_with_its_children(tmp_path):
    from engine.deploy.isolated import IsolatedError, run_isolated

    pid_file = tmp_path / "pids"
    with pytest.raises(IsolatedError) as err:
        run_isolated(f"{TESTS}:hang", {"pid_file": str(pid_file)}, _job(timeout_s=5))
    assert err.value.how == "timeout" and "took longer than 5 s and was stopped" in str(err.value)
    child, grandchild = map(int, pid_file.read_text().split())
    for _ in range(50):  # SIGKILL is delivered at once; the kernel may take a moment to tear down
        if not _alive(child) and not _alive(grandchild):
            break
        time.sleep(0.1)
    assert not _alive(child) and not _alive(grandchild)


def test_jobs_of_one_kind_run_one_at_a_time(tmp_path):
    from engine.deploy.isolated import run_isolated

    log = tmp_path / "stamps"
    calls = [threading.Thread(target=run_isolated, args=(f"{TESTS}:stamp", {"path": str(log), "pause": 0.5}, _job()))
             for _ in range(2)]
    for t in calls:
        t.start()
    for t in calls:
        t.join()
    (s1, e1), (s2, e2) = sorted(tuple(map(float, line.split())) for line in log.read_text().splitlines())
    assert e1 <= s2  # the second started after the first had finished


@pytest.fixture
def no_spares():
    from engine.deploy import isolated

    yield isolated
    isolated._discard_spares()


def test_a_spare_child_takes_the_next_job_of_its_kind(no_spares, monkeypatch):
    job = no_spares.Job("Spare", "the spare process", "try again", timeout_s=60, preload=("json",))
    first = no_spares.run_isolated(f"{TESTS}:echo", {}, job)["pid"]
    spare = no_spares._spares["Spare"][0]
    assert spare.pid != first and spare.poll() is None  # started after the job, waiting for the next
    second = no_spares.run_isolated(f"{TESTS}:echo", {"n": 2}, job)
    assert second == {"got": {"n": 2}, "pid": spare.pid}  # a fresh process per job, started beforehand
    spare = no_spares._spares["Spare"][0]
    monkeypatch.setenv("YLD_SPARE_TEST", "changed")  # a spare of another environment is not used
    third = no_spares.run_isolated(f"{TESTS}:echo", {}, job)["pid"]
    assert third != spare.pid and spare.poll() is not None  # ... and is gone


def test_a_spare_not_taken_in_time_is_stopped(no_spares, monkeypatch):
    monkeypatch.setattr(no_spares, "SPARE_IDLE_S", 0.3)
    job = no_spares.Job("Idle", "the spare process", "try again", timeout_s=60, preload=("json",))
    no_spares.run_isolated(f"{TESTS}:echo", {}, job)
    spare = no_spares._spares["Idle"][0]
    assert spare.wait(timeout=30) is not None  # stopped by its timer, not by this test
    assert "Idle" not in no_spares._spares
    again = no_spares.run_isolated(f"{TESTS}:echo", {"n": 1}, job)  # the next job starts its own
    assert again["got"] == {"n": 1} and again["pid"] != spare.pid


@pytest.fixture
def measured_state(quick_probe):
    from app import handlers as h

    _, text = h.preset_yaml("yolov8n")
    first = h.evaluate(text, 64, "yolov8n")
    return {"yaml": text, "counts": first["counts"], "name": first["name"], "pins": []}


def test_measure_through_the_child_has_the_keys_of_one_in_process(measured_state):
    from engine.deploy import page_jobs
    from engine.deploy.isolated import run_isolated
    from engine.deploy.measure import measure_design

    per_layer = measured_state["counts"]["per_layer"]
    kw = {"backend": "torch", "threads": 1, "budget_s": 0.3}
    here = measure_design(measured_state["yaml"], 64, per_layer, **kw)
    there = page_jobs.layer_ms_by_index(run_isolated(page_jobs.MEASURE, {"yaml": measured_state["yaml"], "imgsz": 64,
                                                                          "per_layer": per_layer, **kw}, _job()))
    assert set(there) == set(here) and set(there["profile"]) == set(here["profile"])
    assert set(there["profile"]["layer_ms"]) == set(here["profile"]["layer_ms"])  # int layer indices again
    assert [set(r) for r in there["profile"]["per_layer"]] == [set(r) for r in here["profile"]["per_layer"]]
    assert there["threads"] == 1 and there["backend"] == "torch" and there["median_ms"] > 0


def test_a_measure_that_crashes_says_so_and_keeps_the_state(measured_state, monkeypatch):
    from app import measure_panel as mp

    monkeypatch.setattr(mp, "MEASURE", f"{TESTS}:segfault_job")
    html, st = mp.on_measure(64, "onnx", 1, measured_state)
    assert "Measuring stopped: the measuring process crashed (SIGSEGV) — nothing else was affected" in html
    assert st == {"__type__": "update"}  # gr.skip(): the session state stays as it was


def test_a_measure_the_child_refuses_says_why(measured_state):
    from app import measure_panel as mp

    html, st = mp.on_measure(64, "openvino-nope", 1, measured_state)
    assert "could not measure:" in html and "openvino-nope" in html and st == {"__type__": "update"}


def test_an_export_that_crashes_says_so_and_leaves_the_panel(monkeypatch):
    from app import export_deploy as ed
    from graph.source import source

    monkeypatch.setattr(ed, "DEPLOY", f"{TESTS}:segfault_job")
    design = {"yaml": source("yolov5n").yaml(imgsz=64), "name": "yolov5n"}
    out = ed.run_deploy(design, "Current design (untrained)", 64, "ONNX", False, 4, "shapes")
    assert all(o == {"__type__": "update"} for o in out[:3])  # table, notes, files stay
    assert "Export stopped: the export process crashed (SIGSEGV) — nothing else was affected" in out[3]
