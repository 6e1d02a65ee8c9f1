"""compose: backbone + neck + head fragments, joined by their taps, into one ModelSpec.

A fragment (templates/) names the maps it offers (`outputs: {P3: 4, ...}`, indices within the
fragment) and reads the part before it by tap name: `[[-1, P4], 1, Concat, [1]]`. Inside a
fragment a negative `from` is relative and a non-negative one is an index within the fragment.
`compose` lays the parts end to end and turns every reference into the absolute index a YOLOv5 /
Ultralytics yaml uses — the renumbering every seed article walks its reader through by hand.
The head decides the dialect: anchor-based YOLOv5 (depth/width multiples + anchors) or Ultralytics
(`scales:`, the chosen scale listed first: graph/dump.py's `chosen_first`, + `scale:`), and the head
fragment's `yaml_keys` become top-level keys of the model (YOLO26's `end2end: True`, `reg_max: 1`).
"""
from __future__ import annotations

from .dump import chosen_first
from .errors import SpecError
from .spec import YOLOV5_SCALES, LayerSpec, ModelSpec, layers_from, _scales, _tupled
from .templates import fragment

SCALES = ("n", "s", "m", "l", "x")


def _absolute(ref, offset: int, taps: dict[str, int], part: str):
    if isinstance(ref, str):
        if ref not in taps:
            raise SpecError(f"{part} reads tap {ref!r}, but the part before it offers only "
                            f"{', '.join(taps) or 'nothing'}", field="from")
        return taps[ref]
    return ref if ref < 0 else ref + offset


def _place(frag: dict, offset: int, taps: dict[str, int], section: str) -> list[LayerSpec]:
    part = f"{frag['kind']} {frag['name']}"
    rows = layers_from({"backbone": frag["layers"]}, allow_taps=True, offset=offset)
    out = []
    for i, lay in enumerate(rows, start=offset):
        refs = [i + r if isinstance(r, int) and r < 0 <= i + r else _absolute(r, offset, taps, part)
                for r in (lay.from_ if isinstance(lay.from_, tuple) else (lay.from_,))]
        if refs[0] == i - 1:  # the previous layer reads as -1, written first, YOLO style
            refs[0] = -1
        f = tuple(refs) if isinstance(lay.from_, tuple) else refs[0]
        out.append(LayerSpec(f, lay.n, lay.module, lay.args, section))
    return out


def _offered(frag: dict, offset: int) -> dict[str, int]:
    return {tap: offset + i for tap, i in (frag.get("outputs") or {}).items()}


def compose(backbone: str, neck: str, head: str, scale: str = "s", nc: int = 80,
            name: str | None = None) -> ModelSpec:
    if scale not in SCALES:
        raise SpecError(f"unknown scale {scale!r}; use one of {', '.join(SCALES)}", field="scale")
    b, k, h = fragment("backbone", backbone), fragment("neck", neck), fragment("head", head)
    layers = _place(b, 0, {}, "backbone")
    taps = _offered(b, 0)
    layers += _place(k, len(layers), taps, "head")
    taps = _offered(k, len(layers) - len(k["layers"]))
    layers += _place(h, len(layers), taps, "head")
    name = name or f"{backbone}-{neck}-{head}-{scale}"
    extra = tuple((key, _tupled(value)) for key, value in (h.get("yaml_keys") or {}).items())
    if h.get("dialect") == "ultralytics":
        return ModelSpec(layers=tuple(layers), nc=nc, dialect="ultralytics",
                         scales=chosen_first(_scales(h["scales"]), scale), scale=scale, name=name, extra=extra)
    d, w = YOLOV5_SCALES[scale]
    return ModelSpec(layers=tuple(layers), nc=nc, dialect="yolov5", depth_multiple=d, width_multiple=w,
                     anchors=_tupled(h["anchors"]), name=name)
