"""The template library on disk (templates/): backbone / neck / head fragments and whole-model
presets, each with a name, a one-line summary, a short label (the pickers' options) and its source
(text, or `{article, paper, part, note}` that blocks/sources.py's `cite` writes out). Read once, cached,
through the one safe yaml loader (graph/safeyaml.py)."""
from __future__ import annotations

import functools
import os

from blocks.sources import source_text

from . import safeyaml
from .errors import SpecError

ROOT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "templates")
KINDS = {"backbone": "backbones", "neck": "necks", "head": "heads"}


@functools.lru_cache(maxsize=None)
def fragments(kind: str) -> dict[str, dict]:
    """name -> fragment data for one kind (backbone | neck | head), in file-name order."""
    folder = os.path.join(ROOT, KINDS[kind])
    out = {}
    for fn in sorted(os.listdir(folder)):
        if fn.endswith(".yaml"):
            data = safeyaml.load_file(os.path.join(folder, fn), f"templates/{KINDS[kind]}/{fn}")
            if not isinstance(data, dict) or data.get("kind") != kind:
                got = data.get("kind") if isinstance(data, dict) else type(data).__name__
                raise ValueError(f"{fn}: kind is {got!r}, expected {kind!r}")
            out[data["name"]] = {**data, "source": source_text(data.get("source", ""))}
    return out


def fragment(kind: str, name: str) -> dict:
    table = fragments(kind)
    if name not in table:
        raise SpecError(f"unknown {kind} {name!r}; choose one of {', '.join(table)}", field=kind)
    return table[name]


@functools.lru_cache(maxsize=None)
def presets() -> dict[str, dict]:
    """name -> {name, summary, source, picks | file}; see templates/models/presets.yaml."""
    data = safeyaml.load_file(os.path.join(ROOT, "models", "presets.yaml"), "templates/models/presets.yaml")
    return {p["name"]: {**p, "source": source_text(p.get("source", ""))} for p in data["presets"]}


def preset(name: str) -> dict:
    table = presets()
    if name not in table:
        raise SpecError(f"unknown preset {name!r}; choose one of {', '.join(table)}", field="preset")
    return table[name]


def preset_path(name: str) -> str:
    return os.path.join(ROOT, "models", preset(name)["file"])
