"""source: what the user named -> a Source (ModelSpec + notes, and the yaml text when it is wanted).

The ONE way in (DESIGN.md, "The flow of data"), used by the page, the CLI, the API and the trainer:

    source("yolov8n")                          a preset name, or a yaml file path (a file wins)
    source(preset="yolov8n")                   a preset name only: never a path (the page's dropdown)
    source(text=yaml_text, name="model")       yaml text (pasted, uploaded, kept in the page's state)
    source(picks={"backbone": ..., "neck": ..., "head": ..., "scale": ...})   the pickers
    ... , scale="s", nc=3                      overrides, applied to the spec (ModelSpec.with_overrides)

Exactly one of those four; anything wrong is a one-line SpecError. A file or preset is read once and
parsed once; picks are composed and never parsed. The yaml text comes from `Source.yaml`: the text that
was read while it still says exactly the spec, else graph/dump.py's to_yaml with stride comments,
taken from a LayerGraph the caller already has (so the page resolves a design once, not twice).
"""
from __future__ import annotations

import dataclasses
import os
import re
from dataclasses import dataclass

from .compose import compose
from .dump import chosen_first, stride_comments, to_yaml
from .errors import SpecError
from .resolve import resolve
from .spec import ModelSpec, parse, read_file
from .templates import preset as preset_entry
from .templates import preset_path, presets

PICK_KEYS = ("backbone", "neck", "head", "scale")


@dataclass(frozen=True, eq=False)
class Source:
    """A design, as plain data: equal (and hashed) on everything its numbers and its text follow from,
    so it keys a cache. `picks` (the pickers that compose it, or None) is along for the page."""

    spec: ModelSpec
    notes: tuple[str, ...] = ()
    title: str | None = None  # the first comment line of the yaml when it is written out
    text: str | None = None  # the text read, while it still says exactly `spec`; None once overridden
    picks: dict | None = None

    @property
    def key(self) -> tuple:
        s = self.spec
        return (s, s.name, s.extra, self.notes, self.title, self.text)

    def __eq__(self, other) -> bool:
        return isinstance(other, Source) and self.key == other.key

    def __hash__(self) -> int:
        return hash(self.key)

    def yaml(self, graph=None, imgsz: int = 640) -> str:
        """The text to show, download or store: the text read, if it still says the spec, else `dump`."""
        return self.text if self.text is not None else self.dump(graph, imgsz)

    def dump(self, graph=None, imgsz: int = 640, title: str | None = None) -> str:
        """to_yaml of the spec with stride comments from `graph` (resolved here only when not given)."""
        graph = graph if graph is not None else resolve(self.spec, imgsz)
        return to_yaml(self.spec, stride_comments(graph), title=title or self.title)


def source(name_or_path: str | None = None, *, preset: str | None = None, text: str | None = None,
           picks: dict | None = None, scale: str | None = None, nc: int | None = None,
           name: str | None = None) -> Source:
    """Preset name / yaml file / yaml text / picks, plus scale and nc overrides -> Source.

    `name` names a design whose yaml does not (text; default "model") or replaces the composed name
    (picks); a file or preset is named after its file."""
    given = [k for k, v in (("a file or preset", name_or_path), ("preset", preset), ("text", text),
                            ("picks", picks)) if v is not None]
    if len(given) != 1:
        raise SpecError("name one model: a preset, a yaml file, yaml text or picks"
                        + (f"; got {' and '.join(given)}" if given else ""), field="source")
    if picks is not None:
        return _from_picks(picks, scale, nc, name)
    kept_picks, path = None, None
    if text is None:
        if not isinstance(name_or_path if preset is None else preset, str):
            raise SpecError(f"a preset name or file path is text, got {type(name_or_path or preset).__name__}",
                            field="source")
        if preset is None and not os.path.exists(name_or_path):
            if name_or_path not in presets():
                raise SpecError(f"cannot read {name_or_path}: no such file, and no preset of that name "
                                f"(see `launch.py catalog`)", field="source")
            preset = name_or_path
        if preset is not None:
            kept_picks = preset_entry(preset).get("picks")  # an unknown preset: SpecError naming them all
        path = name_or_path if preset is None else preset_path(preset)
        text = read_file(path)
        name = name or os.path.splitext(os.path.basename(path))[0]
    spec, notes = parse(text, name=name or "model")
    named, more = _scale_in_name(path, spec) if preset is None and scale is None else (None, [])
    new, changed = spec.with_overrides(scale=scale or named, nc=nc)
    more += changed
    if (scale or named) is not None:  # the chosen scale first, as a written file lists it; the name to match
        new = dataclasses.replace(new, scales=chosen_first(new.scales, new.scale), name=_renamed(new.name, new.scale))
    more += _scale_note(new)
    title = _header(text) if scale is None else None
    return Source(new, tuple(notes + more), title or new.name, text if new == spec else None,
                  dict(kept_picks) if kept_picks else None)


