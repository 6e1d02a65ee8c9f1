"""The native crash of issue 13 and its guard (engine/deploy/signal_stack.py): OpenVINO's CPU plugin
swaps the signal stack of the thread that creates it and unmaps it when released on another thread;
the next handled signal on the first thread kills the process with SIGSEGV. Each case runs in a child
interpreter (this process never loads OpenVINO): the plugin created on the main thread, its Core
released on another thread, then a signal with a Python handler sent to the main thread."""
from __future__ import annotations

import ctypes
import os
import subprocess
import sys

import pytest

from engine.deploy import signal_stack

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

TRIGGER = """
import gc, os, signal, sys, threading
import numpy as np
import openvino as ov
import openvino.opset8 as ops
from engine.deploy.signal_stack import current, keep_signal_stack

guarded = sys.argv[1] == "guarded"
before = current()
box = {"core": ov.Core()}
x = ops.parameter([1, 4], np.float32, name="x")
model = ov.Model([ops.relu(x)], [x], "tiny")
if guarded:
    with keep_signal_stack():
        box["compiled"] = box["core"].compile_model(model, "CPU")
else:
    box["compiled"] = box["core"].compile_model(model, "CPU")
box["compiled"]({"x": np.ones((1, 4), np.float32)})
print("after compile", "same" if current()[:2] == before[:2] else "swapped", flush=True)
t = threading.Thread(target=lambda: (box.clear(), gc.collect()))  # the Core released on another thread
t.start(); t.join()
signal.signal(signal.SIGUSR1, lambda *a: print("handled", flush=True))
os.kill(os.getpid(), signal.SIGUSR1)
print("survived", flush=True)
"""


def _trigger(mode: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-X", "faulthandler", "-c", TRIGGER, mode], cwd=ROOT, capture_output=True,
                          text=True, timeout=300, env={**os.environ, "PYTHONPATH": ROOT})


linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the guard acts on Linux only")


@pytest.fixture
def openvino():
    pytest.importorskip("openvino", reason="the openvino package is not installed here")


@linux_only
def test_guarded_the_process_survives_a_core_released_on_another_thread(openvino):
    p = _trigger("guarded")
    assert p.returncode == 0, p.stdout + p.stderr[-2000:]
    assert "after compile same" in p.stdout and "handled" in p.stdout and "survived" in p.stdout


@linux_only
def test_unguarded_the_plugin_still_crashes_the_process(openvino):
    """The library bug the guard is for, still there in the installed OpenVINO: when this fails, it is
    fixed upstream and engine/deploy/signal_stack.py can go."""
    p = _trigger("bare")
    assert "after compile swapped" in p.stdout
    assert p.returncode == -11, p.stdout + p.stderr[-2000:]  # SIGSEGV, before any "handled"
    assert "handled" not in p.stdout


@linux_only
def test_the_guard_puts_back_a_stack_changed_inside_it():
    before = signal_stack.current()
    other = ctypes.create_string_buffer(64 * 1024)
    with signal_stack.keep_signal_stack():
        ss = signal_stack._Stack(ctypes.cast(other, ctypes.c_void_p), 0, len(other))
        assert signal_stack._LIBC.sigaltstack(ctypes.byref(ss), None) == 0
        assert signal_stack.current()[:2] == (ctypes.addressof(other), len(other))
    assert signal_stack.current()[:2] == before[:2]
