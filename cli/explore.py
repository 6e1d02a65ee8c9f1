"""`python launch.py explore`: the design space of graph/explore.py as a table on stdout — text (sorted by
params, the Pareto front starred), `--json` or `--csv` — at `--imgsz` / `--nc`, optionally only one
backbone, neck, head family or scale (the front recomputed among those rows) or only the front
(`--pareto`). Each row carries the newest latency measured for that design on this machine at that size
(engine/deploy/latency_store.py; null / empty when never measured). `--measure-front` first measures
every design on the front, one after another (each remembered as it is done, so Ctrl-C keeps those).
launch.py registers the command with `add_explore_command`."""
from __future__ import annotations

import argparse
import csv
import dataclasses
import json
import sys
import time

from graph.explore import FAMILIES, Scope, explore, select, spec_of

COLUMNS = ["name", "kind", "backbone", "neck", "head", "scale", "preset", "recipe", "dialect", "params", "gflops",
           "gflops_ultralytics", "fused_gflops", "layers", "pareto", "key", "latency_ms", "latency_p90_ms",
           "latency_backend", "latency_threads", "latency_date"]
STOPPED = 130  # the exit status after Ctrl-C, as a shell gives it


def _budget(text: str) -> float:
    value = float(text)
    if not 0 < value <= 600:
        raise argparse.ArgumentTypeError(f"must be more than 0 and at most 600 seconds, got {text}")
    return value


def add_explore_command(sub) -> None:
    from engine.deploy.latency import BACKENDS

    c = sub.add_parser("explore", help="every backbone x neck x head x scale (and recipe x preset), counted, "
                                       "with the Pareto front (most params for the GFLOPs) and latency where measured")
    c.add_argument("--imgsz", type=int, default=640, help="image size every design is counted at (default 640)")
    c.add_argument("--nc", type=int, default=80, help="classes (default 80)")
    for family in FAMILIES:
        c.add_argument(f"--{family}", help=f"only designs with this {family}, the front among them (recipes: "
                                           f"on presets with it)")
    c.add_argument("--scale", choices=["n", "s", "m", "l", "x"], help="only designs of this scale")
    c.add_argument("--kind", choices=["composed", "recipe"], help="only compositions, or only recipes on presets")
    c.add_argument("--pareto", action="store_true", help="only the designs on the front")
    c.add_argument("--measure-front", dest="measure_front", action="store_true",
                   help="first time every design on the front on this machine (progress on stderr; Ctrl-C stops "
                        "and keeps what was measured), then print the table")
    c.add_argument("--backend", choices=tuple(BACKENDS), default="onnx", help="for --measure-front (default onnx)")
    c.add_argument("--threads", type=int, help="for --measure-front (default: every core)")
    c.add_argument("--budget-s", dest="budget_s", type=_budget, default=3.0,
                   help="for --measure-front: timing budget per design, seconds (default 3)")
    out = c.add_mutually_exclusive_group()
    out.add_argument("--json", action="store_true", help="{imgsz, nc, tried, skipped, seconds, rows}")
    out.add_argument("--csv", action="store_true", help="one row per design, COLUMNS as the header")
    c.set_defaults(func=cmd_explore)


def cmd_explore(a) -> int:
    from engine.deploy.latency import LatencyError, backend_row, check_threads
    from engine.deploy.latency_store import with_latency

    if a.measure_front:
        try:
            check_threads(a.threads)
            backend_row(a.backend)  # a backend that is not installed: said once, before anything is counted
        except LatencyError as err:
            print(f"error: {err}", file=sys.stderr)
            return 2
    t0 = time.perf_counter()
    done = explore(a.imgsz, a.nc, Scope.of(a.backbone, a.neck, a.head, a.kind, a.scale))
    rows = select(done.rows, scale=a.scale) if a.scale else done.rows
    seconds = round(time.perf_counter() - t0, 2)
    stopped = measure_front([r for r in rows if r["pareto"]], done.imgsz, done.nc, a) if a.measure_front else False
    rows = with_latency([r for r in rows if r["pareto"]] if a.pareto else rows, done.imgsz)
    if a.json:
        print(json.dumps({"imgsz": done.imgsz, "nc": done.nc, "tried": done.tried, "skipped": done.skipped,
                          "seconds": seconds, "rows": rows}, indent=1))
    elif a.csv:
        writer = csv.DictWriter(sys.stdout, COLUMNS, extrasaction="ignore", lineterminator="\n")
        writer.writeheader()
        writer.writerows(flat(r) for r in rows)
    else:
        print(text(rows, done, seconds))
    return STOPPED if stopped else 0


