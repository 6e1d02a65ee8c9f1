"""bench_inference.py's measuring instruments, apart from what it measures: how busy the machine is
(OutsideLoad, from /proc), waiting for it to go quiet (QuietGate), the float32 matmul peaks the
effective GFLOP/s are held against (torch and onnxruntime), and the block timing of several backends
on one input (time_both).

The machine is shared: another process on one of the 2 cores makes torch's 2-thread eager runs up to
tens of times slower. So each measurement first waits (bounded) for other processes to go quiet, and
the CPU they used while it ran is recorded with it (`outside_load_cores`), so that disturbed passes can
be left out of their row.

Backends are timed in blocks, not run by run: onnxruntime's pool threads spin after each run (its
default session.intra_op.allow_spinning) and so do torch's OpenMP threads, and on 2 cores a run that
starts right after the other backend's is slowed by them (seen: torch 25 -> 70 ms). So: WARMUP runs
each, then rounds (order swapped each round, against drift) of one untimed run plus a share of the
timed runs per backend.
"""
from __future__ import annotations

import os
import time

import numpy as np
import onnxruntime as ort
import torch

WARMUP = 2
BUSY_FIELDS = (0, 1, 2, 5, 6, 7)  # /proc/stat cpu: user nice system irq softirq steal (not idle, iowait)


class OutsideLoad:
    """CPU cores used by everything but this process (steal included) between start() and stop(),
    from /proc/stat and /proc/self/stat; None where /proc is not there. Another job on these 2 cores
    makes torch's 2-thread runs many times slower (seen: 61 -> 900 ms), so every row records it."""

    def __init__(self):
        self.t0 = self.busy0 = self.own0 = None

    @staticmethod
    def _read():
        try:
            with open("/proc/stat") as fh:
                cpu = [int(v) for v in fh.readline().split()[1:]]
            with open("/proc/self/stat") as fh:
                own = fh.read().rsplit(")", 1)[1].split()
            return sum(cpu[i] for i in BUSY_FIELDS if i < len(cpu)), int(own[11]) + int(own[12])
        except (OSError, ValueError, IndexError):
            return None, None

    def start(self) -> "OutsideLoad":
        self.t0 = time.perf_counter()
        self.busy0, self.own0 = self._read()
        return self

    def stop(self) -> float | None:
        busy, own = self._read()
        wall = time.perf_counter() - self.t0
        if busy is None or self.busy0 is None or wall <= 0:
            return None
        hz = os.sysconf("SC_CLK_TCK")
        return round(max(0.0, ((busy - self.busy0) - (own - self.own0)) / hz / wall), 2)


class QuietGate:
    """Waits, before each measurement, until other processes use at most `max_load` cores over a
    1 s window: at most `cap_s` per wait and `budget_s` over the whole run, so a machine that never
    quiets down still finishes (the load actually seen is recorded with every row either way)."""

    def __init__(self, max_load: float, budget_s: float, cap_s: float = 30.0, window_s: float = 1.0):
        self.max_load, self.left, self.cap, self.window = max_load, budget_s, cap_s, window_s

    def wait(self) -> float:
        t0 = time.perf_counter()
        while self.left > 0 and time.perf_counter() - t0 < self.cap:
            probe = OutsideLoad().start()
            time.sleep(self.window)
            load = probe.stop()
            self.left -= self.window
            if load is None or load <= self.max_load:
                break
        return round(time.perf_counter() - t0, 1)


