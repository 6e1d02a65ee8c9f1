"""Inference (engine/deploy/predictor.py) and safe image reading (engine/images.py): NMS against a
brute-force reference, letterbox round trips, decoding hand-made outputs of both head layouts, the
Predictor end to end over torch and ONNX, and a corpus of bad image files. Images are generated here
with PIL."""
from __future__ import annotations

import io
import resource
import struct
import warnings
import zlib

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw, ImageFile

from engine.deploy.predictor import (MAX_CANDIDATES, Predictor, batched_nms, decode, draw, letterbox, nms,
                                     scale_boxes, to_tensor)
from engine.images import ImageError, read_image
from graph.model import build
from graph.resolve import resolve
from graph.spec import parse_file
from graph.templates import preset_path


# ---------------------------------------------------------------- NMS
def ref_nms(boxes, scores, thr, classes=None):
    """O(n^2) greedy reference in plain python."""
    def iou(a, b):
        iw = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
        ih = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
        inter = iw * ih
        union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
        return inter / union if union > 0 else 0.0
    b, s = boxes.tolist(), scores.tolist()
    c = classes.tolist() if classes is not None else [0] * len(s)
    keep = []
    for i in sorted(range(len(s)), key=lambda k: -s[k]):
        if all(c[i] != c[k] or iou(b[i], b[k]) <= thr for k in keep):
            keep.append(i)
    return keep


