"""A dataset uploaded as a zip in YOLO layout, checked before use and unpacked only inside the job's
own folder: members that would land outside it (absolute paths, `..`, links), archives that expand
past the size or file-count limits, and a missing labels/ folder are refused with one line. A
data.yaml / dataset.yaml inside is read through the one safe yaml loader (graph/safeyaml.py)."""
from __future__ import annotations

import os
import stat
import zipfile

import yaml

from ..checkpoint import default_names
from .config import DataError, read_data_yaml

MAX_BYTES = 2 * 2**30  # unpacked
MAX_FILES = 100_000


def _safe_members(z: zipfile.ZipFile, max_bytes: int = MAX_BYTES) -> list[zipfile.ZipInfo]:
    members, total = [], 0
    for info in z.infolist():
        name = info.filename.replace("\\", "/")
        parts = [p for p in name.split("/") if p]
        if name.startswith("/") or ".." in parts or (parts and ":" in parts[0]):
            raise DataError(f"the zip has a path outside its own folder: {info.filename!r}")
        if stat.S_ISLNK(info.external_attr >> 16):
            raise DataError(f"the zip has a symbolic link: {info.filename!r}")
        total += info.file_size
        if total > max_bytes:
            raise DataError(f"the zip unpacks to more than {_size(max_bytes)}, the room left for it on this server")
        members.append(info)
        if len(members) > MAX_FILES:
            raise DataError(f"the zip has more than {MAX_FILES} files")
    return members


def _root(dest: str) -> str:
    """The folder that holds images/ (the zip may wrap everything in one top folder)."""
    for here, dirs, _ in os.walk(dest):
        if "images" in dirs:
            return here
    raise DataError("the zip has no images/ folder (YOLO layout: images/train, images/val, labels/...)")


def _size(n: int) -> str:
    return f"{n / 2**30:.1f} GiB" if n >= 2**30 else f"{n / 2**20:.0f} MiB"


def extract_dataset_zip(zip_path: str, dest: str, max_bytes: int = MAX_BYTES) -> str:
    """Unpack into `dest` (created), check the layout, return the path of a data.yaml for it.
    `max_bytes` bounds what it unpacks to (the declared sizes, and each member as it is written)."""
    try:
        z = zipfile.ZipFile(zip_path)
    except (zipfile.BadZipFile, OSError) as err:
        raise DataError(f"not a readable zip file: {err}") from None
    with z:
        members = _safe_members(z, min(max_bytes, MAX_BYTES))
        os.makedirs(dest, exist_ok=True)
        base = os.path.realpath(dest)
        for info in members:
            target = os.path.realpath(os.path.join(base, info.filename))
            if not target.startswith(base + os.sep) and target != base:
                raise DataError(f"the zip has a path outside its own folder: {info.filename!r}")
            if info.is_dir():
                os.makedirs(target, exist_ok=True)
                continue
            os.makedirs(os.path.dirname(target), exist_ok=True)
            with z.open(info) as src, open(target, "wb") as dst:
                dst.write(src.read(info.file_size + 1)[: info.file_size])
    root = _root(dest)
    if not os.path.isdir(os.path.join(root, "labels")):
        raise DataError("the zip has images/ but no labels/ folder beside it")
    given = [os.path.join(root, f) for f in ("data.yaml", "dataset.yaml") if os.path.exists(os.path.join(root, f))]
    names = None
    if given:
        data = read_data_yaml(given[0], os.path.basename(given[0]))  # safe loader, at most 1 MB
        names = data.get("names") if isinstance(data, dict) else None
    splits = {s: os.path.join("images", s) for s in ("train", "val") if os.path.isdir(os.path.join(root, "images", s))}
    if "train" not in splits:
        splits = {"train": "images", "val": "images"}
    splits.setdefault("val", splits["train"])
    if names is None:
        names = _names_from_labels(os.path.join(root, "labels"))
    out = os.path.join(root, "data.upload.yaml")
    with open(out, "w", encoding="utf-8") as fh:
        yaml.safe_dump({"path": root, **splits, "names": names}, fh, sort_keys=False)
    return out


def _names_from_labels(folder: str) -> list[str]:
    top = -1
    for here, _, files in os.walk(folder):
        for f in files:
            if f.endswith(".txt"):
                with open(os.path.join(here, f), encoding="utf-8", errors="replace") as fh:
                    for line in fh:
                        head = line.split()[:1]
                        if head and head[0].isdigit():
                            top = max(top, int(head[0]))
    if top < 0:
        raise DataError("no labels found under labels/ (rows: class xc yc w h)")
    return default_names(top + 1)
