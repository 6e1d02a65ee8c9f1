"""The OpenVINO tests (tests/openvino/: IR parity on every preset, the profile, the INT8 + OpenVINO
export) run here in a fresh interpreter, as one test that fails with their output when any of them
fails. In a long shared pytest process OpenVINO's native runtime crashed a later unrelated test with
SIGSEGV (tests/conftest.py says how it was reproduced), so they get a process of their own."""
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_openvino_suite_passes_in_its_own_process():
    pytest.importorskip("openvino", reason="the openvino package is not installed here")
    env = {**os.environ, "YLD_OPENVINO_TESTS": "1"}
    p = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/openvino"],
                       cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert p.returncode == 0, p.stdout[-4000:] + p.stderr[-2000:]
    assert " passed" in p.stdout and " failed" not in p.stdout
