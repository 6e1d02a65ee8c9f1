"""Latency of a model's deploy form on this machine: the one timing loop and the backends it times.

The loop (`time_runs`): warm-up runs first (at least WARMUP_RUNS and WARMUP_S seconds; not counted),
then runs until the median is known tightly — its 95% confidence interval (distribution-free: the
order statistics n/2 -+ 1.96 sqrt(n)/2 of the sorted times) within CI_TARGET of the median — or the
time budget is spent or `max_runs` are done; at least MIN_RUNS either way. `summarize` turns the times
into the statistics reported: median, p10, p90 (linear interpolation) and that interval.
`time_runner` times a runner on one input with its thread count stated; it is what both the Design
tab's Measure / `info --latency` (measure_runner, measure.py) and every row of `launch.py export`
(targets.py) call, so the same file on the same backend is reported the same way by either.

Backends, one row each in BACKENDS (a name -> how to open a runner): `onnx` (onnxruntime's CPU
provider on the exported ONNX), `openvino` (the same ONNX read by OpenVINO's CPU plugin, when the
`openvino` package is installed) and `torch` (the fused PyTorch model, eager). A runner is a callable
of one input array, plus how many threads it was given.
"""
from __future__ import annotations

import contextlib
import math
import os
import statistics
import time

import numpy as np

from .export import ExportError
from .signal_stack import keep_signal_stack

WARMUP_RUNS, WARMUP_S = 3, 0.3
MIN_RUNS, MAX_RUNS = 5, 2000
CI_TARGET = 0.02  # the median's 95% interval within +-2% of it: stable enough to compare designs


class LatencyError(ExportError):
    """The deploy form could not be measured (a missing backend, a bad thread count); one line."""


def cores() -> int:
    """CPU cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def check_threads(threads) -> int:
    """The thread count to use: `threads` (1..cores), or every core when None / 0."""
    if threads in (None, 0):
        return cores()
    if not isinstance(threads, int) or threads < 1:
        raise LatencyError(f"threads must be a whole number of at least 1, got {threads!r}")
    return threads


def median_ci(times: list[float]) -> tuple[float, float]:
    """A distribution-free 95% confidence interval of the median of `times`."""
    xs, n = sorted(times), len(times)
    half = 1.96 * math.sqrt(n) / 2
    lo, hi = max(int(math.floor(n / 2 - half)), 0), min(int(math.ceil(n / 2 + half)), n - 1)
    return xs[lo], xs[hi]


def percentile(times: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(times), q))


def summarize(times: list[float]) -> dict:
    """The statistics of a list of run times (ms) every timing reports: median, p10, p90 and the
    median's 95% interval, to the microsecond."""
    return {"median_ms": round(statistics.median(times), 3), "p10_ms": round(percentile(times, 10), 3),
            "p90_ms": round(percentile(times, 90), 3), "ci_ms": [round(v, 3) for v in median_ci(times)]}


def _stable(times: list[float], min_runs: int) -> bool:
    """Enough runs, and the median's 95% interval within CI_TARGET of it."""
    med = statistics.median(times)
    lo, hi = median_ci(times)
    return len(times) >= 2 * min_runs and max(med - lo, hi - med) <= CI_TARGET * med


def time_runs(run, budget_s: float = 10.0, min_runs: int = MIN_RUNS, max_runs: int = MAX_RUNS) -> dict:
    """Time `run()` (no arguments): warm-up excluded, then until the median is stable or the budget is
    spent. Times in milliseconds; `stable` says which ended it."""
    start = time.perf_counter()
    warm = 0
    while warm < WARMUP_RUNS or time.perf_counter() - start < WARMUP_S:
        run()
        warm += 1
    times: list[float] = []
    begin = time.perf_counter()
    while len(times) < max_runs:
        t0 = time.perf_counter()
        run()
        times.append((time.perf_counter() - t0) * 1e3)
        if len(times) >= min_runs and (_stable(times, min_runs) or time.perf_counter() - begin >= budget_s):
            break
    return {**summarize(times), "runs": len(times), "warmup_runs": warm, "stable": _stable(times, min_runs)}


