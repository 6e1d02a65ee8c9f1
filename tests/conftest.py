"""Tests run from the repository root; make its packages importable without installing; torch
uses one thread. The
`app_url` fixture serves the real app on a free local port inside the test process (started only
for the tests that ask for it)."""
import os
import socket
import sys
import tempfile

import pytest
import torch

# Tiny forwards on 2 shared cores: one thread each avoids oversubscription (0.5 s -> 5 ms a forward).
torch.set_num_threads(1)

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# runs the page's training jobs write go to a scratch folder, not the checkout's runs/
os.environ.setdefault("YLD_RUNS", tempfile.mkdtemp(prefix="yld-test-runs-"))

# tests/native/ (the tests that load onnxruntime sessions, onnxslim, quantisation, OpenVINO and ncnn) runs
# in its own interpreter (tests/test_native_isolated.py): in one long pytest process a later unrelated
# test died with SIGSEGV after them. The cause was OpenVINO's CPU plugin unmapping the main thread's
# alternate signal stack (engine/deploy/signal_stack.py guards it now); the separate process stays as a
# fence against the next native surprise.
collect_ignore = [] if os.environ.get("YLD_NATIVE_TESTS") else ["native"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def app_url():
    from app.main import serve_in_background

    port = free_port()
    stop = serve_in_background("127.0.0.1", port)
    yield f"http://127.0.0.1:{port}/"
    stop()


@pytest.fixture
def quick_probe(monkeypatch, tmp_path):
    """This machine's peak probe (engine/deploy/machine.py) short and cached in a scratch folder."""
    from engine.deploy import machine

    monkeypatch.setenv("YLD_CACHE", str(tmp_path))
    monkeypatch.setattr(machine, "PROBE_S", 0.05)
    monkeypatch.setattr(machine, "MATMUL_N", 128)
