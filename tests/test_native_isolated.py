"""The tests of the native runtimes (tests/native/: ONNX export and onnxslim, INT8 quantisation,
OpenVINO, latency and profiles) run here in a fresh interpreter, as one test that fails with their
output when any of them fails. In one long shared pytest process, after those runtimes a later unrelated
test died with SIGSEGV (tests/conftest.py says how it was reproduced), so they get a process of their own."""
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
