"""The dataset layer (engine/data/: config.py, dataset.py, augment.py, synthetic.py): the built-in
shapes set (deterministic, hard enough, atomic), data.yaml variants and their errors, a corpus of bad
labels and images, letterbox and augmentations checked against the pixels, determinism, caching, the
loader."""
from __future__ import annotations

import logging
import os

import numpy as np
import pytest
import torch
from PIL import Image

from engine.data import synthetic
from engine.data.config import DataError, load_data_config
from engine.data.dataset import YoloDataset, build_dataloader, collate, label_path
from engine.deploy.predictor import letterbox as predict_letterbox

NO_HSV = {"hsv_h": 0.0, "hsv_s": 0.0, "hsv_v": 0.0}


def save_image(path, w, h, bg=(60, 60, 60), rects=()):
    """An image with solid rectangles [(x0, y0, x1, y1, colour)] (x1/y1 exclusive), as PNG."""
    a = np.zeros((h, w, 3), np.uint8)
    a[:] = bg
    for x0, y0, x1, y1, col in rects:
        a[y0:y1, x0:x1] = col
    os.makedirs(os.path.dirname(path), exist_ok=True)
    Image.fromarray(a).save(path)
    return str(path)


def save_labels(image_path, rows):
    p = label_path(str(image_path))
    os.makedirs(os.path.dirname(p), exist_ok=True)
    with open(p, "w") as fh:
        fh.write("".join(r + "\n" for r in rows))
    return p


def rect_row(cls, x0, y0, x1, y1, w, h):
    return f"{cls} {(x0 + x1) / 2 / w} {(y0 + y1) / 2 / h} {(x1 - x0) / w} {(y1 - y0) / h}"


def extent(img_t, colour, tol=60):
    """Pixel extent (x0, y0, x1, y1), x1/y1 exclusive, of pixels near `colour` in a (3, S, S) tensor."""
    a = (img_t.permute(1, 2, 0).numpy() * 255).astype(np.int32)
    near = np.abs(a - np.array(colour)).sum(-1) < tol
    ys, xs = np.nonzero(near)
    if not len(xs):
        return None
    return xs.min(), ys.min(), xs.max() + 1, ys.max() + 1


def label_px(row, s):
    _, xc, yc, w, h = row.tolist()
    return (xc - w / 2) * s, (yc - h / 2) * s, (xc + w / 2) * s, (yc + h / 2) * s


# ---------------------------------------------------------------- shapes
def read_tree(root):
    out = {}
    for d, _, files in os.walk(root):
        for f in files:
            if f != synthetic.MARKER:
                with open(os.path.join(d, f), "rb") as fh:
                    out[os.path.relpath(os.path.join(d, f), root)] = fh.read()
    return out


def test_shapes_deterministic_hard_and_atomic(tmp_path):
    a = synthetic.ensure_shapes(str(tmp_path / "a"), n_train=30, n_val=6, imgsz=256, seed=3)
    synthetic.ensure_shapes(str(tmp_path / "b"), n_train=30, n_val=6, imgsz=256, seed=3)
    ta, tb = read_tree(tmp_path / "a"), read_tree(tmp_path / "b")
    ta.pop("data.yaml"), tb.pop("data.yaml")  # it names its own folder
    assert len(ta) == 2 * 36 and ta == tb  # identical label files and image bytes
    cfg = load_data_config(a)
    assert cfg["names"] == synthetic.NAMES and cfg["nc"] >= 3
    assert len(cfg["train"]) == 30 and len(cfg["val"]) == 6
    per_image, classes, sides = [], set(), []
    for p in cfg["train"] + cfg["val"]:
        rows = np.loadtxt(label_path(p), ndmin=2)
        per_image.append(len(rows))
        classes |= set(rows[:, 0].astype(int).tolist())
        sides += rows[:, 3:5].ravel().tolist()
    assert min(per_image) >= 1 and max(per_image) >= 4
    assert classes == set(range(len(synthetic.NAMES)))
    assert 0.1 <= min(sides) and max(sides) <= 0.35
    # another seed gives other images; a second call is a no-op; a stale marker regenerates
    c = synthetic.ensure_shapes(str(tmp_path / "c"), n_train=30, n_val=6, imgsz=256, seed=4)
    assert read_tree(tmp_path / "c")["labels/train/train_00000.txt"] != ta["labels/train/train_00000.txt"]
    marker = tmp_path / "a" / synthetic.MARKER
    mtime = marker.stat().st_mtime_ns
    assert synthetic.ensure_shapes(str(tmp_path / "a"), n_train=30, n_val=6, imgsz=256, seed=3) == a
    assert marker.stat().st_mtime_ns == mtime
    marker.write_text('{"generator": "older"}')
    (tmp_path / "a" / "labels" / "train" / "train_00000.txt").write_text("garbage\n")
    synthetic.ensure_shapes(str(tmp_path / "a"), n_train=30, n_val=6, imgsz=256, seed=3)
    assert read_tree(tmp_path / "a")["labels/train/train_00000.txt"] == ta["labels/train/train_00000.txt"]
    assert sorted(os.listdir(tmp_path)) == ["a", "b", "c"]  # no temporary or old folders left
    assert c != a


