"""Measure a design on this machine: the one call behind `launch.py info --latency` and the Design
tab's Measure button.

design -> deploy form (engine/deploy/export.py: BatchNorm folded, RepVGG re-parameterised; for onnx
and openvino the checked ONNX export) -> timed (engine/deploy/latency.py) -> profiled per yaml layer
(engine/deploy/profile.py) -> beside the FLOP share and memory traffic of each layer (graph/counts.py)
and the roofline estimate of a few devices and this one (graph/roofline.py, engine/deploy/machine.py).

The result is plain data (JSON-ready but for `profile.layer_ms`, keyed by layer index: the layer table
can show it); `latency_text` writes it for the terminal.
"""
from __future__ import annotations

import os
import tempfile

from graph import roofline

from ..loading import Loaded, load_design
from . import latency_store
from .export import deploy_model, export_onnx
from .latency import backend_row, check_threads, measure_runner, random_image
from .machine import cpu_name, this_machine
from .profile import PROFILERS

PROFILE_SHARE = 0.5  # of the timing budget, for the profile's runs
PROFILE_RUNS = (3, 20)  # at least, at most
CLI_BUDGET_S = 10.0  # `info --latency`'s timing budget


def measure(loaded: Loaded, per_layer: list[dict], backend: str = "onnx", threads: int | None = None,
            budget_s: float = 10.0, machine: bool = True) -> dict:
    """Time the deploy form of `loaded` at its imgsz with `backend` on `threads` threads (default: every
    core), profile it per layer and set both beside the count's `per_layer` rows (graph/counts.py) and
    the roofline table (`machine`: with this machine's measured row). LatencyError / ExportError when
    it cannot."""
    threads = check_threads(threads)
    _, _, needs_onnx = backend_row(backend)
    imgsz = int(loaded.imgsz)
    model = deploy_model(loaded.model)
    with tempfile.TemporaryDirectory(prefix="yld-latency-") as tmp:
        path = os.path.join(tmp, "model.onnx") if needs_onnx else None
        if path:
            export_onnx(loaded, path, imgsz)
        timing = measure_runner(backend, path, model, imgsz, threads, budget_s)
        runs = int(min(max(PROFILE_SHARE * budget_s * 1e3 / max(timing["median_ms"], 1e-3), PROFILE_RUNS[0]),
                       PROFILE_RUNS[1]))
        prof = PROFILERS[backend](path, model, random_image(model, imgsz), threads, runs)
    prof["ratio"] = prof["sum_ms"] / timing["median_ms"] if timing["median_ms"] else None
    prof["per_layer"] = layer_rows(per_layer, prof)
    here = {**this_machine(threads), "measured_ms": timing["median_ms"]} if machine else None
    result = {**timing, "cpu": cpu_name(), "profile": prof, "roofline": roofline.table(per_layer, here)}
    latency_store.record_measure(loaded, result)  # remembered for Explore (a file it cannot write: not)
    return result


def measure_design(design, imgsz: int, per_layer: list[dict], **kw) -> dict:
    """`measure` of a design (a graph/source.Source or yaml text), untrained: latency needs no weights."""
    return measure(load_design(design, imgsz), per_layer, **kw)


def add_latency_arguments(parser) -> None:
    """`launch.py info`'s options for measuring (argparse)."""
    from .latency import BACKENDS

    parser.add_argument("--latency", action="store_true", help="also time the deploy form on this machine: median, "
                        "p90, a per-layer profile and the roofline estimate")
    parser.add_argument("--backend", choices=tuple(BACKENDS), default="onnx", help="for --latency (default onnx)")
    parser.add_argument("--threads", type=int, help="for --latency (default: every core)")


def latency_of(args, design, per_layer: list[dict]) -> dict:
    """`launch.py info`: {"latency": measure_design's result as JSON has it} when `args.latency`, else {}."""
    if not args.latency:
        return {}
    return {"latency": latency_json(measure_design(design, args.imgsz, per_layer, backend=args.backend,
                                                   threads=args.threads, budget_s=CLI_BUDGET_S))}


