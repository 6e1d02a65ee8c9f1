"""ModelSpec -> yaml text in the layout YOLOv5 / Ultralytics users know: the header of its dialect,
then `backbone:` and `head:` as one `[from, number, module, args]` row per layer, each with a
comment giving its index (and its stride where it changes: `# 3-P3/8`).

The scale is written so that each tool builds the one chosen. We read `scale:`. Ultralytics 8.4 does
not: it takes the scale from the file name (`yolov8s.yaml` builds s), overwrites `scale:` with that
guess, and under any other name (`design.yaml`) builds the FIRST entry of `scales:`. So the chosen
scale is listed first (`chosen_first`) and `scale:` is kept; a file of any name builds that scale in
both tools. (YOLOv5 files carry their multiples, which every tool reads.)"""
from __future__ import annotations

from .spec import ModelSpec


def chosen_first(scales: tuple, scale: str | None) -> tuple:
    """`scales` with `scale`'s entry moved to the front, the others in their order (see the module doc)."""
    if not scale or scale not in dict(scales):
        return tuple(scales)
    return tuple(sorted(scales, key=lambda item: item[0] != scale))


def _value(v) -> str:
    if v is None:
        return "None"
    if isinstance(v, bool):
        return "True" if v else "False"
    if isinstance(v, (tuple, list)):
        return "[" + ", ".join(_value(x) for x in v) + "]"
    if isinstance(v, float):
        return repr(v)
    if isinstance(v, str):
        return v if v in ("nc", "anchors", "None", "True", "False") else f"'{v}'"
    return str(v)


def _row(lay) -> str:
    f = lay.from_
    return f"[{_value(f)}, {lay.n}, {lay.module}, {_value(lay.args)}]"


def _number(x: float) -> str:
    return f"{x:.2f}" if x != int(x) else f"{x:.1f}"


def to_yaml(spec: ModelSpec, comments: dict[int, str] | None = None, title: str | None = None) -> str:
    """Yaml text for `spec`; `comments` maps a layer index to a note (`P3/8`)."""
    comments = comments or {}
    out = [f"# {title or spec.name}", f"nc: {spec.nc}  # number of classes"]
    if spec.scales:
        scales = chosen_first(spec.scales, spec.scale)
        if spec.scale:
            out.append(f"scale: {spec.scale}")
            out.append(f"scales:  # [depth, width, max_channels]; {spec.scale} first: Ultralytics ignores `scale:` "
                       f"and builds the scale its file name names, else the first listed")
        else:
            out.append("scales:  # [depth, width, max_channels]")
        out += [f"  {n}: [{d:.2f}, {w:.2f}, {mc}]" for n, (d, w, mc) in scales]
    else:
        out.append(f"depth_multiple: {_number(spec.depth_multiple)}  # layer repeats multiple")
        out.append(f"width_multiple: {_number(spec.width_multiple)}  # channels multiple")
    if isinstance(spec.anchors, int):
        out.append(f"anchors: {spec.anchors}  # per level; placeholders until trained (see notes)")
    elif spec.anchors:
        out.append("anchors:")
        out += [f"  - {_value(tuple(int(x) if x == int(x) else x for x in lv))}" for lv in spec.anchors]
    if spec.activation:
        out.append(f"activation: {spec.activation}")
    if spec.ch != 3:
        out.append(f"ch: {spec.ch}")
    for key, value in spec.extra:
        out.append(f"{key}: {_value(value)}")
    index = 0
    for section in ("backbone", "head"):
        rows = spec.backbone if section == "backbone" else spec.head
        out += [f"{section}:", "  # [from, number, module, args]"]
        for lay in rows:
            row = f"  - {_row(lay)}"
            note = comments.get(index, "")
            out.append(f"{row:<56}# {index}{'-' + note if note else ''}")
            index += 1
    return "\n".join(out) + "\n"


def stride_comments(graph) -> dict[int, str]:
    """`P3/8`-style notes where a layer's stride first changes, as the upstream yaml files mark them."""
    notes, last = {}, 1
    for node in graph.layers:
        if node.stride and node.stride != last and node.section == "backbone":
            level = node.stride.bit_length() - 1
            notes[node.index] = f"P{level}/{node.stride}"
        if node.stride:
            last = node.stride
        if node.tap and node.section != "backbone":
            notes[node.index] = f"{node.tap}/{node.stride}"
    return notes
