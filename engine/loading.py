"""One way in for every job that needs a model: a checkpoint (.pt), a model yaml, or a preset name.

A yaml or preset gives an untrained model (random weights: its boxes mean nothing, its timing is
real); a checkpoint gives the trained one. Errors are SpecError / CheckpointError, one line each."""
from __future__ import annotations

import os

from graph.errors import SpecError
from graph.model import build
from graph.resolve import resolve
from graph.spec import parse, parse_file
from graph.templates import preset_path, presets

from .checkpoint import CheckpointError, Loaded, default_names, load_checkpoint


def load_design(text: str, imgsz: int = 640, name: str = "model") -> Loaded:
    spec, _ = parse(text, name=name)
    model = build(resolve(spec, imgsz))
    return Loaded(model=model.eval(), yaml=text, names=default_names(spec.nc), imgsz=imgsz, trained=False,
                  source=name)


def load_any(source: str, imgsz: int | None = None) -> Loaded:
    """A checkpoint path, a yaml path, or a preset name."""
    if source.endswith((".pt", ".pth")):
        loaded = load_checkpoint(source)
        if imgsz and imgsz != loaded.imgsz:
            loaded.imgsz = imgsz
        return loaded
    if not os.path.exists(source) and source in presets():
        source = preset_path(source)
    if not os.path.exists(source):
        raise SpecError(f"no such model file or preset: {source}")
    spec, _ = parse_file(source)
    with open(source, encoding="utf-8") as fh:
        text = fh.read()
    return load_design(text, imgsz or 640, spec.name)


__all__ = ["load_any", "load_design", "CheckpointError", "Loaded"]