def test_shapes_default_location_and_full_size(tmp_path, monkeypatch):
    monkeypatch.setenv("YLD_CACHE", str(tmp_path))
    assert synthetic.default_root() == str(tmp_path / "shapes-v1")
    cfg = load_data_config("shapes")  # the full built-in set, generated on first use
    assert cfg["root"] == str(tmp_path / "shapes-v1")
    assert len(cfg["train"]) == 400 and len(cfg["val"]) == 100 and cfg["nc"] == 4
    ds = YoloDataset(cfg["val"], cfg["names"], imgsz=256)
    assert ds.warnings == [] and ds.skipped_images == 0 and ds.backgrounds == 0


# ---------------------------------------------------------------- data.yaml
@pytest.fixture
def tiny(tmp_path):
    """root/images/{train,val,extra} with one box each, plus list files."""
    root = tmp_path / "ds"
    for split, n in (("train", 3), ("val", 2), ("extra", 1)):
        for i in range(n):
            p = save_image(root / "images" / split / f"{split}{i}.png", 64, 48, rects=[(8, 8, 24, 24, (255, 0, 0))])
            save_labels(p, [rect_row(i % 2, 8, 8, 24, 24, 64, 48)])
    (root / "train.txt").write_text("./images/train/train0.png\nimages/train/train1.png\n\n"
                                    f"{root / 'images' / 'train' / 'train2.png'}\n")
    (root / "lists").mkdir()
    (root / "lists" / "val.txt").write_text("../images/val/val0.png\nimages/val/val1.png\n")
    return root


