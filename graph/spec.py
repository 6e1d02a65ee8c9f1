"""ModelSpec: a model yaml as plain, hashable data, and the yaml text it reads from and writes to.

Two dialects, as people have them on disk:
- YOLOv5: `depth_multiple`, `width_multiple`, `anchors` (lists, or a count per level); `Detect [nc, anchors]`.
- Ultralytics: `scales: {n: [depth, width, max_channels], ...}` (+ optional `scale:`); `Detect [nc]`.
The dialect is Ultralytics when the file has `scales:`, or else when its head takes no anchors
(Ultralytics' v3 / v6 files carry depth / width multiples and no scales); YOLOv5 otherwise. It decides
how blocks that the two codebases build differently are built (Bottleneck) and how layers are counted.
Both take `activation: nn.ReLU()` (a table of activations, blocks/torchnn.py; never `eval`).
Read through graph/safeyaml.py only: aliases refused; size, nodes and depth bounded (graph/limits.py).
Text pasted from a web page is repaired when it needs to be (graph/yamlfix.py) and the repairs are
reported as notes.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import yaml

from blocks import UnknownBlock, get_block
from blocks.registry import HEAD
from blocks.torchnn import activation_kwargs

from . import anchors as anchor_notes
from . import limits, safeyaml
from .errors import SpecError
from .yamlfix import repair

# YOLOv5's own scale table (yolov5n/s/m/l/x.yaml); used when a YOLOv5-dialect spec is given --scale.
YOLOV5_SCALES = {"n": (0.33, 0.25), "s": (0.33, 0.50), "m": (0.67, 0.75), "l": (1.0, 1.0), "x": (1.33, 1.25)}


@dataclass(frozen=True)
class LayerSpec:
    from_: int | str | tuple  # -1 = previous; tuples for several inputs; str = a tap (fragments only)
    n: int
    module: str
    args: tuple
    section: str = "head"  # the yaml list it came from: backbone | head


@dataclass(frozen=True)
class ModelSpec:
    layers: tuple[LayerSpec, ...]
    nc: int
    dialect: str = "yolov5"  # yolov5 | ultralytics
    depth_multiple: float = 1.0
    width_multiple: float = 1.0
    anchors: tuple | int | None = None  # one tuple of w, h pairs per level, or a count per level
    scales: tuple = ()  # ((name, (depth, width, max_channels)), ...)
    scale: str | None = None
    ch: int = 3
    activation: str | None = None  # `nn.LeakyReLU(0.1)`: every default-activation Conv's (blocks/torchnn.py)
    name: str = field(default="model", compare=False)
    # Other top-level keys, in file order, kept for the round trip. Some change the model (`end2end`,
    # `reg_max`: the head's options, graph/resolve.py), so they take part in equality and the hash,
    # which key the caches (app/handlers.py); `_tupled` makes every value hashable.
    extra: tuple = ()

    @property
    def multiples(self) -> tuple[float, float, float]:
        """(depth, width, max_channels) in force."""
        if self.scales:
            table = dict(self.scales)
            d, w, mc = table[self.scale if self.scale in table else self.scales[0][0]]
            return d, w, mc
        return self.depth_multiple, self.width_multiple, float("inf")

    @property
    def backbone(self) -> tuple[LayerSpec, ...]:
        return tuple(lay for lay in self.layers if lay.section == "backbone")

    @property
    def head(self) -> tuple[LayerSpec, ...]:
        return tuple(lay for lay in self.layers if lay.section != "backbone")

    def with_overrides(self, scale: str | None = None, nc: int | None = None) -> tuple["ModelSpec", list[str]]:
        """Apply `--scale` / `--nc`; returns the new spec and notes on what was done."""
        spec, notes = self, []
        if nc is not None:
            spec = dataclasses.replace(spec, nc=_check_nc(nc))
        if scale is not None:
            if spec.scales:
                if scale not in dict(spec.scales):
                    raise SpecError(f"scale {scale!r} is not in this model's scales "
                                    f"({', '.join(n for n, _ in spec.scales)})", field="scale")
                spec = dataclasses.replace(spec, scale=scale)
            elif scale in YOLOV5_SCALES:
                d, w = YOLOV5_SCALES[scale]
                spec = dataclasses.replace(spec, depth_multiple=d, width_multiple=w, scale=scale)
                notes.append(f"scale {scale}: YOLOv5 multiples depth {d}, width {w}")
            else:
                raise SpecError(f"unknown scale {scale!r}; use one of n, s, m, l, x", field="scale")
        return spec, notes


def _check_nc(nc) -> int:
    if isinstance(nc, bool) or not isinstance(nc, int) or not 1 <= nc <= limits.MAX_NC:
        raise SpecError(f"nc must be a whole number of classes from 1 to {limits.MAX_NC}, got {nc!r}",
                        field="nc")
    return nc


def _tupled(value):
    """Yaml data as hashable data: lists (and a `!!set`, sorted) as tuples, mappings as (key, value) pairs."""
    if isinstance(value, list):
        return tuple(_tupled(v) for v in value)
    if isinstance(value, dict):
        return tuple((k, _tupled(v)) for k, v in value.items())
    if isinstance(value, (set, frozenset)):
        return tuple(sorted((_tupled(v) for v in value), key=repr))
    return value


def _safe_load(text: str):
    """graph/safeyaml.load (no aliases; bounded size, nodes and depth) with refusals as SpecError."""
    try:
        return safeyaml.load(text, "model yaml")
    except safeyaml.YamlRefused as err:
        raise SpecError(str(err)) from None


def load_yaml(text: str) -> tuple[object, list[str]]:
    """Text -> python data, repairing web-paste damage if (and only if) PyYAML rejects it.

    A refusal (alias, depth, nodes, size) is final: no repair is tried on a refused text."""
    if not isinstance(text, str) or not text.strip():
        raise SpecError("the model yaml is empty")
    if len(text) > limits.MAX_TEXT_BYTES or len(text.encode("utf-8", "replace")) > limits.MAX_TEXT_BYTES:
        raise SpecError(f"the yaml is larger than {limits.MAX_TEXT_BYTES // 1024} KB; a model file is a few KB")
    try:
        if any(q in text for q in "\u2018\u2019\u201c\u201d"):  # PyYAML takes ‘nearest’ for a plain word
            raise yaml.YAMLError("typographic quotes")
        return _safe_load(text), []
    except yaml.YAMLError as first:
        fixed, notes = repair(text)
        if notes:
            try:
                return _safe_load(fixed), [f"repaired pasted yaml: {n}" for n in notes]
            except yaml.YAMLError as second:
                first = second if getattr(first, "problem_mark", None) is None else first
        mark = getattr(first, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(first, "problem", None) or "not valid yaml"
        raise SpecError(f"yaml syntax error{where}: {problem}") from None


def _layer(row, index: int, section: str, allow_taps: bool) -> LayerSpec:
    if not isinstance(row, list) or len(row) != 4:
        raise SpecError(f"each layer is [from, number, module, args]; got {row!r:.60}", layer=index)
    f, n, module, args = row
    ok_ref = (int, str) if allow_taps else (int,)
    refs = f if isinstance(f, list) else [f]
    if not refs or any(isinstance(r, bool) or not isinstance(r, ok_ref) for r in refs):
        raise SpecError(f"'from' must be a layer index or a list of them, got {f!r:.60}",
                        layer=index, module=str(module), field="from")
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= limits.MAX_REPEATS:
        raise SpecError(f"number (repeats) must be a whole number from 1 to {limits.MAX_REPEATS}, got {n!r:.40}",
                        layer=index, module=str(module), field="n")
    if not isinstance(module, str):
        raise SpecError(f"module must be a block name, got {module!r:.40}", layer=index, field="module")
    if not isinstance(args, list):
        args = [args]
    return LayerSpec(_tupled(f), n, module, _tupled(args), section)


def layers_from(data: dict, allow_taps: bool = False, offset: int = 0) -> tuple[LayerSpec, ...]:
    layers = []
    for section in ("backbone", "head"):
        rows = data.get(section)
        if rows is None:
            continue
        if not isinstance(rows, list):
            raise SpecError(f"'{section}' must be a list of layers [from, number, module, args]",
                            field=section)
        for row in rows:
            layers.append(_layer(row, offset + len(layers), section, allow_taps))
            if len(layers) > limits.MAX_LAYERS:
                raise SpecError(f"more than {limits.MAX_LAYERS} layers; that is not a lightweight detector")
    return tuple(layers)


def _scales(raw) -> tuple:
    if not isinstance(raw, dict) or not raw:
        raise SpecError("scales must map a name to [depth, width, max_channels]", field="scales")
    out = []
    for name, v in raw.items():
        if (not isinstance(v, list) or len(v) != 3
                or not all(isinstance(x, (int, float)) and not isinstance(x, bool) and x > 0 for x in v)):
            raise SpecError(f"scale {name!r} must be [depth, width, max_channels], got {v!r:.60}",
                            field="scales")
        out.append((str(name), (float(v[0]), float(v[1]), int(v[2]))))
    return tuple(out)


def _multiple(data: dict, key: str) -> float:
    v = data.get(key, 1.0)
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 < v <= 4:
        raise SpecError(f"{key} must be a number between 0 and 4, got {v!r:.40}", field=key)
    return float(v)


KNOWN_KEYS = {"nc", "depth_multiple", "width_multiple", "anchors", "scales", "scale", "backbone",
              "head", "ch", "name", "activation"}


def _anchors(raw):
    if raw is None or raw == []:
        return None
    if isinstance(raw, int) and not isinstance(raw, bool):
        if not 1 <= raw <= 16:
            raise SpecError(f"anchors: {raw} anchors per level; give a count from 1 to 16 "
                            f"(YOLOv5's hub files write 3), or one list of pixel sizes per level",
                            field="anchors")
        return raw
    if not (isinstance(raw, list) and raw and all(isinstance(a, list) and a for a in raw)):
        raise SpecError("anchors must be one list of pixel sizes [w, h, ...] per level, or a count per "
                        "level (anchors: 3)", field="anchors")
    return _tupled(raw)


def _activation(raw) -> str | None:
    if raw is None or raw == "":
        return None
    try:
        activation_kwargs(raw)
    except ValueError as err:
        raise SpecError(str(err), field="activation") from None
    return raw.strip()


def _dialect(layers: tuple[LayerSpec, ...], scales: tuple) -> str:
    """Ultralytics with `scales:`; else from the head: a head with anchors is YOLOv5's, one without
    (`Detect [nc]`) Ultralytics'. YOLOv5 when the last layer is no known head."""
    if scales:
        return "ultralytics"
    try:
        info = get_block(layers[-1].module) if layers else None
    except UnknownBlock:
        info = None
    if info is None or info.channels != HEAD:
        return "yolov5"
    args = layers[-1].args
    at = [k for k, a in enumerate(info.args) if a.kind == "anchors"]
    with_anchors = bool(at) and len(args) > at[0] and args[at[0]] not in (None, "None", "null", "~")
    return "yolov5" if with_anchors else "ultralytics"


