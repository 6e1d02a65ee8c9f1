"""Detection data for training and validation: YOLO label parsing, the `YoloDataset` (letterbox for
validation; mosaic / affine / HSV / flip for training) and the DataLoader. Dataset yaml loading is
in config.py.

Public API:
    YoloDataset(paths, names, imgsz=640, augment=False, mosaic=True, cache=False, seed=0, hyp=None)
        ds[i] -> (img float32 (3, S, S) in 0..1, labels float32 (n, 5) [cls, xc, yc, w, h] normalised
        to the S x S input, path, meta {"orig_shape": (h, w), "ratio", "pad": (left, top), "mosaic"});
        ratio / pad are the letterbox's (input = original * ratio + pad) and None for augmented samples.
        ds.set_epoch(e); ds.mosaic = False (close mosaic); ds.warnings; ds.skipped_images.
    collate(batch) -> (imgs (B, 3, S, S), targets (N, 6) [batch_idx, cls, xc, yc, w, h], paths, metas)
    build_dataloader(dataset, batch_size, shuffle, workers=0, sampler=None, seed=0)
    label_path(image_path), parse_labels(path, nc): where an image's labels live, and reading them.

Label problems never stop training: bad rows are skipped, images without a label file are background,
unreadable images are skipped and counted; each problem is one line in `dataset.warnings`, also
logged on the "yld.data" logger. Randomness: one numpy Generator per (seed, epoch, index), so a
sample depends on nothing else (not the worker count, not the order of reads). An unusable setting
(imgsz, seed, names, hyp) or a dataset with no readable image is a DataError.
"""
from __future__ import annotations

import logging
import math
import os
import random
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from ..images import FORMATS, ImageError, letterbox, read_image, resize_long
from . import augment as A
from .config import DataError

log = logging.getLogger("yld.data")
HYP = {"hsv_h": 0.015, "hsv_s": 0.7, "hsv_v": 0.4, "fliplr": 0.5, "scale": 0.5, "translate": 0.1,
       "mosaic": 1.0}  # mosaic: probability of a mosaic sample while mosaic is on
MAX_LOGGED = 50  # warnings logged one by one; the rest are summarised (all stay in ds.warnings)


# ---------------------------------------------------------------- labels
def label_path(image_path: str) -> str:
    """The last /images/ in the path becomes /labels/, the extension .txt."""
    sa, sb = f"{os.sep}images{os.sep}", f"{os.sep}labels{os.sep}"
    head, sep, tail = image_path.rpartition(sa)
    p = head + sb + tail if sep else image_path
    return os.path.splitext(p)[0] + ".txt"


def parse_labels(path: str, nc: int) -> tuple[np.ndarray | None, list[str]]:
    """(n, 5) float32 [cls, xc, yc, w, h] and warnings "file:line: problem; row skipped".
    Returns (None, []) when the file does not exist (a background image)."""
    try:
        with open(path, encoding="utf-8") as fh:
            lines = fh.read().splitlines()
    except FileNotFoundError:
        return None, []
    except (OSError, UnicodeDecodeError) as exc:
        return np.zeros((0, 5), np.float32), [f"{path}: cannot read the label file ({exc}); no boxes used"]
    rows, warns = [], []
    for n, line in enumerate(lines, 1):
        parts = line.split()
        if not parts:
            continue
        bad = None
        if len(parts) != 5:
            bad = f"expected 5 values (class xc yc w h), got {len(parts)}"
        else:
            try:
                v = [float(x) for x in parts]
            except ValueError:
                v, bad = None, f"not a number in {line.strip()!r}"
            if v is not None:
                c, xc, yc, w, h = v
                if not all(math.isfinite(x) for x in v):
                    bad = "non-finite value"
                elif c != int(c) or not 0 <= c < nc:
                    bad = f"class {parts[0]} out of range 0..{nc - 1}"
                elif not all(0 <= x <= 1 for x in (xc, yc, w, h)):
                    bad = f"coordinates outside 0..1 ({' '.join(parts[1:])})"
                elif w <= 0 or h <= 0:
                    bad = f"zero-size box (w {parts[3]}, h {parts[4]})"
                else:  # edges a hair outside the image (rounding) are clipped quietly
                    x0, x1 = max(xc - w / 2, 0.0), min(xc + w / 2, 1.0)
                    y0, y1 = max(yc - h / 2, 0.0), min(yc + h / 2, 1.0)
                    rows.append((c, (x0 + x1) / 2, (y0 + y1) / 2, x1 - x0, y1 - y0))
        if bad:
            warns.append(f"{path}:{n}: {bad}; row skipped")
    return np.array(rows, np.float32).reshape(-1, 5), warns


