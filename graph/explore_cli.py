"""`python launch.py explore`: the design space of graph/explore.py as a table on stdout — text (sorted by
params, the Pareto front starred), `--json` or `--csv` — at `--imgsz` / `--nc`, optionally only one
backbone, neck or head family (the front recomputed among those rows) or only the front (`--pareto`).
launch.py registers the command with `add_explore_command`."""
from __future__ import annotations

import csv
import json
import sys
import time

from .explore import FAMILIES, Scope, explore

COLUMNS = ["name", "kind", "backbone", "neck", "head", "scale", "preset", "recipe", "dialect", "params", "gflops",
           "gflops_ultralytics", "fused_gflops", "layers", "pareto"]


def add_explore_command(sub) -> None:
    c = sub.add_parser("explore", help="every backbone x neck x head x scale (and recipe x preset), counted, "
                                       "with the Pareto front (most params for the GFLOPs)")
    c.add_argument("--imgsz", type=int, default=640, help="image size every design is counted at (default 640)")
    c.add_argument("--nc", type=int, default=80, help="classes (default 80)")
    for family in FAMILIES:
        c.add_argument(f"--{family}", help=f"only designs with this {family}, the front among them (recipes: "
                                           f"on presets with it)")
    c.add_argument("--kind", choices=["composed", "recipe"], help="only compositions, or only recipes on presets")
    c.add_argument("--pareto", action="store_true", help="only the designs on the front")
    out = c.add_mutually_exclusive_group()
    out.add_argument("--json", action="store_true", help="{imgsz, nc, tried, skipped, seconds, rows}")
    out.add_argument("--csv", action="store_true", help="one row per design, COLUMNS as the header")
    c.set_defaults(func=cmd_explore)


def cmd_explore(a) -> int:
    t0 = time.perf_counter()
    done = explore(a.imgsz, a.nc, Scope.of(a.backbone, a.neck, a.head, a.kind))
    rows = [r for r in done.rows if r["pareto"]] if a.pareto else done.rows
    seconds = round(time.perf_counter() - t0, 2)
    if a.json:
        print(json.dumps({"imgsz": done.imgsz, "nc": done.nc, "tried": done.tried, "skipped": done.skipped,
                          "seconds": seconds, "rows": rows}, indent=1))
    elif a.csv:
        writer = csv.DictWriter(sys.stdout, COLUMNS, extrasaction="ignore", lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    else:
        print(text(rows, done, seconds))
    return 0


def text(rows: list[dict], done, seconds: float) -> str:
    rows = sorted(rows, key=lambda r: (r["params"], r["gflops"]))
    width = max([len(r["name"]) for r in rows] + [4])
    out = [f"{len(rows)} designs at {done.imgsz} px, {done.nc} classes ({done.tried} tried, "
           f"{sum(done.skipped.values())} left out; {seconds} s); * = on the Pareto front (most params for the GFLOPs)", "",
           f"  {'name':<{width}}  {'kind':<8}  {'params':>12}  {'GFLOPs':>8}  {'layers':>6}"]
    for r in rows:
        out.append(f"{'*' if r['pareto'] else ' '} {r['name']:<{width}}  {r['kind']:<8}  {r['params']:>12,}  "
                   f"{r['gflops']:>8.2f}  {r['layers']:>6}")
    if done.skipped:
        out += ["", "left out:"] + [f"  {n:>4}  {why}" for why, n in done.skipped.items()]
    return "\n".join(out)