def spec_from_data(data, name: str = "model") -> ModelSpec:
    if not isinstance(data, dict):
        raise SpecError("a model yaml is a mapping with nc, backbone and head")
    for key in ("nc", "backbone", "head"):
        if key not in data:
            raise SpecError(f"the model yaml has no '{key}'", field=key)
    scales = _scales(data["scales"]) if data.get("scales") is not None else ()
    scale = data.get("scale")
    if scale is not None and scales and str(scale) not in dict(scales):
        raise SpecError(f"scale {scale!r} is not one of the scales listed ({', '.join(n for n, _ in scales)})",
                        field="scale")
    anchors = _anchors(data.get("anchors"))
    ch = data.get("ch", 3)
    if isinstance(ch, bool) or not isinstance(ch, int) or not 1 <= ch <= 16:
        raise SpecError(f"ch (input channels) must be 1..16, got {ch!r:.20}", field="ch")
    extra = tuple((k, _tupled(v)) for k, v in data.items() if k not in KNOWN_KEYS)
    layers = layers_from(data)
    return ModelSpec(
        layers=layers, nc=_check_nc(data["nc"]), dialect=_dialect(layers, scales),
        depth_multiple=_multiple(data, "depth_multiple"), width_multiple=_multiple(data, "width_multiple"),
        anchors=anchors, scales=scales, scale=str(scale) if scale is not None else None,
        ch=ch, activation=_activation(data.get("activation")), name=str(data.get("name", name)), extra=extra,
    )


def parse(text: str, name: str = "model") -> tuple[ModelSpec, list[str]]:
    """Model yaml text -> (ModelSpec, notes). Raises SpecError with a one-line cause."""
    data, notes = load_yaml(text)
    spec = spec_from_data(data, name)
    return spec, notes + anchor_notes.note(spec.anchors)


def read_file(path: str) -> str:
    """The text of a model yaml file (at most a byte past the size limit, so `parse` refuses it)."""
    try:
        with open(path, encoding="utf-8") as fh:
            return fh.read(limits.MAX_TEXT_BYTES + 1)
    except (OSError, UnicodeDecodeError) as err:
        raise SpecError(f"cannot read {path}: {err}") from None


def parse_file(path: str) -> tuple[ModelSpec, list[str]]:
    import os

    return parse(read_file(path), name=os.path.splitext(os.path.basename(path))[0])
