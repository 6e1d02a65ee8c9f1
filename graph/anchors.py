"""`anchors: N` (N anchors per level, as YOLOv5's hub files p2 / p34 / p6 / p7 write it): placeholder
anchors for each level the head reads, and the note that says so.

YOLOv5 builds such a model with dummy anchors and lets AutoAnchor compute real ones from the training
labels. This designer has no AutoAnchor: each level gets YOLOv5's default COCO anchors for its stride
(its `anchors.yaml` 640 sets: P3-P5 for a three-level head, P6 / P7 sets for four / five levels;
for N != 3 or a stride those sets lack, sizes spread from 1.25 to 4 strides), and training here uses
them as they are. The parameter count does not depend on them (anchors are a buffer).
"""
from __future__ import annotations

from blocks.registry import BlockInfo

# YOLOv5's COCO anchors at 640 (models/hub/anchors.yaml), pixels, by the stride of the level.
P5 = {8: (10, 13, 16, 30, 33, 23), 16: (30, 61, 62, 45, 59, 119), 32: (116, 90, 156, 198, 373, 326)}
P6 = {8: (9, 11, 21, 19, 17, 41), 16: (43, 32, 39, 70, 86, 64), 32: (65, 131, 134, 130, 120, 265),
      64: (282, 180, 247, 354, 512, 387)}
P7 = {8: (11, 11, 13, 30, 29, 20), 16: (30, 46, 61, 38, 39, 92), 32: (78, 80, 146, 66, 79, 163),
      64: (149, 150, 321, 143, 157, 303), 128: (257, 402, 359, 290, 524, 372)}


def _spread(n: int, stride: int) -> tuple[float, ...]:
    """n square anchors from 1.25 to 4 strides, geometrically."""
    sizes = [stride * 1.25 * (3.2 ** (j / (n - 1)) if n > 1 else 1.6) for j in range(n)]
    return tuple(float(round(v)) for s in sizes for v in (s, s))


def placeholder(n: int, strides: list[int]) -> tuple[tuple[float, ...], ...]:
    """n anchors (w, h pairs, pixels) for each level at `strides`."""
    table = P7 if max(strides) >= 128 else P6 if max(strides) >= 64 else P5
    return tuple(tuple(float(v) for v in table[s]) if n == 3 and s in table else _spread(n, s) for s in strides)


def expand(info: BlockInfo, args: dict, strides: list[int]) -> dict:
    """Bound args with every `anchors`-kind value that is a count N replaced by placeholder anchors
    for the layer's inputs (one level per input, at `strides`)."""
    for arg in info.args:
        value = args.get(arg.name)
        if arg.kind == "anchors" and isinstance(value, int) and not isinstance(value, bool):
            args[arg.name] = placeholder(value, strides)
    return args


def per_level(anchors) -> int | None:
    """Anchors per level of a spec's `anchors` (a count, or lists of w, h pairs); None without."""
    if isinstance(anchors, int) and not isinstance(anchors, bool):
        return anchors
    if anchors:
        return len(anchors[0]) // 2
    return None


def note(anchors) -> list[str]:
    """The note a spec with `anchors: N` gets ([] otherwise)."""
    if not (isinstance(anchors, int) and not isinstance(anchors, bool)):
        return []
    return [f"anchors: {anchors} per level: YOLOv5 computes them from the training labels (AutoAnchor); "
            f"this designer does not, so each level gets YOLOv5's default COCO anchors for its stride"
            f"{'' if anchors == 3 else ' (generated sizes, 1.25 to 4 strides)'} and training uses them "
            f"as they are; write an anchors: list to choose them (counts do not change)"]