def _check_image(path: str) -> str | None:
    """None when the header reads as an image; else the problem (one line). Full decode comes later."""
    try:
        if os.path.getsize(path) == 0:
            return "empty file"
        with Image.open(path, formats=FORMATS) as im:
            w, h = im.size
        return None if w > 0 and h > 0 else "image has no pixels"
    except FileNotFoundError:
        return "file not found"
    except UnidentifiedImageError:
        return "not an image (or not a JPEG, PNG, BMP or WebP file)"
    except Exception as exc:  # PIL raises many kinds for junk input
        return " ".join(str(exc).split())[:160] or type(exc).__name__


# ---------------------------------------------------------------- dataset
class YoloDataset(torch.utils.data.Dataset):
    """Images + YOLO labels -> fixed-size training / validation samples (see the module docstring)."""

    def __init__(self, paths, names, imgsz: int = 640, augment: bool = False, mosaic: bool = True,
                 cache: bool = False, seed: int = 0, hyp: dict | None = None):
        if not isinstance(imgsz, int) or imgsz < 32 or imgsz % 32:
            raise DataError(f"imgsz must be a positive multiple of 32, got {imgsz!r}")
        if seed < 0:
            raise DataError(f"seed must be >= 0, got {seed}")
        self.names, self.nc = list(names), len(names)
        if not self.nc:
            raise DataError("no class names given")
        self.imgsz, self.augment, self.mosaic, self.seed, self.epoch = imgsz, augment, mosaic, seed, 0
        unknown = set(hyp or {}) - set(HYP)
        if unknown:
            raise DataError(f"unknown augmentation settings: {', '.join(sorted(unknown))}")
        self.hyp = {**HYP, **(hyp or {})}
        self.warnings: list[str] = []
        self.skipped_images = 0
        self.paths, self.labels, self.backgrounds = [], [], 0
        for p in map(str, paths):
            problem = _check_image(p)
            if problem:
                self._skip(p, problem)
                continue
            lab, warns = parse_labels(label_path(p), self.nc)
            self.warnings += warns
            if lab is None:
                self.backgrounds += 1
                lab = np.zeros((0, 5), np.float32)
            self.paths.append(p)
            self.labels.append(lab)
        if self.paths and self.backgrounds == len(self.paths):
            self.warnings.append(f"no label files found for any of the {len(self.paths)} images "
                                 f"(expected e.g. {label_path(self.paths[0])}); all are background")
        self._cache: list[tuple[np.ndarray, tuple[int, int]]] | None = None
        if cache and self.paths:
            self._fill_cache()
        for w in self.warnings[:MAX_LOGGED]:
            log.warning("%s", w)
        if len(self.warnings) > MAX_LOGGED:
            log.warning("... and %d more data warnings (see dataset.warnings)", len(self.warnings) - MAX_LOGGED)
        if not self.paths:
            raise DataError(f"no readable images ({self.skipped_images} skipped)")
        log.info("%d images, %d boxes, %d background, %d skipped", len(self.paths),
                 sum(len(x) for x in self.labels), self.backgrounds, self.skipped_images)

    def _skip(self, path: str, problem: str) -> None:
        self.skipped_images += 1
        self.warnings.append(f"{path}: unreadable image ({problem}); skipped")

    def _fill_cache(self) -> None:
        def load(p):
            try:
                img = read_image(p)
            except ImageError as exc:
                return None, str(exc)
            return (resize_long(img, self.imgsz), img.shape[:2]), None
        with ThreadPoolExecutor(max(1, min(8, os.cpu_count() or 1))) as pool:
            results = list(pool.map(load, self.paths))
        keep = [i for i, (r, _) in enumerate(results) if r is not None]
        for (r, problem), p in zip(results, self.paths):
            if r is None:
                self._skip(p, problem)
        self.paths = [self.paths[i] for i in keep]
        self.labels = [self.labels[i] for i in keep]
        self._cache = [results[i][0] for i in keep]
        log.info("cached %d images (%.0f MB)", len(self._cache), sum(im.nbytes for im, _ in self._cache) / 2 ** 20)

    def __len__(self) -> int:
        return len(self.paths)

    def set_epoch(self, epoch: int) -> None:
        """Next samples draw from the randomness of this epoch (call before iterating its loader)."""
        self.epoch = int(epoch)

    def rng(self, index: int) -> np.random.Generator:
        return np.random.default_rng([self.seed, self.epoch, index])

    def load(self, index: int) -> tuple[np.ndarray, tuple[int, int], int]:
        """(image resized so its long side is imgsz, original (h, w), the index actually used).
        An image that fails to decode here (truncated, say) is replaced by the next one."""
        n = len(self.paths)
        for k in range(n):
            i = (index + k) % n
            if self._cache is not None:
                img, shape = self._cache[i]
                return img, shape, i
            try:
                img = read_image(self.paths[i])
            except ImageError as exc:
                msg = f"{self.paths[i]}: unreadable image ({exc}); replaced by the next image"
                self.warnings.append(msg)
                log.warning("%s", msg)
                continue
            return resize_long(img, self.imgsz), img.shape[:2], i
        raise DataError("no image of the dataset could be decoded")

    def _boxes(self, index: int, img: np.ndarray, padx: float = 0.0, pady: float = 0.0) -> np.ndarray:
        return A.xywhn_to_xyxy(self.labels[index], img.shape[1], img.shape[0], padx, pady)

    def __getitem__(self, index: int):
        index = int(index)
        if not 0 <= index < len(self):
            raise IndexError(f"index {index} out of range for {len(self)} images")
        s, hyp = self.imgsz, self.hyp
        if not self.augment:
            img, shape, i = self.load(index)
            ratio = s / max(shape)
            out, _, (left, top) = letterbox(img, s)
            boxes = self._boxes(i, img, left, top)
            meta = {"orig_shape": tuple(shape), "ratio": ratio, "pad": (left, top), "mosaic": False}
        else:
            rng = self.rng(index)
            use_mosaic = bool(self.mosaic) and rng.random() < hyp["mosaic"]
            if use_mosaic:
                picks = [index] + [int(j) for j in rng.integers(0, len(self), 3)]
                items = []
                for j in picks:
                    img, shape, i = self.load(j)
                    items.append((img, self._boxes(i, img)))
                    if j == index:
                        shape0 = shape
                canvas, boxes, area0 = A.mosaic4(items, s, rng)
            else:
                img, shape0, i = self.load(index)
                canvas, _, (left, top) = letterbox(img, s)
                boxes = self._boxes(i, img, left, top)
                area0 = None
            out, boxes = A.random_affine(canvas, boxes, rng, s, hyp["scale"], hyp["translate"], area0)
            out = A.hsv_jitter(out, rng, hyp["hsv_h"], hyp["hsv_s"], hyp["hsv_v"])
            if rng.random() < hyp["fliplr"]:
                out, boxes = A.hflip(out, boxes)
            meta = {"orig_shape": tuple(shape0), "ratio": None, "pad": None, "mosaic": use_mosaic}
        labels = A.xyxy_to_xywhn(boxes, s, s)
        x = np.ascontiguousarray(out.transpose(2, 0, 1), dtype=np.float32)
        np.divide(x, 255, out=x)  # in numpy: torch's intra-op threads only cost time at this size
        return torch.from_numpy(x), torch.from_numpy(labels), self.paths[index], meta