def p90(times: list[float]) -> float:
    """Nearest-rank 90th percentile (with 5 runs: the slowest)."""
    s = sorted(times)
    return s[min(len(s) - 1, max(0, -(-9 * len(s) // 10) - 1))]


def session_options() -> ort.SessionOptions:
    opts = ort.SessionOptions()  # defaults: intra_op_num_threads 0 (= one per physical core), ORT_ENABLE_ALL
    opts.log_severity_level = 3
    return opts


def torch_matmul_peak(sizes=(1024, 2048), trials: int = 5, min_s: float = 0.2) -> dict:
    """Best GFLOP/s of float32 torch.matmul per size: each trial repeats the product for >= min_s;
    plus the outside load while it ran."""
    out = {}
    load = OutsideLoad().start()
    gen = torch.Generator().manual_seed(0)
    for n in sizes:
        a, b = torch.randn(n, n, generator=gen), torch.randn(n, n, generator=gen)
        c = torch.empty(n, n)
        torch.matmul(a, b, out=c)
        reps = 1
        while True:  # calibrate: enough repetitions to fill min_s
            t0 = time.perf_counter()
            for _ in range(reps):
                torch.matmul(a, b, out=c)
            dt = time.perf_counter() - t0
            if dt >= min_s / 4:
                reps = max(1, int(reps * min_s / dt))
                break
            reps *= 4
        best = 0.0
        for _ in range(trials):
            t0 = time.perf_counter()
            for _ in range(reps):
                torch.matmul(a, b, out=c)
            best = max(best, 2 * n ** 3 * reps / (time.perf_counter() - t0) / 1e9)
        out[n] = round(best, 1)
    out["outside_load_cores"] = load.stop()
    return out


def quiet_peak(gate: QuietGate, tries: int = 3) -> dict:
    """torch_matmul_peak after the quiet gate, measured again (up to `tries` times) while other
    processes used more than the gate's limit; the best of the tries per size."""
    out: dict = {}
    max_load = gate.max_load
    for i in range(tries):
        gate.wait()
        got = torch_matmul_peak()
        for k, v in got.items():
            out[k] = v if k == "outside_load_cores" else max(v, out.get(k, 0.0))
        if (got["outside_load_cores"] or 0) <= max_load:
            break
    out["tries"] = i + 1
    return out


def ort_matmul_peak(n: int = 1024, trials: int = 5, reps: int = 10) -> float:
    """Best GFLOP/s of a single float32 MatMul node in onnxruntime (default session options)."""
    from onnx import TensorProto, helper

    graph = helper.make_graph([helper.make_node("MatMul", ["a", "b"], ["c"])], "mm",
                              [helper.make_tensor_value_info("a", TensorProto.FLOAT, [n, n]),
                               helper.make_tensor_value_info("b", TensorProto.FLOAT, [n, n])],
                              [helper.make_tensor_value_info("c", TensorProto.FLOAT, [n, n])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = min(model.ir_version, 9)
    sess = ort.InferenceSession(model.SerializeToString(), session_options(),
                                providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(0)
    feed = {k: rng.standard_normal((n, n), dtype=np.float32) for k in ("a", "b")}
    sess.run(None, feed)
    best = 0.0
    for _ in range(trials):
        t0 = time.perf_counter()
        for _ in range(reps):
            sess.run(None, feed)
        best = max(best, 2 * n ** 3 * reps / (time.perf_counter() - t0) / 1e9)
    return round(best, 1)


def time_both(model: torch.nn.Module, sess: ort.InferenceSession, imgsz: int, runs: int, rounds: int = 2,
              extra: dict | None = None):
    """Forward-only ms lists for torch eager and onnxruntime (and each `extra` runner of a numpy
    input) on the same (1, 3, s, s) tensor: {backend: [ms]}, and the outside load; `runs` timed runs
    each, in `rounds` rounds of blocks (module doc)."""
    x = torch.rand(1, 3, imgsz, imgsz, generator=torch.Generator().manual_seed(0))
    feed = {sess.get_inputs()[0].name: x.numpy()}
    out_name = [sess.get_outputs()[0].name]
    fns = {"torch": lambda: model(x), "onnx": lambda: sess.run(out_name, feed)}
    fns.update({k: (lambda run=run, a=x.numpy(): run(a)) for k, run in (extra or {}).items()})
    times = {b: [] for b in fns}
    rounds = max(1, min(rounds, runs))
    load = OutsideLoad().start()
    shares = [runs // rounds + (1 if i < runs % rounds else 0) for i in range(rounds)]
    with torch.inference_mode():
        for b in fns:
            for _ in range(WARMUP):
                fns[b]()
        for i, k in enumerate(shares):
            for b in (list(fns) if i % 2 == 0 else list(fns)[::-1]):
                fns[b]()  # absorbs the other backend's spinning threads
                for _ in range(k):
                    t0 = time.perf_counter()
                    fns[b]()
                    times[b].append((time.perf_counter() - t0) * 1e3)
    return times, load.stop()
