"""What an exported model says about itself: the ONNX `metadata_props` (and, for a folder format such as
OpenVINO's IR, a `metadata.yaml` beside it) that other tools read to run it without being told.

The keys and value spellings are the ones Ultralytics 8.4's exporter writes (read from its source for
the facts only): every value is a string; `names` is a dict literal "{0: 'person', 1: 'bicycle'}",
`imgsz` a list literal "[640, 640]", `stride` / `batch` / `channels` integers, `task` "detect",
`end2end` "True" / "False" (an end-to-end head's (B, 300, 6) output), `args` a dict literal with
`dynamic`, `int8`, `nms`. Ultralytics' runner (AutoBackend) parses them with a literal parser and
takes its class names from `names`; without them it lists 999 default names. `design` carries this
project's model yaml, so the file alone rebuilds the design. No date key: two exports of the same
design write the same bytes.

`read_metadata` parses them back with `ast.literal_eval` (literals only, never code), size-capped; a
metadata.yaml through graph/safeyaml.
"""
from __future__ import annotations

import ast
import os

import onnx
import yaml

from graph import safeyaml

from ..heads import head_kind

AUTHOR = "YOLO Lite Designer"
LITERAL_KEYS = ("names", "imgsz", "args", "end2end")  # parsed as Python literals
INT_KEYS = ("stride", "batch", "channels")
MAX_LITERAL = 1 << 20  # a metadata value longer than 1 MiB is not parsed


def build_metadata(model, names, yaml_text: str, imgsz: int, dynamic: bool = False, int8: bool = False,
                   batch: int = 1) -> dict:
    """The metadata of an export of `model` (a DetectionModel) as plain Python values."""
    kind = head_kind(model)
    stride = int(model.stride.max()) if model.stride.numel() else 32
    return {"description": f"{AUTHOR} detector ({kind.label} head)", "author": AUTHOR, "license": "MIT",
            "stride": stride, "task": "detect", "head": kind.name, "batch": int(batch),
            "imgsz": [int(imgsz), int(imgsz)], "names": {i: str(n) for i, n in enumerate(names)},
            "args": {"batch": int(batch), "dynamic": bool(dynamic), "int8": bool(int8), "nms": False},
            "channels": 3, "end2end": kind.rows_fixed is not None, "design": yaml_text}


def as_strings(meta: dict) -> dict[str, str]:
    """Every value as the string Ultralytics writes (str() of the value; the yaml text as it is)."""
    return {k: v if isinstance(v, str) else str(v) for k, v in meta.items()}


def write_onnx_metadata(proto: onnx.ModelProto, meta: dict) -> onnx.ModelProto:
    """Replace `proto`'s metadata_props with `meta` (in place; returned for chaining)."""
    del proto.metadata_props[:]
    for k, v in as_strings(meta).items():
        prop = proto.metadata_props.add()
        prop.key, prop.value = k, v
    return proto


def parse_values(raw: dict[str, str]) -> dict:
    """String values -> Python values for the known keys (literals only); others stay strings."""
    out = dict(raw)
    for k in INT_KEYS:
        if k in out:
            try:
                out[k] = int(out[k])
            except ValueError:
                pass
    for k in LITERAL_KEYS:
        if k in out and len(out[k]) <= MAX_LITERAL:
            try:
                out[k] = ast.literal_eval(out[k])
            except (ValueError, SyntaxError, MemoryError, RecursionError):
                pass
    return out


def read_metadata(path: str) -> dict:
    """The metadata of an ONNX file (its metadata_props) or an OpenVINO IR (.xml: the metadata.yaml
    beside it), parsed; {} when there is none."""
    if path.endswith(".xml"):
        side = os.path.join(os.path.dirname(path), "metadata.yaml")
        if not os.path.exists(side):
            return {}
        data = safeyaml.load_file(side, "metadata.yaml")
        return data if isinstance(data, dict) else {}
    proto = onnx.load(path, load_external_data=False)
    return parse_values({p.key: p.value for p in proto.metadata_props})


def write_sidecar(folder: str, meta: dict) -> str:
    """metadata.yaml in `folder` (the plain values, as Ultralytics' folder formats keep them)."""
    path = os.path.join(folder, "metadata.yaml")
    with open(path, "w", encoding="utf-8") as fh:
        yaml.safe_dump(meta, fh, sort_keys=False, allow_unicode=True)
    return path
