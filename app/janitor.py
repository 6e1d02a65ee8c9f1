"""The server's housekeeping round, on a daemon thread: reap finished training processes (no
zombies), forget long-finished jobs, and hold runs/ plus the app's temp folder to the disk quota
(engine/housekeeping.py decides what goes; running trainings and live exports are never touched).
"""
from __future__ import annotations

import threading
import time

from engine import housekeeping

from . import settings
from .handlers import DOWNLOADS

EXPAND = ("gradio", DOWNLOADS)  # folders of the temp root whose entries are items of their own
FORGET_AFTER_S = 3600  # a finished job leaves the in-memory table an hour after it ended

_thread: threading.Thread | None = None
_lock = threading.Lock()


def _jobs():
    from .train_tab import JOBS

    return JOBS


def _store():
    from .server import STORE

    return STORE


def reap(now: float | None = None) -> int:
    """Poll every job's process (a finished child is reaped by its poll); drop those finished
    more than an hour ago. Returns how many are still running."""
    now = time.time() if now is None else now
    jobs, running = _jobs(), 0
    for name, job in list(jobs.items()):
        if job.state == "running":
            running += 1
            continue
        job.ended_at = job.ended_at or now
        if now - job.ended_at > FORGET_AFTER_S:
            jobs.pop(name, None)
    return running


def _items():
    s = settings.current()
    store = _store()
    expand = EXPAND + ((store.root.rsplit("/", 1)[-1],) if s.temp_root else ())
    return housekeeping.collect(s.temp_root, s.runs_dir, expand)


def pinned() -> set[str]:
    return {job.dir for job in _jobs().values() if job.state == "running"} | set(_store().folders())


def room_left() -> int:
    """Bytes the disk quota still allows (0 when it is spent)."""
    with _lock:
        return max(0, settings.current().disk_quota - housekeeping.usage(_items()))


def sweep() -> list:
    """One round: reap, then clean the disk to the quota. Returns the removed items."""
    reap()
    s = settings.current()
    with _lock:
        return housekeeping.clean(_items(), s.disk_quota, s.cache_ttl_s, pinned())


def start(every_s: float = 60.0) -> None:
    """Run `sweep` every `every_s` seconds on a daemon thread (once per process)."""
    global _thread
    if _thread is not None:
        return

    def loop():
        while True:
            try:
                sweep()
            except Exception as err:  # noqa: BLE001 - housekeeping must never take the server down
                print(f"housekeeping: {err}")
            time.sleep(every_s)

    _thread = threading.Thread(target=loop, name="yld-housekeeping", daemon=True)
    _thread.start()
