"""Warm the layer-cost cache when the server starts, so the first Explore (and the first pick of most
designs) reads numbers instead of building layers.

A count is a sum of per-layer results that graph/layercost.py keeps on disk (graph/costcache.py); a
layer never seen costs a few milliseconds to build and run, so the whole design space at one image size
costs ~45 s the first time on 2 cores and ~3 s after. At `launch.py serve` this module starts
`launch.py explore` at the default size once per version of the counting code, in a separate process at
the lowest CPU priority (nice 19, one thread), whose results land in the shared disk cache. A marker
file beside the cache says it was done, so later starts skip it. The page never waits for it: counts it
has not reached yet are worked out as before.

It ends with the server: a warm-up still running when the server exits is stopped (what it counted
stays in the cache; the next start goes on from there).

Off with `--no-prewarm` or YLD_PREWARM=off, and whenever the disk cache is off (YLD_COUNT_CACHE=off).
Tests and benchmarks that start the app in-process (`serve_in_background`) never start it.
"""
from __future__ import annotations

import atexit
import os
import subprocess
import sys
import threading

from graph import costcache

OFF = ("0", "off", "no", "false")
LAUNCH = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "launch.py")


def marker(imgsz: int, nc: int, extra: tuple[str, ...] = ()) -> str:
    """The file that says this code's design space at (imgsz, nc) is in the disk cache."""
    tag = "-".join([costcache.fingerprint(), str(imgsz), str(nc), *(e.strip("-") for e in extra)])
    return os.path.join(os.path.dirname(costcache.path()), f"warm-{tag}.done")


def _lowest_priority() -> None:
    os.nice(19)


def start(imgsz: int = 640, nc: int = 80, extra: tuple[str, ...] = ()) -> subprocess.Popen | None:
    """Start warming (None when off or already done); `extra`: more `launch.py explore` options (a
    narrower scope). A thread waits for the process and writes the marker when it ends well."""
    if (os.environ.get("YLD_PREWARM", "").lower() in OFF
            or os.environ.get("YLD_COUNT_CACHE", "").lower() in OFF):
        return None
    done = marker(imgsz, nc, extra)
    if os.path.exists(done):
        return None
    env = {**os.environ, "OMP_NUM_THREADS": "1", "YLD_PREWARM": "off"}
    cmd = [sys.executable, LAUNCH, "explore", "--imgsz", str(imgsz), "--nc", str(nc), *extra, "--csv"]
    try:
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
                                preexec_fn=_lowest_priority if hasattr(os, "nice") else None)
    except OSError:
        return None  # no warm cache: counts are worked out as before
    threading.Thread(target=_finish, args=(proc, done), daemon=True, name="yld-prewarm").start()
    _started.append(proc)
    return proc


_started: list[subprocess.Popen] = []


@atexit.register
def stop() -> None:
    """Stop any warm-up still running (at the server's exit)."""
    while _started:
        proc = _started.pop()
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()


def _finish(proc: subprocess.Popen, done: str) -> None:
    if proc.wait() == 0:
        try:
            os.makedirs(os.path.dirname(done), exist_ok=True)
            with open(done, "w") as fh:
                fh.write("the design space was counted into the disk cache by app/prewarm.py\n")
        except OSError:
            pass