def write_yaml(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return str(path)


@pytest.mark.parametrize("text", [
    "path: {root}\ntrain: images/train\nval: images/val\nnames: [a, b]\n",
    "path: ..\ntrain: train.txt\nval: lists/val.txt\nnames: {{0: a, 1: b}}\n",  # yaml in cfg/, path relative
    "path: {root}\ntrain: [images/train, images/extra]\nval: [lists/val.txt]\nnames: {{'0': a, '1': b}}\nnc: 2\n",
])
def test_data_yaml_variants(tiny, text):
    y = write_yaml(tiny / "cfg" / "data.yaml", text.format(root=tiny))
    cfg = load_data_config(y)
    assert cfg["names"] == ["a", "b"] and cfg["nc"] == 2 and cfg["root"] == str(tiny)
    names = sorted(os.path.basename(p) for p in cfg["train"])
    assert names == (["extra0.png"] if "extra" in text else []) + ["train0.png", "train1.png", "train2.png"]
    assert sorted(os.path.basename(p) for p in cfg["val"]) == ["val0.png", "val1.png"]
    assert all(os.path.isfile(p) for p in cfg["train"] + cfg["val"])


def test_data_yaml_without_path_uses_its_folder(tiny):
    cfg = load_data_config(write_yaml(tiny / "d.yaml", "train: images/train\nval: images/val\nnames: [a, b]\n"))
    assert len(cfg["train"]) == 3 and cfg["root"] == str(tiny)


@pytest.mark.parametrize("text, message", [
    (None, "not found"),
    ("train: images/train\nval: images/val\n", "'names' is missing"),
    ("train: images/train\nval: images/val\nnames: {0: a, 2: b}\n", "no gaps"),
    ("train: images/train\nval: images/val\nnames: [a]\nnc: 2\n", "nc is 2"),
    ("val: images/val\nnames: [a]\n", "'train' is missing"),
    ("train: images/nope\nval: images/val\nnames: [a]\n", "path not found"),
    ("train: lists\nval: images/val\nnames: [a]\n", "no images found"),
    ("path: elsewhere\ntrain: a\nval: b\nnames: [a]\n", "'path' folder not found"),
    ("- just\n- a list\n", "expected a mapping"),
    ("train: [unclosed\n", "not valid yaml"),
])
def test_data_yaml_errors(tiny, text, message):
    y = tiny / "bad.yaml"
    if text is not None:
        y.write_text(text)
    with pytest.raises(DataError, match=message) as exc:
        load_data_config(str(y))
    assert "\n" not in str(exc.value)


# ---------------------------------------------------------------- bad labels / images
def test_bad_label_corpus(tmp_path, caplog):
    d = tmp_path / "images"
    good = save_image(d / "good.png", 40, 40)
    save_labels(good, ["0 0.5 0.5 0.2 0.2", "", "   ", "1 0.25 0.25 0.1 0.1"])
    bad = save_image(d / "bad.png", 40, 40)
    save_labels(bad, ["1 0.5 0.5 0.4 0.4",           # 1 ok
                      "0 0.5 0.5 0.2",               # 2 four columns
                      "2 0.5 0.5 0.1 0.1",           # 3 class out of range (nc 2)
                      "0 1.2 0.5 0.1 0.1",           # 4 coordinate > 1
                      "0 abc 0.5 0.1 0.1",           # 5 not a number
                      "0 0.5 0.5 0 0.1",             # 6 zero size
                      "-1 0.5 0.5 0.1 0.1",          # 7 negative class
                      "0.5 0.5 0.5 0.1 0.1",         # 8 fractional class
                      "0 0.5 0.5 0.1 0.1 7",         # 9 six columns
                      "0 0.95 0.5 0.2 0.2"])         # 10 ok, edge clipped to the image
    background = save_image(d / "nolabel.png", 40, 40)
    junk = d / "junk.png"
    junk.write_bytes(b"this is not an image")
    empty = d / "empty.jpg"
    empty.write_bytes(b"")
    with caplog.at_level(logging.WARNING, logger="yld.data"):
        ds = YoloDataset([good, bad, background, str(junk), str(empty), str(d / "missing.png")],
                         ["a", "b"], imgsz=64)
    assert ds.skipped_images == 3 and len(ds) == 3 and ds.backgrounds == 1
    lab = label_path(bad)
    expect = {2: "expected 5 values", 3: "class 2 out of range", 4: "outside 0..1", 5: "not a number",
              6: "zero-size", 7: "class -1 out of range", 8: "class 0.5 out of range", 9: "got 6"}
    row_warnings = [w for w in ds.warnings if w.startswith(lab + ":")]
    assert len(row_warnings) == len(expect)
    for w, (line, text) in zip(row_warnings, expect.items()):
        assert w.startswith(f"{lab}:{line}: ") and text in w, w
    for name in ("junk.png", "empty.jpg", "missing.png"):
        assert sum(name in w and "skipped" in w for w in ds.warnings) == 1
    assert len(ds.warnings) == len(expect) + 3  # nothing about the good file or the background
    logged = [r.getMessage() for r in caplog.records if r.name == "yld.data"]
    assert all(w in logged for w in ds.warnings)
    # the right boxes
    np.testing.assert_allclose(ds[0][1].numpy(), [[0, 0.5, 0.5, 0.2, 0.2], [1, 0.25, 0.25, 0.1, 0.1]], atol=1e-6)
    np.testing.assert_allclose(ds[1][1].numpy(), [[1, 0.5, 0.5, 0.4, 0.4], [0, 0.925, 0.5, 0.15, 0.2]], atol=1e-6)
    assert ds[2][1].shape == (0, 5)
    with pytest.raises(DataError, match="no readable images"):
        YoloDataset([str(junk)], ["a"], imgsz=64)


def test_truncated_image_is_replaced_and_not_cached(tmp_path):
    ok = save_image(tmp_path / "images" / "ok.png", 50, 50, rects=[(10, 10, 20, 20, (255, 0, 0))])
    save_labels(ok, [rect_row(0, 10, 10, 20, 20, 50, 50)])
    raw = (tmp_path / "images" / "ok.png").read_bytes()
    trunc = tmp_path / "images" / "trunc.png"
    trunc.write_bytes(raw[: len(raw) // 2])  # a valid header, half the data
    ds = YoloDataset([str(trunc), ok], ["a"], imgsz=64)
    assert len(ds) == 2
    img, labels, path, _ = ds[0]  # decoding fails now: the next image stands in
    assert labels.shape == (1, 5) and any("trunc.png" in w and "replaced" in w for w in ds.warnings)
    cached = YoloDataset([str(trunc), ok], ["a"], imgsz=64, cache=True)  # cache decodes everything
    assert len(cached) == 1 and cached.skipped_images == 1


# ---------------------------------------------------------------- geometry against the pixels
def test_letterbox_labels_match_pixels(tmp_path):
    p = save_image(tmp_path / "images" / "wide.png", 200, 100, rects=[(40, 20, 80, 60, (255, 0, 0))])
    save_labels(p, [rect_row(0, 40, 20, 80, 60, 200, 100)])
    img, labels, path, meta = YoloDataset([p], ["r"], imgsz=128)[0]
    assert img.shape == (3, 128, 128) and img.dtype == torch.float32 and path == p
    assert meta["orig_shape"] == (100, 200) and meta["ratio"] == pytest.approx(0.64) and meta["pad"] == (0, 32)
    ref, ratio, pad = predict_letterbox(np.asarray(Image.open(p).convert("RGB")), 128)
    assert np.array_equal((img.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8), ref)
    assert ratio == meta["ratio"] and pad == meta["pad"]
    box, pix = label_px(labels[0], 128), extent(img, (255, 0, 0))
    np.testing.assert_allclose(box, pix, atol=1.0)
    np.testing.assert_allclose(box, (40 * 0.64, 20 * 0.64 + 32, 80 * 0.64, 60 * 0.64 + 32), atol=1e-4)


def test_affine_and_flip_keep_boxes_on_the_square(tmp_path):
    p = save_image(tmp_path / "images" / "sq.png", 160, 120, rects=[(30, 20, 70, 60, (255, 0, 0))])
    save_labels(p, [rect_row(0, 30, 20, 70, 60, 160, 120)])
    widths = set()
    for fl in (0.0, 1.0, 0.5):
        ds = YoloDataset([p], ["r"], imgsz=128, augment=True, mosaic=False, hyp={**NO_HSV, "fliplr": fl})
        for epoch in range(8):
            ds.set_epoch(epoch)
            img, labels, _, meta = ds[0]
            pix = extent(img, (255, 0, 0))
            assert (pix is None) == (len(labels) == 0) and meta["ratio"] is None
            if pix is not None:
                np.testing.assert_allclose(label_px(labels[0], 128), pix, atol=2.5)
                widths.add(round(float(labels[0, 3]), 3))
    assert len(widths) > 4  # the scale really varies
    # a flip mirrors exactly what the same draw gives unflipped
    plain = YoloDataset([p], ["r"], imgsz=128, augment=True, mosaic=False, hyp={**NO_HSV, "fliplr": 0.0})[0]
    flip = YoloDataset([p], ["r"], imgsz=128, augment=True, mosaic=False, hyp={**NO_HSV, "fliplr": 1.0})[0]
    assert torch.equal(flip[0], plain[0].flip(-1))
    np.testing.assert_allclose(flip[1][:, 1].numpy(), 1 - plain[1][:, 1].numpy(), atol=1e-6)
    # HSV changes pixels, not boxes
    hsv = YoloDataset([p], ["r"], imgsz=128, augment=True, mosaic=False, hyp={"fliplr": 0.0})[0]
    assert torch.equal(hsv[1], plain[1]) and not torch.equal(hsv[0], plain[0])


def components(mask):
    """Connected components (4-neighbour) of a boolean mask: a list of (x0, y0, x1, y1, area)."""
    h, w = mask.shape
    lab = np.where(mask, np.arange(h * w).reshape(h, w), h * w)
    while True:  # propagate the smallest id through each component
        new = lab.copy()
        new[1:] = np.minimum(new[1:], np.where(mask[1:], lab[:-1], h * w))
        new[:-1] = np.minimum(new[:-1], np.where(mask[:-1], lab[1:], h * w))
        new[:, 1:] = np.minimum(new[:, 1:], np.where(mask[:, 1:], lab[:, :-1], h * w))
        new[:, :-1] = np.minimum(new[:, :-1], np.where(mask[:, :-1], lab[:, 1:], h * w))
        new = np.where(mask, new, h * w)
        if np.array_equal(new, lab):
            break
        lab = new
    out = []
    for k in np.unique(lab[mask]):
        ys, xs = np.nonzero(lab == k)
        out.append((xs.min(), ys.min(), xs.max() + 1, ys.max() + 1, len(xs)))
    return out


def test_mosaic_boxes_match_their_squares(tmp_path):
    colours = [(255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 0)]
    paths = []
    for k, col in enumerate(colours):
        w, h = (120, 90) if k % 2 else (90, 120)
        p = save_image(tmp_path / "images" / f"m{k}.png", w, h, rects=[(20, 25, 60, 70, col)])
        save_labels(p, [rect_row(k, 20, 25, 60, 70, w, h)])
        paths.append(p)
    ds = YoloDataset(paths, ["r", "g", "b", "y"], imgsz=128, augment=True, hyp={**NO_HSV, "fliplr": 0.5})
    # a square piece may go unlabelled only when it is a sliver: < 2 px thin (+1 for blending), or
    # < 10% of the square's area at the largest scale (40 x 45 px * (128 / 120) ** 2 * 1.5 ** 2)
    sliver_area = 0.1 * 40 * 45 * (128 / 120) ** 2 * 1.5 ** 2
    checked = nonempty = 0
    for epoch in range(3):
        ds.set_epoch(epoch)
        for i in range(4):
            img, labels, _, meta = ds[i]
            assert meta["mosaic"] and img.shape == (3, 128, 128)
            nonempty += len(labels) > 0  # an empty one must show no square either (checked below)
            xy, half = labels[:, 1:3].numpy(), labels[:, 3:5].numpy() / 2
            assert ((xy - half) >= -1e-6).all() and ((xy + half) <= 1 + 1e-6).all() and (half > 0).all()
            a = (img.permute(1, 2, 0).numpy() * 255).astype(np.int32)
            for c, col in enumerate(colours):
                near = np.abs(a - np.array(col)).sum(-1) < 60
                boxes = [label_px(row, 128) for row in labels[labels[:, 0] == c]]
                for x0, y0, x1, y1 in boxes:  # each box is tight around its colour
                    sub = np.zeros_like(near)
                    ys, xs = slice(max(0, int(y0) - 3), int(y1) + 4), slice(max(0, int(x0) - 3), int(x1) + 4)
                    sub[ys, xs] = near[ys, xs]
                    ys, xs = np.nonzero(sub)
                    np.testing.assert_allclose((x0, y0, x1, y1), (xs.min(), ys.min(), xs.max() + 1, ys.max() + 1),
                                               atol=2.5)
                    checked += 1
                for cx0, cy0, cx1, cy1, area in components(near):  # every piece is labelled or a sliver
                    inside = any(cx0 >= x0 - 2.5 and cy0 >= y0 - 2.5 and cx1 <= x1 + 2.5 and cy1 <= y1 + 2.5
                                 for x0, y0, x1, y1 in boxes)
                    assert inside or min(cx1 - cx0, cy1 - cy0) <= 3 or area < sliver_area
    assert checked >= 12 and nonempty >= 10
    ds.mosaic = False  # close_mosaic
    assert not any(ds[i][3]["mosaic"] for i in range(4))


# ---------------------------------------------------------------- determinism, cache, loader
@pytest.fixture
def small_set(tmp_path):
    rng = np.random.default_rng(0)
    paths = []
    for i in range(7):
        w, h = int(rng.integers(60, 140)), int(rng.integers(60, 140))
        x0, y0 = int(rng.integers(0, w - 30)), int(rng.integers(0, h - 30))
        p = save_image(tmp_path / "images" / f"s{i}.jpg", w, h, bg=tuple(int(v) for v in rng.integers(0, 255, 3)),
                       rects=[(x0, y0, x0 + 25, y0 + 20, (250, 250, 250))])
        if i != 4:  # one background
            save_labels(p, [rect_row(i % 3, x0, y0, x0 + 25, y0 + 20, w, h)])
        paths.append(p)
    return paths


def test_determinism(small_set):
    a = YoloDataset(small_set, ["a", "b", "c"], imgsz=96, augment=True, seed=5)
    b = YoloDataset(small_set, ["a", "b", "c"], imgsz=96, augment=True, seed=5)
    for i in range(len(a)):
        x, y = a[i], b[i]
        assert torch.equal(x[0], y[0]) and torch.equal(x[1], y[1])
    assert torch.equal(a[2][0], a[2][0])
    assert not torch.equal(a[2][0], a[3][0])
    b.set_epoch(1)
    assert not torch.equal(a[2][0], b[2][0])
    c = YoloDataset(small_set, ["a", "b", "c"], imgsz=96, augment=True, seed=6)
    assert not torch.equal(a[2][0], c[2][0])
    v = YoloDataset(small_set, ["a", "b", "c"], imgsz=96)
    v2 = YoloDataset(small_set, ["a", "b", "c"], imgsz=96)
    v2.set_epoch(9)
    assert torch.equal(v[1][0], v2[1][0])  # validation never augments


def test_cache_gives_the_same_samples(small_set):
    for augment in (False, True):
        plain = YoloDataset(small_set, ["a", "b", "c"], imgsz=96, augment=augment, seed=1)
        cached = YoloDataset(small_set, ["a", "b", "c"], imgsz=96, augment=augment, seed=1, cache=True)
        assert cached._cache is not None and len(cached._cache) == len(plain)
        for i in range(len(plain)):
            x, y = plain[i], cached[i]
            assert torch.equal(x[0], y[0]) and torch.equal(x[1], y[1]) and x[3] == y[3]


def test_dataloader_collates(small_set):
    ds = YoloDataset(small_set, ["a", "b", "c"], imgsz=96)
    batches = list(build_dataloader(ds, batch_size=3, shuffle=False))
    assert [len(b[2]) for b in batches] == [3, 3, 1]
    imgs, targets, paths, metas = batches[0]
    assert imgs.shape == (3, 3, 96, 96) and targets.shape == (3, 6) and paths == small_set[:3]
    for b in range(3):
        assert torch.equal(targets[targets[:, 0] == b, 1:], ds[b][1])
    assert batches[1][1][:, 0].tolist() == [0, 2]  # s4 (index 1 of the batch) is background
    assert metas[0]["orig_shape"] == ds[0][3]["orig_shape"]
    imgs, targets, _, _ = collate([ds[4], ds[4]])
    assert targets.shape == (0, 6) and imgs.shape[0] == 2


def test_dataloader_shuffle_and_workers_are_deterministic(small_set):
    ds = YoloDataset(small_set, ["a", "b", "c"], imgsz=64, augment=True, seed=2)

    def run(workers, epoch):
        ds.set_epoch(epoch)
        return list(build_dataloader(ds, batch_size=2, shuffle=True, workers=workers, seed=2))

    e0, again, e1, with_workers = run(0, 0), run(0, 0), run(0, 1), run(2, 0)
    assert [b[2] for b in e0] == [b[2] for b in again] != [b[2] for b in e1]
    assert sorted(p for b in e0 for p in b[2]) == sorted(small_set)
    for x, y in zip(e0, with_workers):
        assert x[2] == y[2] and torch.equal(x[0], y[0]) and torch.equal(x[1], y[1])
