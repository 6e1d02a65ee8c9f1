"""The text and JSON that `launch.py info` prints: a YOLO-style summary line and per-layer table."""
from __future__ import annotations

from .counts import Counts
from .resolve import LayerGraph


def _args_text(args) -> str:
    text = str(args).replace("'", "")
    return text if len(text) <= 44 else text[:41] + "..."


def unused_note(graph: LayerGraph, counts: Counts) -> list[str]:
    """A note naming the layers that feed no Detect input and the parameters they hold ([] if none)."""
    dead = graph.unused()
    if not dead:
        return []
    params = sum(counts.per_layer[i]["params"] for i in dead)
    which = ", ".join(map(str, dead))
    return [f"layer{'s' if len(dead) > 1 else ''} {which} feed{'' if len(dead) > 1 else 's'} no Detect input: "
            f"{params:,} parameters are built and counted but never used"]


def dead_line(dead_params: int, where: list[str]) -> str:
    """One sentence on dead parameters (Counts.dead_params, Counts.dead): how many, where, and what
    becomes of them. The CLI's info and the page's summary both say it."""
    return (f"{dead_params:,} parameters are never used by the forward pass ({'; '.join(where)}, built as the "
            f"upstream code builds them, so counted in the parameters); the deploy form and the export drop them")


def info_dict(graph: LayerGraph, counts: Counts, notes: list[str]) -> dict:
    spec = graph.spec
    return {
        "name": spec.name, "dialect": spec.dialect, "nc": spec.nc, "scale": spec.scale,
        "depth_multiple": spec.multiples[0], "width_multiple": spec.multiples[1],
        "strides": graph.strides, **counts.as_dict(), "unused_layers": graph.unused(),
        "notes": notes + unused_note(graph, counts),
    }


def info_text(graph: LayerGraph, counts: Counts, notes: list[str]) -> str:
    lines = [f"note: {n}" for n in notes + unused_note(graph, counts)]
    lines.append(f"{'':>3} {'from':>18} {'n':>3} {'params':>10}  {'module':<22}{'arguments':<46}"
                 f"{'output':>16} {'GFLOPs':>8}")
    for row in counts.per_layer:
        shape = "x".join(map(str, row["out_shape"])) if row["out_shape"] else "-"
        lines.append(f"{row['index']:>3} {str(row['from']):>18} {row['n']:>3} {row['params']:>10}  "
                     f"{row['module']:<22}{_args_text(row['args']):<46}{shape:>16} {row['gflops']:>8.3f}")
    spec = graph.spec
    lines.append(f"{spec.name} summary: {counts.layers} layers, {counts.params:,} parameters, "
                 f"{counts.gflops:.2f} GFLOPs at {counts.imgsz}x{counts.imgsz}")
    leaves = "leaf modules" if counts.layers_by.startswith("Ultralytics") else "every module"
    lines.append(f"  as the tools print it: YOLOv5 7.0 {counts.gflops_stride:.2f} GFLOPs, Ultralytics 8.4 "
                 f"{counts.gflops_ultralytics:.2f} GFLOPs; layers as {counts.layers_by} counts them ({leaves})")
    if abs(counts.gflops_stride - counts.gflops) > 0.005:
        lines.append(f"  YOLOv5 counts one {max(graph.max_stride, 32)}-pixel image and scales by area, which "
                     f"overstates layers that do not grow with the image (squeeze-and-excite)")
    if counts.dead_params:
        lines.append(f"  {dead_line(counts.dead_params, counts.dead)}")
    lines.append(f"  fused for deploy: {counts.fused_params:,} parameters, {counts.fused_gflops:.2f} GFLOPs; "
                 f"weights {counts.params * 4 / 2**20:.2f} MB (fp32)")
    return "\n".join(lines)