def time_runner(runner, x: np.ndarray, threads: int, budget_s: float = 10.0, max_runs: int = MAX_RUNS) -> dict:
    """`time_runs` of `runner(x)` (a runner opened on `threads` threads; torch's count is set for the
    loop too), the thread count stated in the result."""
    with torch_threads(threads):
        timing = time_runs(lambda: runner(x), budget_s, min(MIN_RUNS, max_runs), max_runs)
    return {**timing, "threads": threads}


# ---------------------------------------------------------------- backends

def ort_session(path: str, threads: int, profile_prefix: str | None = None, optimized_path: str | None = None):
    """An onnxruntime CPU session on `threads` intra-op threads (sequential execution: one node at a
    time, which is what makes a per-node profile add up to the run)."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    if profile_prefix:
        opts.enable_profiling = True
        opts.profile_file_prefix = profile_prefix
    if optimized_path:
        opts.optimized_model_filepath = optimized_path
    return ort.InferenceSession(path, opts, providers=["CPUExecutionProvider"])


def _onnx_runner(onnx_path: str, model, threads: int):
    session = ort_session(onnx_path, threads)
    name = session.get_inputs()[0].name
    return lambda x: session.run(None, {name: x})


def openvino_core():
    """OpenVINO's Core, or LatencyError saying the package is missing."""
    try:
        import openvino as ov
    except ImportError:
        raise LatencyError("the openvino backend needs the `openvino` package (pip install openvino), "
                           "which is not installed here; use --backend onnx or torch") from None
    return ov.Core()


def openvino_compiled(onnx_path: str, threads: int, profile: bool = False):
    core = openvino_core()
    # fp32 as exported: on a CPU with bf16 units OpenVINO would otherwise run in bf16 by default
    config = {"INFERENCE_NUM_THREADS": threads, "PERFORMANCE_HINT": "LATENCY", "PERF_COUNT": profile,
              "INFERENCE_PRECISION_HINT": "f32"}
    with keep_signal_stack():  # OpenVINO's CPU plugin would leave this thread a stack it later unmaps
        return core.compile_model(core.read_model(onnx_path), "CPU", config)


def _openvino_runner(onnx_path: str, model, threads: int):
    request = openvino_compiled(onnx_path, threads).create_infer_request()
    return lambda x: request.infer([x])


@contextlib.contextmanager
def torch_threads(threads: int):
    """torch's intra-op thread count set for a block, then put back (it is process-wide)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _torch_runner(onnx_path: str, model, threads: int):
    import torch

    def run(x):
        with torch.inference_mode():
            return model(torch.from_numpy(x))
    return run


# backend -> (label, opens a runner from (onnx path, deploy model, threads), needs the ONNX file)
BACKENDS = {
    "onnx": ("onnxruntime (CPU)", _onnx_runner, True),
    "openvino": ("OpenVINO (CPU)", _openvino_runner, True),
    "torch": ("PyTorch eager (fused)", _torch_runner, False),
}


def backend_row(name: str):
    if name not in BACKENDS:
        raise LatencyError(f"unknown backend {name!r}: choose one of {', '.join(BACKENDS)}")
    if name == "openvino":
        openvino_core()  # say it is missing before anything is exported
    return BACKENDS[name]


def random_image(model, imgsz: int) -> np.ndarray:
    """A (1, ch, imgsz, imgsz) float32 input: timings do not depend on the values."""
    return np.random.default_rng(0).random((1, int(getattr(model, "ch", 3)), imgsz, imgsz), dtype=np.float32)


def measure_runner(name: str, onnx_path: str | None, model, imgsz: int, threads: int, budget_s: float) -> dict:
    """Time one backend on a random image."""
    label, opener, _ = backend_row(name)
    x = random_image(model, imgsz)
    with torch_threads(threads):
        runner = opener(onnx_path, model, threads)
    return {"backend": name, "backend_label": label, "imgsz": imgsz, **time_runner(runner, x, threads, budget_s)}