def random_boxes(seed, n=150, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    xy = torch.rand(n, 2, generator=g, dtype=dtype) * 200
    wh = torch.rand(n, 2, generator=g, dtype=dtype) * 60 + 2
    boxes = torch.cat((xy, xy + wh), 1)
    # a third are jittered copies of others, so every threshold has something to suppress
    k = n // 3
    boxes[:k] = boxes[k:2 * k] + (torch.rand(k, 4, generator=g, dtype=dtype) - 0.5) * 6
    return boxes, torch.rand(n, generator=g, dtype=dtype)


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
@pytest.mark.parametrize("thr", [0.2, 0.45, 0.7])
def test_nms_matches_reference(seed, thr):
    boxes, scores = random_boxes(seed)
    keep = nms(boxes, scores, thr)
    assert keep.dtype == torch.long
    assert keep.tolist() == ref_nms(boxes, scores, thr)
    assert (scores[keep].diff() <= 0).all()  # by score, descending
    assert 0 < len(keep) < len(boxes)  # the data has overlaps: something is suppressed
    assert nms(boxes, scores, thr, max_keep=5).tolist() == keep[:5].tolist()
    b32, s32 = boxes.float(), scores.float()
    assert nms(b32, s32, thr).tolist() == ref_nms(b32, s32, thr)


@pytest.mark.parametrize("seed", [0, 5])
def test_batched_nms_matches_reference(seed):
    boxes, scores = random_boxes(seed)
    classes = torch.randint(0, 4, (len(boxes),), generator=torch.Generator().manual_seed(seed))
    keep = batched_nms(boxes, scores, classes, 0.45)
    assert keep.tolist() == ref_nms(boxes, scores, 0.45, classes)
    assert len(keep) > len(nms(boxes, scores, 0.45))


def test_batched_nms_keeps_other_classes():
    boxes = torch.tensor([[10, 10, 50, 50], [11, 11, 51, 51], [10, 10, 50, 50]], dtype=torch.float)
    scores = torch.tensor([0.9, 0.8, 0.7])
    assert batched_nms(boxes, scores, torch.tensor([0, 0, 1]), 0.5).tolist() == [0, 2]
    assert batched_nms(boxes, scores, torch.tensor([0, 1, 2]), 0.5).tolist() == [0, 1, 2]
    assert nms(boxes, scores, 0.5).tolist() == [0]
    # large class ids and negative coordinates: the offsets must keep classes apart exactly
    big = torch.tensor([9998, 9998, 9999])
    assert batched_nms(boxes - 100, scores, big, 0.5).tolist() == [0, 2]
    assert nms(torch.zeros(0, 4), torch.zeros(0), 0.5).tolist() == []


def test_nms_caps_candidates():
    n = MAX_CANDIDATES + 200
    x = torch.arange(n, dtype=torch.float) * 10  # disjoint boxes
    boxes = torch.stack((x, x * 0, x + 5, x * 0 + 5), 1)
    scores = torch.rand(n, generator=torch.Generator().manual_seed(0))
    keep = nms(boxes, scores, 0.5)
    assert len(keep) == MAX_CANDIDATES
    assert set(keep.tolist()) == set(scores.topk(MAX_CANDIDATES).indices.tolist())


# ---------------------------------------------------------------- letterbox
@pytest.mark.parametrize("hw", [(480, 640), (640, 300), (320, 320), (100, 37)])
def test_letterbox_round_trip(hw):
    h, w = hw
    img = np.random.default_rng(0).integers(0, 255, (h, w, 3), dtype=np.uint8)
    out, ratio, (pl, pt) = letterbox(img, 320)
    assert out.shape == (320, 320, 3) and out.dtype == np.uint8
    assert ratio == pytest.approx(320 / max(h, w))
    nw, nh = round(w * ratio), round(h * ratio)
    assert max(nw, nh) == 320 and (pl, pt) == ((320 - nw) // 2, (320 - nh) // 2)
    assert (out[:pt] == 114).all() and (out[pt + nh:] == 114).all()
    assert (out[:, :pl] == 114).all() and (out[:, pl + nw:] == 114).all()
    orig = torch.tensor([[0.0, 0.0, w, h, 0.9, 1], [10.5, 20.25, w * 0.6, h * 0.7, 0.5, 3]])
    lb = orig.clone()
    lb[:, [0, 2]] = lb[:, [0, 2]] * ratio + pl
    lb[:, [1, 3]] = lb[:, [1, 3]] * ratio + pt
    back = scale_boxes(lb, ratio, (pl, pt), img.shape)
    assert torch.allclose(back, orig, atol=1e-3)
    assert torch.equal(lb, scale_boxes(lb, 1.0, (0, 0), (1000, 1000)))  # input left untouched
    # boxes reaching into the padding are clipped to the image
    clipped = scale_boxes(torch.tensor([[0.0, 0.0, 320.0, 320.0, 0.5, 0]]), ratio, (pl, pt), img.shape)
    assert clipped[0, :4].tolist() == [0, 0, w, h]


def test_letterbox_rejects_bad_size_and_to_tensor():
    img = np.zeros((10, 20, 3), np.uint8)
    with pytest.raises(ValueError):
        letterbox(img, 100)  # not a multiple of 32
    img[0, 0] = (255, 0, 128)
    x = to_tensor(img)
    assert x.shape == (1, 3, 10, 20) and x.dtype == torch.float32
    assert x[0, :, 0, 0].tolist() == pytest.approx([1.0, 0.0, 128 / 255])


# ---------------------------------------------------------------- decode
# (cx, cy, w, h, score, class): A and B overlap (same class, B suppressed); C overlaps A but is
# another class (kept); D is below conf (dropped); E is alone (kept).
BOXES = [(100, 100, 50, 50, 0.9, 0), (102, 101, 50, 50, 0.8, 0), (101, 100, 50, 50, 0.7, 1),
         (300, 300, 20, 20, 0.1, 2), (200, 50, 40, 20, 0.6, 2)]
EXPECTED = [[75, 75, 125, 125, 0.9, 0], [76, 75, 126, 125, 0.7, 1], [180, 40, 220, 60, 0.6, 2]]


def test_decode_anchor_free():
    out = torch.zeros(2, 4 + 3, 6)  # (B, 4 + nc, N); image 1 all zeros, one unused column
    for j, (cx, cy, w, h, s, c) in enumerate(BOXES):
        out[0, :4, j] = torch.tensor([cx, cy, w, h])
        out[0, 4:, j] = 0.05
        out[0, 4 + c, j] = s
    dets = decode(out, "DetectDFL", conf=0.25, iou=0.45)
    assert len(dets) == 2 and dets[1].shape == (0, 6)
    assert torch.allclose(dets[0], torch.tensor(EXPECTED), atol=1e-5)
    top2 = decode(out, "DetectDFL", 0.25, 0.45, max_det=2)[0]
    assert torch.allclose(top2, torch.tensor(EXPECTED[:2]), atol=1e-5)
    assert len(decode(out, "DetectDFL", conf=0.0, iou=0.45)[0]) == 5  # D kept, zeros box too


def test_decode_anchor_based():
    out = torch.zeros(1, 7, 5 + 3)  # (B, N, 5 + nc)
    for j, (cx, cy, w, h, s, c) in enumerate(BOXES):
        probs = torch.full((3,), 0.1)
        probs[c] = 0.8  # score = obj * best class prob
        out[0, j] = torch.cat((torch.tensor([cx, cy, w, h, s / 0.8]), probs))
    out[0, 5] = torch.tensor([10, 10, 4, 4, 0.9, 0.2, 0.2, 0.1])  # obj passes, obj * cls = 0.18 fails
    out[0, 6] = torch.tensor([10, 10, 4, 4, 0.2, 1.0, 1.0, 1.0])  # obj alone fails
    dets = decode(out, "DetectAnchor", conf=0.25, iou=0.45)
    assert torch.allclose(dets[0], torch.tensor(EXPECTED), atol=1e-5)
    with pytest.raises(ValueError):
        decode(out, "YOLO-X", 0.25, 0.45)


# ---------------------------------------------------------------- end to end
def scene(w=500, h=300) -> np.ndarray:
    im = Image.new("RGB", (w, h), (30, 120, 200))
    d = ImageDraw.Draw(im)
    d.ellipse((50, 50, 200, 250), fill=(250, 200, 0))
    d.rectangle((300, 40, 460, 200), fill=(200, 30, 30))
    return np.asarray(im)


def make_model(name, seed=0):
    torch.manual_seed(seed)
    spec, _ = parse_file(preset_path(name))
    return build(resolve(spec, 320)).eval()


def check_result(res, img, nc=80):
    h, w = img.shape[:2]
    assert set(res["timing_ms"]) == {"pre", "inference", "post"}
    assert all(v >= 0 for v in res["timing_ms"].values())
    assert res["image"].size == (w, h) and res["image"].mode == "RGB"
    assert res["detections"], "conf 0 must find boxes"
    for d in res["detections"]:
        x1, y1, x2, y2 = d["box"]
        assert 0 <= x1 <= x2 <= w and 0 <= y1 <= y2 <= h
        assert 0 <= d["class_id"] < nc and d["class_name"] == f"class{d['class_id']}"
        assert 0 <= d["confidence"] <= 1
    conf = [d["confidence"] for d in res["detections"]]
    assert conf == sorted(conf, reverse=True)


@pytest.mark.parametrize("name,kind", [("yolov8n", "DetectDFL"), ("yolov5n", "DetectAnchor")])
def test_predictor_torch(name, kind):
    p = Predictor.from_torch(make_model(name), None, 320)
    assert (p.kind.name, p.nc, p.backend, p.imgsz) == (kind, 80, "torch", 320)
    img = scene()
    res = p.predict(img, conf=0.0)
    check_result(res, img)
    assert len(res["detections"]) <= 300
    assert not np.array_equal(np.asarray(res["image"]), img)  # something was drawn
    assert set(p.benchmark(img, runs=2)) == {"pre", "inference", "post"}
    with pytest.raises(ValueError):
        Predictor.from_torch(make_model(name), ["a", "b"], 320)  # 2 names for 80 classes


def test_predictor_onnx_matches_torch(tmp_path):
    model = make_model("yolov8n")
    with torch.no_grad():  # weights with signal (default init fades to constant scores)
        for m in model.modules():
            if isinstance(m, torch.nn.Conv2d) and m.weight.requires_grad:
                torch.nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
                if m.bias is not None:
                    m.bias.zero_()
        for seq in model.model[-1].cv3:
            seq[-1].weight.mul_(20)  # spread the class scores: no near-ties
    model.fuse().eval()
    path = str(tmp_path / "m.onnx")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, (torch.zeros(1, 3, 320, 320),), path, dynamo=False, opset_version=18,
                          input_names=["images"], output_names=["output0"])
    pt = Predictor.from_torch(model, None, 320)
    ox = Predictor.from_onnx(path, "DetectDFL", 80, None, 320)
    img = scene()
    a, b = pt.predict(img, conf=0.6), ox.predict(img, conf=0.6)
    check_result(b, img)
    assert len(a["detections"]) == len(b["detections"]) > 3
    for x, y in zip(a["detections"], b["detections"]):
        assert x["class_id"] == y["class_id"]
        assert np.allclose(x["box"], y["box"], atol=1e-2)
        assert x["confidence"] == pytest.approx(y["confidence"], abs=1e-3)
    with pytest.raises(ValueError):
        Predictor.from_onnx(path, "DetectDFL", 80, None, 640)  # the export is 320 x 320


def test_draw_labels():
    img = np.zeros((100, 200, 3), np.uint8)
    dets = [{"class_id": 1, "class_name": "cat", "confidence": 0.87, "box": [20, 40, 120, 90]}]
    out = np.asarray(draw(img, dets, ["dog", "cat"]))
    assert out.shape == img.shape
    assert out[60, 20].any() and not out[60, 70].any()  # box edge coloured, inside untouched
    assert out[30:40, 20:60].any()  # the label sits above the box
    same = np.asarray(draw(img, torch.tensor([[20, 40, 120, 90, 0.87, 1]]), ["dog", "cat"]))
    assert np.array_equal(out, same)


# ---------------------------------------------------------------- image files
def png_header(w, h) -> bytes:
    """A PNG that claims w x h pixels (1-bit) but carries almost no data: cheap to write."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 1, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b""))


def noise_image(fmt) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 96, 3), dtype=np.uint8)).save(buf, fmt)
    return buf.getvalue()


def test_bad_images(tmp_path):
    settings = (ImageFile.LOAD_TRUNCATED_IMAGES, Image.MAX_IMAGE_PIXELS, list(warnings.filters))
    cases = {"notes.jpg": (b"hello, this is text\n" * 20, "not an image"),
             "cut.png": (noise_image("PNG")[:9000], "truncated"),
             "cut.jpg": (noise_image("JPEG")[:1500], "truncated"),
             "bomb.png": (png_header(30000, 30000), "too large"),
             "big.png": (png_header(10000, 6000), "too large"),  # 60 MP: under PIL's limit, over ours
             "empty.jpg": (b"", "empty")}
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    for fn, (data, problem) in cases.items():
        (tmp_path / fn).write_bytes(data)
        for src in (tmp_path / fn, str(tmp_path / fn)):
            with pytest.raises(ImageError) as e:
                read_image(src)
            msg = str(e.value)
            assert fn in msg and problem in msg and "\n" not in msg, msg
        with pytest.raises(ImageError, match=problem):
            read_image(data)
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss < 200_000  # kB: nothing decoded
    with pytest.raises(ImageError, match="missing.png: file not found"):
        read_image(tmp_path / "missing.png")
    with pytest.raises(ImageError, match="is a folder"):
        read_image(tmp_path)
    assert isinstance(ImageError("x"), ValueError)
    assert (ImageFile.LOAD_TRUNCATED_IMAGES, Image.MAX_IMAGE_PIXELS, list(warnings.filters)) == settings
    good = tmp_path / "good.png"
    good.write_bytes(noise_image("PNG"))
    assert read_image(good).shape == (64, 96, 3)


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "BMP", "WEBP"])
def test_good_formats(fmt):
    arr = read_image(noise_image(fmt))
    assert arr.shape == (64, 96, 3) and arr.dtype == np.uint8
    if fmt in ("PNG", "BMP"):  # lossless
        assert np.array_equal(arr, np.random.default_rng(0).integers(0, 255, (64, 96, 3), dtype=np.uint8))


def test_modes_and_exif(tmp_path):
    def saved(im, fmt="PNG", **kw):
        buf = io.BytesIO()
        im.save(buf, fmt, **kw)
        return buf.getvalue()
    gray = read_image(saved(Image.new("L", (30, 20), 77)))
    assert gray.shape == (20, 30, 3) and (gray == 77).all()
    rgba = read_image(saved(Image.new("RGBA", (30, 20), (10, 20, 30, 0))))
    assert (rgba == 255).all()  # fully transparent -> the white background
    red = Image.new("RGB", (30, 20), (200, 10, 10))
    pal = read_image(saved(red.convert("P", palette=Image.Palette.ADAPTIVE)))
    assert pal.shape == (20, 30, 3) and tuple(pal[0, 0]) == (200, 10, 10)
    deep = read_image(saved(Image.new("I;16", (30, 20), 65535)))
    assert (deep == 255).all()
    im = Image.new("RGB", (40, 20), (0, 0, 0))
    im.paste((255, 255, 255), (0, 0, 10, 20))  # white strip on the left
    exif = Image.Exif()
    exif[0x0112] = 6  # stored rotated: turn 90 degrees clockwise to display
    path = tmp_path / "rot.jpg"
    path.write_bytes(saved(im, "JPEG", exif=exif, quality=95))
    rot = read_image(path)
    assert rot.shape == (40, 20, 3)
    assert rot[:10].mean() > 200 and rot[-10:].mean() < 50  # the left strip is now on top
