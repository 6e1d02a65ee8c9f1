"""This machine's peak compute and memory bandwidth, measured once and cached: the roofline row
for "this machine" (graph/roofline.py) next to its measured latency.

- compute: fp32 matrix products (1024 x 1024, torch / its BLAS) on the given threads, the best
  second of about PROBE_S: 2 n^3 FLOPs a product.
- bandwidth: copies of a 64 MiB tensor (far larger than the caches), the best of about PROBE_S:
  each copy reads and writes 64 MiB.
Cached in $YLD_CACHE (else ~/.cache/yolo-lite-designer)/machine.json, keyed by the CPU's name, the
thread count and the torch version; a new key measures again, and a refresh keeps the better of the
old and new figures (on a busy machine a probe can only read low).
"""
from __future__ import annotations

import json
import os
import platform
import time

PROBE_S = 0.5
MATMUL_N = 1024
COPY_BYTES = 64 * 2**20


def cpu_name() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "this CPU"


def cache_path() -> str:
    base = os.environ.get("YLD_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "yolo-lite-designer")
    return os.path.join(base, "machine.json")


def _best_rate(work, amount: float) -> float:
    """The best rate (amount per second) of `work()` over about PROBE_S, after one warm-up call."""
    work()
    best, start = 0.0, time.perf_counter()
    while time.perf_counter() - start < PROBE_S:
        t0 = time.perf_counter()
        work()
        best = max(best, amount / (time.perf_counter() - t0))
    return best


def probe(threads: int) -> dict:
    """Measure now: {gflops, gbps} of this machine on `threads` threads."""
    import torch

    from .latency import torch_threads

    with torch_threads(threads), torch.inference_mode():
        a = torch.rand(MATMUL_N, MATMUL_N)
        b = torch.rand(MATMUL_N, MATMUL_N)
        out = torch.empty(MATMUL_N, MATMUL_N)
        gflops = _best_rate(lambda: torch.mm(a, b, out=out), 2 * MATMUL_N**3) / 1e9
        src = torch.ones(COPY_BYTES // 4)
        dst = torch.empty_like(src)
        gbps = _best_rate(lambda: dst.copy_(src), 2 * COPY_BYTES) / 1e9
    return {"gflops": round(gflops, 1), "gbps": round(gbps, 1)}


def this_machine(threads: int, refresh: bool = False) -> dict:
    """The roofline row of this machine: {key, name, gflops, gbps, source}, from the cache when it
    holds this CPU, thread count and torch version."""
    import torch

    key = f"{cpu_name()} | {threads} threads | torch {torch.__version__}"
    path = cache_path()
    try:
        with open(path, encoding="utf-8") as fh:
            cache = json.load(fh)
        cache = cache if isinstance(cache, dict) else {}
    except (OSError, ValueError):
        cache = {}
    peaks = cache.get(key)
    known = isinstance(peaks, dict) and all(isinstance(peaks.get(k), (int, float)) and peaks[k] > 0
                                            for k in ("gflops", "gbps"))
    if refresh or not known:
        new = probe(threads)
        if known:  # peaks: keep the best seen (a probe on a busy machine only ever reads low)
            new = {k: max(new[k], float(peaks[k])) for k in ("gflops", "gbps")}
        peaks = {**new, "measured": time.strftime("%Y-%m-%d %H:%M")}
        cache[key] = peaks
        try:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            tmp = f"{path}.{os.getpid()}.tmp"  # two processes may probe at once
            with open(tmp, "w", encoding="utf-8") as fh:
                json.dump(cache, fh, indent=1)
            os.replace(tmp, path)
        except OSError:
            pass  # a read-only home: measured again next time
    return {"key": "this", "name": f"this machine ({cpu_name()}, {threads} thread{'s' if threads != 1 else ''})",
            "gflops": peaks["gflops"],
            "gbps": peaks["gbps"],
            "source": f"measured here {peaks.get('measured', '')}: best of {MATMUL_N}x{MATMUL_N} fp32 matrix "
                      f"products (torch) and 64 MiB copies; cached in {path}"}