# ---------------------------------------------------------------- loading
def collate(batch):
    """List of samples -> (imgs (B, 3, S, S), targets (N, 6) [batch_idx, cls, xc, yc, w, h], paths, metas)."""
    imgs, labels, paths, metas = zip(*batch)
    targets = [torch.cat((torch.full((len(lab), 1), float(b)), lab), 1) for b, lab in enumerate(labels)]
    return torch.stack(imgs), torch.cat(targets) if targets else torch.zeros((0, 6)), list(paths), list(metas)


class EpochShuffleSampler(torch.utils.data.Sampler):
    """A permutation drawn from (seed, dataset.epoch) at the start of each pass: the same order for the
    same epoch, whatever happened before (so a resumed run shuffles like an uninterrupted one)."""

    def __init__(self, dataset, seed: int = 0):
        self.dataset, self.seed = dataset, seed

    def __len__(self) -> int:
        return len(self.dataset)

    def __iter__(self):
        rng = np.random.default_rng([self.seed, int(getattr(self.dataset, "epoch", 0)), 0x5EED])
        return iter(rng.permutation(len(self.dataset)).tolist())


def _worker_init(worker_id: int) -> None:
    """Global RNGs per worker, fixed by the loader's generator (the dataset itself does not use them)."""
    np.random.seed(torch.initial_seed() % 2 ** 32)
    random.seed(torch.initial_seed() % 2 ** 32)


def build_dataloader(dataset, batch_size: int, shuffle: bool, workers: int = 0, sampler=None,
                     seed: int = 0) -> torch.utils.data.DataLoader:
    """A DataLoader using `collate`. Workers are started afresh for every pass (no persistent
    workers), so they see `set_epoch` / `mosaic` changes made on the dataset before the pass."""
    if sampler is None and shuffle:
        sampler = EpochShuffleSampler(dataset, seed)
    g = torch.Generator()
    g.manual_seed(seed)
    return torch.utils.data.DataLoader(
        dataset, batch_size=batch_size, shuffle=False, sampler=sampler, num_workers=workers,
        collate_fn=collate, worker_init_fn=_worker_init if workers > 0 else None, generator=g,
        persistent_workers=False, pin_memory=False, drop_last=False)