def layer_rows(per_layer: list[dict], prof: dict) -> list[dict]:
    """Per yaml layer: measured ms and its share of the profile's sum, beside its share of the deploy
    form's FLOPs and its memory traffic."""
    flops = sum(r["fused_gflops"] for r in per_layer) or 1.0
    total = prof["sum_ms"] or 1.0
    return [{"index": r["index"], "module": r["module"], "ms": prof["layer_ms"].get(r["index"], 0.0),
             "share": prof["layer_ms"].get(r["index"], 0.0) / total, "flop_share": r["fused_gflops"] / flops,
             "mac_bytes": r["mac_bytes"], "intensity": r["intensity"]} for r in per_layer]


def latency_json(result: dict) -> dict:
    """The result with `profile.layer_ms` keyed by strings, as JSON has them."""
    prof = {**result["profile"], "layer_ms": {str(k): v for k, v in result["profile"]["layer_ms"].items()}}
    return {**result, "profile": prof}


def _coverage(prof: dict) -> str:
    if prof.get("coverage") is None:
        return "no run times to compare"
    return f"{prof['coverage']:.2f} x the profiled runs' own time"


def latency_text(result: dict | None) -> str:
    """The measurement for the terminal, from a new line ('' for none)."""
    if not result:
        return ""
    r, prof = result, result["profile"]
    ended = "" if r["stable"] else "; the time budget ended first"
    lines = ["", f"latency: {r['backend_label']}, {r['threads']} thread{'s' if r['threads'] != 1 else ''}, "
             f"{r['imgsz']}x{r['imgsz']}, on {r['cpu']}: median {r['median_ms']:.2f} ms, p10 {r['p10_ms']:.2f}, "
             f"p90 {r['p90_ms']:.2f} (95% interval of the median {r['ci_ms'][0]:.2f}-{r['ci_ms'][1]:.2f} ms; "
             f"{r['runs']} runs after {r['warmup_runs']} warm-up{ended})"]
    made = (f", {prof['by_neighbour']} of them (made by the runtime: layout conversions, splits) given to a "
            f"neighbour layer" if prof.get("by_neighbour") else "")
    lines.append(f"per-layer profile ({prof['how']}, median of {prof['runs']} runs): layers sum to "
                 f"{prof['sum_ms']:.2f} ms = {prof['ratio']:.2f} x the measured median ({_coverage(prof)}); "
                 f"{prof['nodes']} nodes{made}")
    lines.append(f"{'':>4} {'module':<16}{'ms':>9} {'share':>7} {'FLOPs':>7} {'MB moved':>9} {'FLOP/B':>7}")
    for row in prof["per_layer"]:
        lines.append(f"{row['index']:>4} {row['module']:<16}{row['ms']:>9.3f} {row['share']:>7.1%} "
                     f"{row['flop_share']:>7.1%} {row['mac_bytes'] / 1e6:>9.2f} {row['intensity']:>7.1f}")
    other = prof["other_ms"]
    lines.append("  other (nodes of no layer): " + (", ".join(f"{k} {v:.3f} ms" for k, v in other.items())
                                                     if other else "none"))
    lines.append("roofline estimate, fp32 (per layer the longer of FLOPs / peak compute and bytes / peak "
                 "bandwidth, summed; an optimistic bound, not a measurement):")
    lines.append(f"  {'device':<58}{'GFLOP/s':>9}{'GB/s':>8}{'ridge':>7}{'estimate':>11}{'measured':>11}")
    for k, row in enumerate(r["roofline"], 1):
        measured = f"{row['measured_ms']:.2f} ms" if row.get("measured_ms") else ""
        lines.append(f"  [{k}] {row['name'][:53]:<53}{row['gflops']:>9.0f}{row['gbps']:>8.1f}{row['ridge']:>7.1f}"
                     f"{row['estimate_ms']:>8.2f} ms{measured:>11}")
    for k, row in enumerate(r["roofline"], 1):
        lines.append(f"  [{k}] {row['source']}")
    return "\n".join(lines)