def _from_picks(picks, scale, nc, name) -> Source:
    if not isinstance(picks, dict) or not all(isinstance(picks.get(k), str) for k in PICK_KEYS[:3]):
        raise SpecError("picks name a backbone, a neck and a head (and a scale)", field="picks")
    unknown = set(picks) - set(PICK_KEYS)
    if unknown:
        raise SpecError(f"picks take {', '.join(PICK_KEYS)}, not {', '.join(sorted(map(str, unknown)))}",
                        field="picks")
    b, k, h = picks["backbone"], picks["neck"], picks["head"]
    scale = scale or picks.get("scale") or "s"
    spec, notes = compose(b, k, h, scale, name=name).with_overrides(nc=nc)
    title = (f"{spec.name}: composed by YOLO Lite Designer (backbone {b}, neck {k}, head {h}, "
             f"scale {scale})")
    return Source(spec, tuple(notes), title, None, {"backbone": b, "neck": k, "head": h, "scale": scale})


# Ultralytics 8.4's reading of a scale in a model file's name (yolov8s.yaml, yolo11m-p2.yaml, yoloe-11l.yaml).
SCALE_IN_NAME = re.compile(r"yolo(e-)?[v]?\d+([nslmx])")


def _scale_in_name(path: str | None, spec: ModelSpec) -> tuple[str | None, list[str]]:
    """Ultralytics builds the scale a model file's name names, whatever its `scale:` key says. A file
    that lists scales with no `scale:` key is read the same way here (the scale to apply, and a note);
    one whose key says another scale than its name keeps its key, with a note."""
    m = SCALE_IN_NAME.search(os.path.splitext(os.path.basename(path))[0]) if path and spec.scales else None
    named = m.group(2) if m and m.group(2) in dict(spec.scales) else None
    if named is None or named == spec.scale:
        return None, []
    base = os.path.basename(path)
    if spec.scale is None:
        return named, [f"scale {named} from the file name {base}, as Ultralytics 8.4 reads it (no scale: key)"]
    return None, [f"the file name {base} names scale {named}: Ultralytics builds {named} from it, this "
                  f"project the scale of its scale: key, {spec.scale}"]


def _renamed(name: str, scale: str) -> str:
    """A name that names a scale, Ultralytics' way, renamed for `scale` (yolov8n -> yolov8s at s), so a
    file saved under the design's name builds that scale in Ultralytics too."""
    m = SCALE_IN_NAME.search(name)
    return name if m is None else name[:m.start(2)] + scale + name[m.end(2):]


def _scale_note(spec: ModelSpec) -> list[str]:
    """A note when `scale:` names a scale that is not the first of `scales:`: Ultralytics 8.4 ignores the
    key and, unless the file's name names a scale, builds the first one (graph/dump.py)."""
    if not spec.scales or not spec.scale or spec.scales[0][0] == spec.scale:
        return []
    first = spec.scales[0][0]
    return [f"scale {spec.scale} is not listed first in scales: Ultralytics ignores `scale:` and builds "
            f"{first} from this file unless its name names the scale (e.g. yolov8{spec.scale}.yaml); "
            f"the yaml written from it lists {spec.scale} first"]


def _header(text: str) -> str | None:
    """The first line of `text` when it is a comment (`# name: what it is`), as a dump's title."""
    first = text.lstrip("\ufeff").split("\n", 1)[0].rstrip()
    return (first[1:].strip() or None) if first.startswith("#") else None
