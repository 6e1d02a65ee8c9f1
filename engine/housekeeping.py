"""Disk housekeeping for a long-running server: what the app keeps on disk, and cleaning it.

Items are the top-level entries of the runs folder (one per training run) and of the app's temp
folder (downloads, exports, uploads; folders named in `expand` — Gradio's upload cache, the export
store — count each of their entries as an item). `clean` removes temp items older than a time to
live, then, while everything together is over the quota, the oldest items that are not pinned
(a running training, a live export). Nothing outside the given folders is ever touched.
"""
from __future__ import annotations

import os
import shutil
import time
from dataclasses import dataclass


@dataclass(frozen=True)
class Item:
    path: str
    size: int
    mtime: float  # newest file inside
    kind: str     # "temp" | "run"


def measure(path: str) -> tuple[int, float]:
    """(bytes, newest mtime) of a file or a folder tree; links are not followed."""
    try:
        st = os.lstat(path)
    except OSError:
        return 0, 0.0
    if not os.path.isdir(path) or os.path.islink(path):
        return st.st_size, st.st_mtime
    size, newest = 0, 0.0  # a folder is as new as its newest file (its own time if it has none)
    for here, _, files in os.walk(path):
        for f in files:
            try:
                fs = os.lstat(os.path.join(here, f))
            except OSError:
                continue
            size += fs.st_size
            newest = max(newest, fs.st_mtime)
    return size, newest or st.st_mtime


def _entries(folder: str) -> list[str]:
    try:
        return [os.path.join(folder, n) for n in os.listdir(folder)]
    except OSError:
        return []


def collect(temp_root: str | None, runs_dir: str | None, expand: tuple[str, ...] = ()) -> list[Item]:
    items = []
    for root, kind in ((temp_root, "temp"), (runs_dir, "run")):
        if not root:
            continue
        for path in _entries(root):
            inner = _entries(path) if kind == "temp" and os.path.basename(path) in expand else [path]
            for p in inner:
                size, mtime = measure(p)
                items.append(Item(p, size, mtime, kind))
    return items


def usage(items: list[Item]) -> int:
    return sum(i.size for i in items)


def clean(items: list[Item], quota: int, ttl_s: float, pinned: set[str], now: float | None = None) -> list[Item]:
    """Remove what is past its time or over the quota; returns the removed items."""
    now = time.time() if now is None else now
    pinned = {os.path.realpath(p) for p in pinned}
    free = [i for i in items if os.path.realpath(i.path) not in pinned]
    doomed = [i for i in free if i.kind == "temp" and now - i.mtime > ttl_s]
    total = usage(items) - usage(doomed)
    for item in sorted((i for i in free if i not in doomed), key=lambda i: i.mtime):
        if total <= quota:
            break
        doomed.append(item)
        total -= item.size
    for item in doomed:
        if os.path.isdir(item.path) and not os.path.islink(item.path):
            shutil.rmtree(item.path, ignore_errors=True)
        else:
            try:
                os.remove(item.path)
            except OSError:
                pass
    return doomed