def flat(row: dict) -> dict:
    """A row for csv: its latency record's fields as latency_* columns (empty when not measured)."""
    rec = row.get("latency") or {}
    return {**row, **{f"latency_{k}": rec.get(k) for k in ("p90_ms", "backend", "threads", "date")}}


def measure_front(front: list[dict], imgsz: int, nc: int, a) -> bool:
    """Measure each design of `front` (fewest params first) with measure.py, which remembers each; progress
    and failures on stderr. True when Ctrl-C stopped it (what was measured stays remembered)."""
    from engine.deploy.measure import measure_design
    from graph.counts import count
    from graph.errors import SpecError
    from graph.resolve import resolve
    from graph.source import Source

    todo = sorted(front, key=lambda r: (r["params"], r["gflops"]))
    say = lambda *words, **kw: print(*words, file=sys.stderr, flush=True, **kw)  # noqa: E731
    say(f"measuring the {len(todo)} designs on the front at {imgsz} px with {a.backend}, "
        f"{a.budget_s:g} s each (Ctrl-C stops, keeping what was measured)")
    measured = 0
    try:
        for k, r in enumerate(todo, 1):
            say(f"[{k}/{len(todo)}] {r['name']} ...", end=" ")
            try:
                spec = dataclasses.replace(spec_of(r, nc), name=r["name"])
                out = measure_design(Source(spec), imgsz, count(resolve(spec, imgsz)).per_layer, backend=a.backend,
                                     threads=a.threads, budget_s=a.budget_s, machine=False)
            except (SpecError, RuntimeError, ValueError) as err:  # ExportError / LatencyError are RuntimeErrors
                say(f"failed: {str(err).splitlines()[0] if str(err) else type(err).__name__}")
                continue
            measured += 1
            say(f"median {out['median_ms']:.2f} ms, p90 {out['p90_ms']:.2f} ({out['threads']} thr)")
    except KeyboardInterrupt:
        say(f"\nstopped: {measured} of {len(todo)} measured, each remembered")
        return True
    return False


def latency_cell(row: dict) -> str:
    """'41.2 onnx/2' (median ms, backend / threads) of a row's newest measurement, '-' when none."""
    rec = row.get("latency")
    return f"{rec['median_ms']:.2f} {rec['backend']}/{rec['threads']}" if rec else "-"


def text(rows: list[dict], done, seconds: float) -> str:
    rows = sorted(rows, key=lambda r: (r["params"], r["gflops"]))
    width = max([len(r["name"]) for r in rows] + [4])
    measured = sum(r.get("latency") is not None for r in rows)
    out = [f"{len(rows)} designs at {done.imgsz} px, {done.nc} classes ({done.tried} tried, "
           f"{sum(done.skipped.values())} left out; {seconds} s); * = on the Pareto front (most params for the GFLOPs)",
           f"latency: the newest median measured on this machine at {done.imgsz} px (backend/threads), "
           f"{measured} of them measured", "",
           f"  {'name':<{width}}  {'kind':<8}  {'params':>12}  {'GFLOPs':>8}  {'layers':>6}  {'latency ms':>16}"]
    for r in rows:
        out.append(f"{'*' if r['pareto'] else ' '} {r['name']:<{width}}  {r['kind']:<8}  {r['params']:>12,}  "
                   f"{r['gflops']:>8.2f}  {r['layers']:>6}  {latency_cell(r):>16}")
    if done.skipped:
        out += ["", "left out:"] + [f"  {n:>4}  {why}" for why, n in done.skipped.items()]
    return "\n".join(out)
