"""The built-in `shapes` dataset: `ensure_shapes(root=None, ...) -> path of its data.yaml`.

Generated deterministically (numpy Generator seeded per (seed, split, image)) on first use, in YOLO
layout so any YOLO tool can train on the same files:
    <root>/images/{train,val}/*.jpg, <root>/labels/{train,val}/*.txt, <root>/data.yaml, GENERATED.json
Default root: $YLD_CACHE/shapes-v1, else ~/.cache/yolo-lite-designer/shapes-v1 (a suffix is added
when the sizes / seed differ from the defaults, so variants never overwrite each other).

Difficulty: 4 classes (circle, square, triangle, cross), 1-5 objects per image, each box side
0.1-0.34 of the image with aspect 0.8-1.25, random colours (kept distinct from the background under
them), sometimes an outline in a second colour, overlaps allowed but each object keeps at least half
of its pixels visible (its label is the full box), backgrounds are random gradients plus stripes or
blotches plus unlabelled distractor lines, and pixel noise over everything. JPEG quality 90.

Writing is atomic: everything goes into a temporary sibling folder, GENERATED.json (generator version
+ parameters) is written last, and the folder is renamed into place; a crash leaves no half dataset
and a concurrent first use finds either nothing or the whole thing. A different GENERATED.json (a
changed generator or parameters) means the folder is regenerated.
"""
from __future__ import annotations

import functools
import json
import os
import shutil
import tempfile
import uuid

import numpy as np
from PIL import Image, ImageDraw

GENERATOR_VERSION = "shapes-1.0"  # bump whenever the images or labels would change
NAMES = ["circle", "square", "triangle", "cross"]
MARKER = "GENERATED.json"
DEFAULTS = {"n_train": 400, "n_val": 100, "imgsz": 256, "seed": 0}
SIZE_RANGE = (0.10, 0.34)  # box side as a fraction of the image side
MAX_OBJECTS = 5
MIN_VISIBLE = 0.5  # fraction of an object's own pixels that must stay visible under later ones


