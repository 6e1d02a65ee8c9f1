"""Dataset configs: a data.yaml (Ultralytics / YOLOv5 layout) or "shapes" (the built-in set) read into
class names and resolved lists of train / val / test images.

Public API:
    load_data_config(data) -> {"names", "nc", "train", "val", "test", "root", "yaml"}
        `data` is a data.yaml path (Ultralytics / YOLOv5 layout) or "shapes" (the built-in set).
    read_data_yaml(path, where) -> data of a dataset yaml, read through graph/safeyaml.py.
    DataError(ValueError): an unusable config (or dataset); the message is one line.

A missing or unusable train / val split is a DataError; a broken optional test split is logged on the
"yld.data" logger and left out.
"""
from __future__ import annotations

import logging
import os

import yaml

from graph import limits, safeyaml

from ..images import IMAGE_EXTS

log = logging.getLogger("yld.data")


class DataError(ValueError):
    """An unusable dataset config; the message is one line."""


# ---------------------------------------------------------------- config
def _images_in(folder: str) -> list[str]:
    found = []
    for dirpath, dirnames, filenames in os.walk(folder, followlinks=True):
        dirnames.sort()
        found += [os.path.join(dirpath, f) for f in filenames if f.lower().endswith(IMAGE_EXTS)]
    return sorted(found)


def _read_list(list_file: str, root: str) -> list[str]:
    """A .txt of image paths, one a line; relative ones against the list's folder, else `root`."""
    base, out = os.path.dirname(list_file), []
    with open(list_file, encoding="utf-8") as fh:
        for line in fh:
            p = line.strip()
            if not p or p.startswith("#"):
                continue
            if os.path.isabs(p):
                out.append(os.path.normpath(p))
                continue
            near, at_root = os.path.normpath(os.path.join(base, p)), os.path.normpath(os.path.join(root, p))
            out.append(near if os.path.exists(near) or not os.path.exists(at_root) else at_root)
    return out


def _resolve_split(entry, root: str, key: str, where: str) -> list[str]:
    entries = entry if isinstance(entry, (list, tuple)) else [entry]
    paths: list[str] = []
    for e in entries:
        if not isinstance(e, (str, os.PathLike)) or not str(e).strip():
            raise DataError(f"{where}: '{key}' must be a folder, a .txt list or a list of them, got {e!r}")
        p = os.path.normpath(os.path.join(root, os.path.expanduser(str(e).strip())))
        if os.path.isdir(p):
            paths += _images_in(p)
        elif os.path.isfile(p) and p.lower().endswith(".txt"):
            try:
                paths += _read_list(p, root)
            except (OSError, UnicodeDecodeError) as exc:
                raise DataError(f"{where}: cannot read the '{key}' list {p} ({exc})") from None
        elif os.path.isfile(p) and p.lower().endswith(IMAGE_EXTS):
            paths.append(p)
        elif os.path.exists(p):
            raise DataError(f"{where}: '{key}' entry {p} is neither a folder, a .txt list nor an image")
        else:
            raise DataError(f"{where}: '{key}' path not found: {p}")
    if not paths:
        raise DataError(f"{where}: no images found for '{key}' ({', '.join(map(str, entries))}); "
                        f"looked for {', '.join(IMAGE_EXTS)}")
    return paths


def _names(cfg: dict, where: str) -> list[str]:
    names = cfg.get("names")
    if names is None:
        raise DataError(f"{where}: 'names' is missing (a list of class names, or a dict {{0: name}})")
    if isinstance(names, dict):
        try:
            keyed = {int(k): v for k, v in names.items()}
        except (TypeError, ValueError):
            raise DataError(f"{where}: 'names' keys must be class indices 0, 1, ...") from None
        if sorted(keyed) != list(range(len(keyed))):
            raise DataError(f"{where}: 'names' keys must be 0..{len(keyed) - 1} with no gaps, got {sorted(keyed)}")
        names = [keyed[i] for i in range(len(keyed))]
    if not isinstance(names, (list, tuple)) or not names:
        raise DataError(f"{where}: 'names' must be a non-empty list or dict, got {names!r}"[:200])
    names = [str(n) for n in names]
    nc = cfg.get("nc")
    if nc is not None and nc != len(names):
        raise DataError(f"{where}: nc is {nc} but 'names' has {len(names)} entries")
    return names


def read_data_yaml(path: str, where: str):
    """A dataset yaml's data through the one safe loader (graph/safeyaml.py: no aliases, bounded size,
    nodes and depth); DataError with one line naming the file otherwise."""
    try:
        return safeyaml.load_file(path, where, max_bytes=limits.MAX_DATA_YAML_BYTES)
    except safeyaml.YamlRefused as exc:
        raise DataError(str(exc)) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}" if mark is not None else ""
        raise DataError(f"{where}: not valid yaml{at} ({getattr(exc, 'problem', None) or 'parse error'})") from None
    except OSError as exc:
        raise DataError(f"{where}: cannot read the file ({exc})") from None


def load_data_config(data: str) -> dict:
    """Read a dataset yaml (or "shapes") into names, nc and resolved lists of train / val images."""
    if str(data).strip().lower() == "shapes":
        from .synthetic import ensure_shapes
        data = ensure_shapes()
    path = os.path.abspath(os.path.expanduser(os.fspath(data)))
    where = os.path.basename(path) or path
    if not os.path.exists(path):
        raise DataError(f"{where}: dataset yaml not found ({path})")
    if os.path.isdir(path):
        raise DataError(f"{where}: is a folder; give the dataset's .yaml file")
    cfg = read_data_yaml(path, where)
    if not isinstance(cfg, dict):
        raise DataError(f"{where}: expected a mapping with path / train / val / names, got {type(cfg).__name__}")
    names = _names(cfg, where)
    root = os.path.dirname(path)
    if cfg.get("path"):
        root = os.path.normpath(os.path.join(root, os.path.expanduser(str(cfg["path"]))))
        if not os.path.isdir(root):
            raise DataError(f"{where}: 'path' folder not found: {root}")
    out = {"names": names, "nc": len(names), "root": root, "yaml": path, "test": []}
    for key in ("train", "val"):
        if not cfg.get(key):
            raise DataError(f"{where}: '{key}' is missing (a folder, a .txt list of images or a list)")
        out[key] = _resolve_split(cfg[key], root, key, where)
    if cfg.get("test"):
        try:
            out["test"] = _resolve_split(cfg["test"], root, "test", where)
        except DataError as exc:  # optional split: say so, go on
            log.warning("%s", exc)
    return out
