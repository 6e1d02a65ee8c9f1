"""What was measured, remembered: every successful latency measurement (engine/deploy/measure.py — the
Design tab's Measure, `launch.py info --latency`, `explore --measure-front`) leaves one row here, and
Explore shows the newest one of each design measured on this machine at its image size.

A row: {key, name, imgsz, backend, threads, cpu, median_ms, p90_ms, date}; `key` is
graph/designkey.design_key (a hash of the design's canonical yaml: the same design under any name,
comments or file layout), `cpu` the processor's name (engine/deploy/machine.cpu_name: "this machine"),
`date` UTC in ISO form. One sqlite file, $YLD_CACHE/latency.sqlite (else ~/.cache/yolo-lite-designer/,
beside graph/costcache.py's), the newest KEEP rows kept. Remembering never gets in the way: a file that
cannot be opened, read or written (read-only, not a database, busy past its timeout) is left alone,
`record` returns False and look-ups find nothing. Safe across threads (one lock, one connection a call)
and processes (sqlite's own locking)."""
from __future__ import annotations

import datetime
import os
import sqlite3
import threading

KEEP = 5000  # rows; the oldest go first
FIELDS = ("key", "name", "imgsz", "backend", "threads", "cpu", "median_ms", "p90_ms", "date")
_lock = threading.Lock()


def path() -> str:
    base = os.environ.get("YLD_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "yolo-lite-designer")
    return os.path.join(base, "latency.sqlite")


def _connect() -> sqlite3.Connection:
    os.makedirs(os.path.dirname(path()), exist_ok=True)
    db = sqlite3.connect(path(), timeout=2, isolation_level=None)
    db.execute("CREATE TABLE IF NOT EXISTS latency (id INTEGER PRIMARY KEY AUTOINCREMENT, key TEXT, name TEXT, "
               "imgsz INTEGER, backend TEXT, threads INTEGER, cpu TEXT, median_ms REAL, p90_ms REAL, date TEXT)")
    db.execute("CREATE INDEX IF NOT EXISTS latency_where ON latency (cpu, imgsz)")
    return db


def record(key: str, imgsz: int, backend: str, threads: int, median_ms: float, p90_ms: float,
           cpu: str | None = None, name: str = "", date: str | None = None) -> bool:
    """Remember one measurement (`cpu`: this machine's by default; `date`: now). False when the file
    cannot be written; nothing else happens then."""
    if cpu is None:
        from .machine import cpu_name

        cpu = cpu_name()
    date = date or datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    values = (key, name, int(imgsz), backend, int(threads), cpu, float(median_ms), float(p90_ms), date)
    with _lock:
        try:
            db = _connect()
            try:
                db.execute("INSERT INTO latency (key, name, imgsz, backend, threads, cpu, median_ms, p90_ms, date) "
                           "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", values)
                db.execute("DELETE FROM latency WHERE id <= (SELECT id FROM latency ORDER BY id DESC LIMIT 1 "
                           "OFFSET ?)", (KEEP,))
            finally:
                db.close()
        except (sqlite3.Error, OSError):
            return False
    return True


def record_measure(loaded, result: dict) -> bool:
    """Remember measure.py's `result` for the design `loaded` holds (its yaml names the design)."""
    from graph.designkey import design_key
    from graph.errors import SpecError
    from graph.source import source

    try:
        key = design_key(source(text=loaded.yaml).spec)
    except SpecError:
        return False
    return record(key, result["imgsz"], result["backend"], result["threads"], result["median_ms"],
                  result["p90_ms"], cpu=result.get("cpu"), name=getattr(loaded, "source", "") or "")


def rows(imgsz: int | None = None, cpu: str | None = None) -> list[dict]:
    """Every row kept (of one image size and processor, when given), oldest first; [] when unreadable."""
    where, args = [], []
    for column, value in (("imgsz", imgsz), ("cpu", cpu)):
        if value is not None:
            where.append(f"{column} = ?")
            args.append(value)
    sql = (f"SELECT {', '.join(FIELDS)} FROM latency" + (" WHERE " + " AND ".join(where) if where else "")
           + " ORDER BY id")
    with _lock:
        if not os.path.exists(path()):
            return []
        try:
            db = _connect()
            try:
                found = db.execute(sql, args).fetchall()
            finally:
                db.close()
        except (sqlite3.Error, OSError):
            return []
    return [dict(zip(FIELDS, r)) for r in found]


def newest(imgsz: int, cpu: str | None = None) -> dict[str, dict]:
    """design key -> its newest row measured on this machine (`cpu`) at `imgsz`, of any backend."""
    if cpu is None:
        from .machine import cpu_name

        cpu = cpu_name()
    return {r["key"]: r for r in rows(imgsz, cpu)}  # oldest first: the newest is written last


def with_latency(designs: list[dict], imgsz: int, cpu: str | None = None) -> list[dict]:
    """Rows that carry a design `key` (graph/explore.py's), as new dicts with `latency_ms` (the newest
    median on this machine at `imgsz`, None when not measured) and `latency` (that row, or None)."""
    known = newest(imgsz, cpu)
    out = []
    for d in designs:
        rec = known.get(d.get("key"))
        out.append({**d, "latency_ms": round(rec["median_ms"], 3) if rec else None, "latency": rec})
    return out
