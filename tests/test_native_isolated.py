"""The tests of the native runtimes (tests/native/: ONNX export and onnxslim, INT8 quantisation,
OpenVINO, latency and profiles) run here in a fresh interpreter, as one test that fails with their
output when any of them fails. In one long shared pytest process, after those runtimes a later unrelated
test died with SIGSEGV: OpenVINO's CPU plugin left the main thread an alternate signal stack it unmapped
when a Core was released on another thread (engine/deploy/signal_stack.py, which now guards every
compile_model; tests/test_signal_stack.py reproduces it). With the guard, that sequence passed twice in
one process; they keep a process of their own anyway, so a native runtime's next surprise fails this one
test with its output instead of killing the whole run."""
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_native_runtime_suite_passes_in_its_own_process():
    env = {**os.environ, "YLD_NATIVE_TESTS": "1"}
    p = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/native"],
                       cwd=ROOT, env=env, capture_output=True, text=True, timeout=1800)
    assert p.returncode == 0, p.stdout[-4000:] + p.stderr[-2000:]
    assert " passed" in p.stdout and " failed" not in p.stdout
