"""The checkpoint format of this project, written by training and read by export and predict.

A checkpoint is a plain dict saved with torch.save and loadable with `weights_only=True`:
    {"format": "yolo-lite-designer/1", "yaml": <model yaml text>, "state_dict": {name: tensor},
     "names": [class names], "imgsz": int, "meta": {epoch, metrics, ...: plain values}}
The yaml is the source of truth for the architecture: loading re-resolves it and holds the weights to
it strictly, so a checkpoint whose yaml does not match its weights is refused with what differs.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field

import torch

from graph.errors import SpecError
from graph.model import DetectionModel, build
from graph.resolve import resolve
from graph.spec import parse

FORMAT = "yolo-lite-designer/1"
MAX_BYTES = 1 << 30  # 1 GiB: far above any lightweight detector


class CheckpointError(ValueError):
    """A file that is not a usable checkpoint of this project; the message says why in one line."""


@dataclass
class Loaded:
    model: DetectionModel
    yaml: str
    names: list[str]
    imgsz: int
    trained: bool
    source: str
    meta: dict = field(default_factory=dict)


def default_names(nc: int) -> list[str]:
    return [f"class{i}" for i in range(nc)]


def save_checkpoint(path: str, model: DetectionModel, yaml_text: str, names: list[str] | None = None,
                    imgsz: int = 640, **meta) -> str:
    names = list(names) if names else default_names(model.nc)
    state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    torch.save({"format": FORMAT, "yaml": yaml_text, "state_dict": state, "names": names,
                "imgsz": int(imgsz), "meta": meta}, path)
    return path


def read_checkpoint(path: str) -> dict:
    """The checked raw dict of a checkpoint file (size, format and key types), or CheckpointError."""
    try:
        size = os.path.getsize(path)
    except OSError as err:
        raise CheckpointError(f"cannot read {path}: {err.strerror or err}") from None
    if size > MAX_BYTES:
        raise CheckpointError(f"{os.path.basename(path)} is {size / 2**30:.1f} GiB; not a checkpoint of this project")
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises many kinds for foreign or corrupt files
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise CheckpointError(f"{os.path.basename(path)} is not a readable checkpoint "
                              f"(corrupt, or not saved by this project): {first[:160]}") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise CheckpointError(f"{os.path.basename(path)} is not a YOLO Lite Designer checkpoint "
                              f"(expected format {FORMAT!r}; YOLOv5 / Ultralytics .pt files are not supported)")
    for key, kind in (("yaml", str), ("state_dict", dict), ("names", list), ("imgsz", int)):
        if not isinstance(data.get(key), kind):
            raise CheckpointError(f"{os.path.basename(path)}: the checkpoint has no valid '{key}'")
    return data


def load_checkpoint(path: str) -> Loaded:
    data = read_checkpoint(path)
    try:
        spec, _ = parse(data["yaml"], name=os.path.splitext(os.path.basename(path))[0])
        graph = resolve(spec, data["imgsz"])
    except SpecError as err:
        raise CheckpointError(f"{os.path.basename(path)}: its model yaml does not resolve: {err}") from None
    model = build(graph)
    theirs, ours = data["state_dict"], model.state_dict()
    missing = [k for k in ours if k not in theirs]
    unexpected = [k for k in theirs if k not in ours]
    shapes = [k for k in ours if k in theirs and tuple(theirs[k].shape) != tuple(ours[k].shape)]
    if missing or unexpected or shapes:
        parts = []
        if shapes:
            k = shapes[0]
            parts.append(f"{len(shapes)} tensors of another shape (e.g. {k}: {tuple(theirs[k].shape)} "
                         f"in the file, {tuple(ours[k].shape)} in the yaml's model)")
        if missing:
            parts.append(f"{len(missing)} missing (e.g. {missing[0]})")
        if unexpected:
            parts.append(f"{len(unexpected)} unexpected (e.g. {unexpected[0]})")
        raise CheckpointError(f"{os.path.basename(path)}: the yaml does not match the weights: " + "; ".join(parts))
    model.load_state_dict(theirs, strict=True)
    names = [str(n) for n in data["names"]]
    if len(names) != model.nc:
        raise CheckpointError(f"{os.path.basename(path)}: {len(names)} class names for a model of {model.nc} classes")
    return Loaded(model=model.eval(), yaml=data["yaml"], names=names, imgsz=data["imgsz"], trained=True,
                  source=path, meta=dict(data.get("meta") or {}))