def default_root(n_train=400, n_val=100, imgsz=256, seed=0) -> str:
    base = os.environ.get("YLD_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "yolo-lite-designer")
    name = "shapes-v1"
    if (n_train, n_val, imgsz, seed) != tuple(DEFAULTS.values()):
        name += f"-{n_train}-{n_val}-{imgsz}-s{seed}"
    return os.path.join(base, name)


# ---------------------------------------------------------------- drawing
@functools.lru_cache(maxsize=4)
def _grid(s: int) -> tuple[np.ndarray, np.ndarray]:
    yy, xx = np.mgrid[0:s, 0:s].astype(np.float32)
    return yy, xx


@functools.lru_cache(maxsize=1)
def _noise_bank() -> np.ndarray:
    """Unit Gaussian noise drawn once (fixed seed); images take random windows of it (fast)."""
    return np.random.default_rng(20240531).standard_normal((640, 640, 3), dtype=np.float32)


def _noise(rng: np.random.Generator, shape, sigma: float) -> np.ndarray:
    bank, (h, w) = _noise_bank(), shape[:2]
    y, x = int(rng.integers(0, bank.shape[0] - h + 1)), int(rng.integers(0, bank.shape[1] - w + 1))
    win = bank[y:y + h, x:x + w]
    if rng.random() < 0.5:
        win = win[::-1]
    if rng.random() < 0.5 and h == w:
        win = win.transpose(1, 0, 2)
    return win * np.float32(sigma)


def _background(rng: np.random.Generator, s: int) -> np.ndarray:
    yy, xx = _grid(s)
    ang = rng.uniform(0, 2 * np.pi)
    t = np.cos(ang) * xx + np.sin(ang) * yy
    t = (t - t.min()) / max(float(t.max() - t.min()), 1e-6)
    c0, c1 = rng.uniform(0, 255, 3).astype(np.float32), rng.uniform(0, 255, 3).astype(np.float32)
    img = c0 + (c1 - c0) * t[..., None]
    kind = int(rng.integers(3))
    if kind == 0:  # stripes at a random angle, period and colour direction
        a2, period = rng.uniform(0, np.pi), rng.uniform(6, 40)
        wave = np.sin(2 * np.pi * (np.cos(a2) * xx + np.sin(a2) * yy) / period + rng.uniform(0, 2 * np.pi))
        img += wave[..., None] * rng.uniform(-60, 60, 3).astype(np.float32)
    elif kind == 1:  # smooth blotches: a coarse random grid upsampled
        n = int(rng.integers(3, 10))
        grid = rng.uniform(-70, 70, (n, n, 3)).astype(np.float32)
        up = np.stack([np.asarray(Image.fromarray(grid[..., c], "F").resize((s, s), Image.BICUBIC))
                       for c in range(3)], axis=-1)
        img += up
    else:  # fine texture
        img += _noise(rng, (s, s, 3), 25)
    return np.clip(img, 0, 255)


def _distractors(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Unlabelled thin lines and arcs, so 'anything with an edge' is not an object."""
    s = img.shape[0]
    pil = Image.fromarray(img.astype(np.uint8))
    d = ImageDraw.Draw(pil)
    for _ in range(int(rng.integers(0, 4))):
        col = tuple(int(c) for c in rng.integers(0, 256, 3))
        p = [float(v) for v in rng.uniform(0, s, 4)]
        if rng.random() < 0.5:
            d.line(p, fill=col, width=int(rng.integers(1, 4)))
        else:
            d.arc([min(p[0], p[2]), min(p[1], p[3]), max(p[0], p[2]) + 2, max(p[1], p[3]) + 2],
                  float(rng.uniform(0, 360)), float(rng.uniform(0, 360)), fill=col, width=int(rng.integers(1, 4)))
    return np.asarray(pil).astype(np.float32)


def _shape_mask(cls: int, box: tuple[int, int, int, int], s: int, outline: int) -> np.ndarray:
    """uint8 (s, s) mask: 0 outside, 1 fill, 2 outline. box = pixel columns x0..x1-1, rows y0..y1-1."""
    x0, y0, x1, y1 = box
    r, b = x1 - 1, y1 - 1
    m = Image.new("L", (s, s), 0)
    d = ImageDraw.Draw(m)
    kw = {"fill": 1, "outline": 2 if outline else None, "width": outline or 1}
    if cls == 0:
        d.ellipse([x0, y0, r, b], **kw)
    elif cls == 1:
        d.rectangle([x0, y0, r, b], **kw)
    elif cls == 2:
        d.polygon([(x0, b), (r, b), ((x0 + r) / 2, y0)], **kw)
    else:  # a plus sign, arms a third of the box thick
        tw, th = max(2, (x1 - x0) // 3), max(2, (y1 - y0) // 3)
        cx0, cy0 = x0 + (x1 - x0 - tw) // 2, y0 + (y1 - y0 - th) // 2
        d.rectangle([cx0, y0, cx0 + tw - 1, b], fill=1)
        d.rectangle([x0, cy0, r, cy0 + th - 1], fill=1)
    return np.asarray(m)


def _colour_far_from(rng: np.random.Generator, ref: np.ndarray) -> np.ndarray:
    for _ in range(20):
        c = rng.uniform(0, 255, 3)
        if np.linalg.norm(c - ref) > 90:
            return c
    return 255 - ref  # the opposite colour always contrasts


def generate_image(rng: np.random.Generator, s: int) -> tuple[np.ndarray, list[tuple[int, int, int, int, int]]]:
    """One image: ((s, s, 3) uint8, [(cls, x0, y0, x1, y1) pixel boxes, x1/y1 exclusive])."""
    img = _distractors(_background(rng, s), rng)
    owner = np.full((s, s), -1, dtype=np.int16)  # which object each pixel shows
    areas: list[int] = []
    objects: list[tuple[int, int, int, int, int]] = []
    lo, hi = SIZE_RANGE
    for _ in range(int(rng.integers(1, MAX_OBJECTS + 1))):
        cls = int(rng.integers(len(NAMES)))
        outline = int(rng.integers(2, 5)) if rng.random() < 0.3 else 0
        for _try in range(15):
            side, aspect = rng.uniform(lo, hi - 0.02) * s, rng.uniform(0.8, 1.25)
            w = int(np.clip(round(side * np.sqrt(aspect)), np.ceil(lo * s), hi * s))
            h = int(np.clip(round(side / np.sqrt(aspect)), np.ceil(lo * s), hi * s))
            x0, y0 = int(rng.integers(0, s - w + 1)), int(rng.integers(0, s - h + 1))
            mask = _shape_mask(cls, (x0, y0, x0 + w, y0 + h), s, outline)
            inside = mask > 0
            new_owner = owner.copy()
            new_owner[inside] = len(objects)
            if all((new_owner == j).sum() >= MIN_VISIBLE * a for j, a in enumerate(areas)):
                break
        else:
            continue  # no placement leaves the others visible: one object fewer
        fill = _colour_far_from(rng, img[y0:y0 + h, x0:x0 + w].reshape(-1, 3).mean(0))
        edge = _colour_far_from(rng, fill)
        img[mask == 1] = fill
        img[mask == 2] = edge
        owner = new_owner
        areas.append(int(inside.sum()))
        objects.append((cls, x0, y0, x0 + w, y0 + h))
    img += _noise(rng, img.shape, rng.uniform(2, 12))
    return np.clip(img + 0.5, 0, 255).astype(np.uint8), objects


# ---------------------------------------------------------------- writing
def _marker(root: str, n_train: int, n_val: int, imgsz: int, seed: int) -> dict:
    return {"generator": GENERATOR_VERSION, "n_train": n_train, "n_val": n_val, "imgsz": imgsz,
            "seed": seed, "names": NAMES, "root": root}


def _complete(root: str, marker: dict) -> bool:
    try:
        with open(os.path.join(root, MARKER), encoding="utf-8") as fh:
            return json.load(fh) == marker and os.path.isfile(os.path.join(root, "data.yaml"))
    except (OSError, ValueError):
        return False


def _write(folder: str, root: str, n_train: int, n_val: int, imgsz: int, seed: int) -> None:
    for split, split_id, n in (("train", 0, n_train), ("val", 1, n_val)):
        idir, ldir = os.path.join(folder, "images", split), os.path.join(folder, "labels", split)
        os.makedirs(idir)
        os.makedirs(ldir)
        for i in range(n):
            rng = np.random.default_rng([seed, split_id, i])
            img, objects = generate_image(rng, imgsz)
            stem = f"{split}_{i:05d}"
            Image.fromarray(img).save(os.path.join(idir, stem + ".jpg"), quality=90)
            rows = [f"{c} {(x0 + x1) / 2 / imgsz:.6f} {(y0 + y1) / 2 / imgsz:.6f} "
                    f"{(x1 - x0) / imgsz:.6f} {(y1 - y0) / imgsz:.6f}" for c, x0, y0, x1, y1 in objects]
            with open(os.path.join(ldir, stem + ".txt"), "w", encoding="utf-8") as fh:
                fh.write("".join(r + "\n" for r in rows))
    names = "\n".join(f"  - {n}" for n in NAMES)
    with open(os.path.join(folder, "data.yaml"), "w", encoding="utf-8") as fh:
        fh.write(f"# built-in 'shapes' dataset, generated by YOLO Lite Designer ({GENERATOR_VERSION})\n"
                 f"path: {json.dumps(root)}\ntrain: images/train\nval: images/val\n"
                 f"nc: {len(NAMES)}\nnames:\n{names}\n")
    with open(os.path.join(folder, MARKER), "w", encoding="utf-8") as fh:  # last: marks it complete
        json.dump(_marker(root, n_train, n_val, imgsz, seed), fh)


def ensure_shapes(root: str | None = None, n_train: int = 400, n_val: int = 100, imgsz: int = 256,
                  seed: int = 0) -> str:
    """Generate the dataset into `root` unless an identical one is already there; the data.yaml path."""
    if n_train < 1 or n_val < 1 or not 32 <= imgsz <= 640 or seed < 0:
        raise ValueError("shapes: n_train, n_val >= 1, imgsz in 32..640 and seed >= 0 are required")
    root = os.path.abspath(os.path.expanduser(root or default_root(n_train, n_val, imgsz, seed)))
    marker = _marker(root, n_train, n_val, imgsz, seed)
    yaml_path = os.path.join(root, "data.yaml")
    if _complete(root, marker):
        return yaml_path
    parent = os.path.dirname(root)
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=f".{os.path.basename(root)}.tmp-", dir=parent)
    try:
        _write(tmp, root, n_train, n_val, imgsz, seed)
        for _attempt in range(3):
            try:
                os.rename(tmp, root)  # fails if root exists and is not empty
                return yaml_path
            except OSError:
                if _complete(root, marker):  # a concurrent first use finished first
                    return yaml_path
                if os.path.isdir(root):  # stale (other generator / parameters, or half-made by hand)
                    old = f"{root}.old-{uuid.uuid4().hex[:8]}"
                    try:
                        os.rename(root, old)
                    except OSError:
                        continue
                    shutil.rmtree(old, ignore_errors=True)
                elif os.path.exists(root):
                    raise ValueError(f"shapes: {root} exists and is not a folder") from None
        raise OSError(f"shapes: could not move the generated dataset into {root}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
