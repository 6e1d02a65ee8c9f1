"""The layer results of graph/layercost.py kept on disk, so that a new process (a CLI command, a
restarted server) counts the designs seen before without building them.

One sqlite file, $YLD_CACHE/layer-costs.sqlite (else ~/.cache/yolo-lite-designer/): rows of
(result key, json values), under a fingerprint of the code that works the results out (blocks/,
graph/flops.py, dead.py, layercost.py, model.py) and torch's version; rows of any other fingerprint
are deleted when the file is opened, so an edited block never reads a stale number.
It holds at most MAX_ROWS results (~400 bytes each): past that, the oldest written are deleted
when the file is opened. `YLD_COUNT_CACHE=off` turns it off (`disable()` in tests). Counting never depends on it: a file that
cannot be opened, read or written is left alone and the numbers are worked out again.
"""
from __future__ import annotations

import glob
import hashlib
import json
import os
import sqlite3
import threading

import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SOURCES = ("blocks/*.py", "graph/flops.py", "graph/dead.py", "graph/layercost.py", "graph/model.py")
MAX_ROWS = 250_000  # ~100 MB; the whole design space at one image size is ~15,000
_lock = threading.Lock()
_state: dict = {"db": None, "tried": False}


def path() -> str:
    base = os.environ.get("YLD_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "yolo-lite-designer")
    return os.path.join(base, "layer-costs.sqlite")


def fingerprint() -> str:
    h = hashlib.sha1(torch.__version__.encode())
    for pattern in SOURCES:
        for name in sorted(glob.glob(os.path.join(ROOT, pattern))):
            with open(name, "rb") as fh:
                h.update(name[len(ROOT):].encode() + b"\0" + fh.read())
    return h.hexdigest()[:16]


def _open():
    """The open database, or None (turned off, or it cannot be used); opened once per process."""
    if _state["tried"]:
        return _state["db"]
    _state["tried"] = True
    if os.environ.get("YLD_COUNT_CACHE", "").lower() in ("0", "off", "no", "false"):
        return None
    try:
        os.makedirs(os.path.dirname(path()), exist_ok=True)
        db = sqlite3.connect(path(), timeout=2, check_same_thread=False, isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=OFF")
        db.execute("CREATE TABLE IF NOT EXISTS costs (code TEXT, key TEXT, value TEXT, PRIMARY KEY (code, key))")
        _state["code"] = fingerprint()
        db.execute("DELETE FROM costs WHERE code != ?", (_state["code"],))
        (rows,) = db.execute("SELECT count(*) FROM costs").fetchone()
        if rows > MAX_ROWS:  # the oldest written first (a replaced row is written anew)
            db.execute("DELETE FROM costs WHERE rowid IN (SELECT rowid FROM costs ORDER BY rowid LIMIT ?)",
                       (rows - MAX_ROWS,))
        _state["db"] = db
    except (sqlite3.Error, OSError):
        _state["db"] = None
    return _state["db"]


def get(key: str) -> list | None:
    with _lock:
        db = _open()
        if db is None:
            return None
        try:
            row = db.execute("SELECT value FROM costs WHERE code = ? AND key = ?", (_state["code"], key)).fetchone()
        except sqlite3.Error:
            return None
    return json.loads(row[0]) if row else None


def put(key: str, values: list) -> None:
    with _lock:
        db = _open()
        if db is None:
            return
        try:
            db.execute("INSERT OR REPLACE INTO costs VALUES (?, ?, ?)", (_state["code"], key, json.dumps(values)))
        except sqlite3.Error:
            pass  # busy or read-only: this result is simply worked out again next time


def disable() -> None:
    """No disk cache for the rest of this process (tests of cold counts)."""
    reset(off=True)


def reset(off: bool = False) -> None:
    """Close the file; the next look-up opens `path()` again (after $YLD_CACHE changed), unless `off`."""
    with _lock:
        if _state["db"] is not None:
            _state["db"].close()
        _state.update(db=None, tried=off)
