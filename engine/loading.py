"""One way in for every job that needs a model: a checkpoint (.pt), a model yaml, or a preset name.

A yaml or preset gives an untrained model (random weights: its boxes mean nothing, its timing is
real); a checkpoint gives the trained one. Errors are SpecError / CheckpointError, one line each."""
from __future__ import annotations

from graph.model import build
from graph.resolve import resolve
from graph.source import Source
from graph.source import source as design_source

from .checkpoint import CheckpointError, Loaded, default_names, load_checkpoint


def load_design(design: str | Source, imgsz: int = 640, name: str = "model") -> Loaded:
    """An untrained model of a design: a graph/source.Source, or yaml text (named `name`)."""
    src = design if isinstance(design, Source) else design_source(text=design, name=name)
    graph = resolve(src.spec, imgsz)
    return Loaded(model=build(graph).eval(), yaml=src.yaml(graph), names=default_names(src.spec.nc), imgsz=imgsz,
                  trained=False, source=src.spec.name if isinstance(design, Source) else name)


def load_any(source: str, imgsz: int | None = None) -> Loaded:
    """A checkpoint path, a yaml path, or a preset name (graph/source.py reads the last two)."""
    if source.endswith((".pt", ".pth")):
        loaded = load_checkpoint(source)
        if imgsz and imgsz != loaded.imgsz:
            loaded.imgsz = imgsz
        return loaded
    return load_design(design_source(source), imgsz or 640)


__all__ = ["load_any", "load_design", "CheckpointError", "Loaded"]
