"""The end-to-end heads (blocks/heads.py DetectE2E — YOLO26's `end2end: True`, `reg_max: 1` — and
DetectV10, yaml `v10Detect`), the whole path: parameters equal to Ultralytics' for the same yaml,
shapes in training and eval at 2-4 levels, the loss of both branches, ONNX (1, 300, 6) checked against
onnxruntime, predict without NMS, and one training epoch whose checkpoint predict loads.

Upstream figures are measured with ultralytics 8.4.190 (`YOLO(yaml).model`, its Detect / v10Detect
built directly for the head-only ones); nothing here imports it.
"""
from __future__ import annotations

import os

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch

import blocks
from blocks.heads import Detect, DetectDFL, DetectE2E, DetectV10, detect_head
from engine.checkpoint import load_checkpoint
from engine.data.synthetic import ensure_shapes
from engine.deploy import run
from engine.deploy.export import deploy_model, export_onnx
from engine.deploy.predictor import Predictor, decode
from engine.heads import HEADS, compare_end2end, head_kind
from engine.loading import load_design
from engine.train.assigner import TaskAlignedAssigner
from engine.train.loss import make_loss
from engine.train.loss_e2e import DetectionLossE2E
from engine.train.trainer import Events, TrainConfig, Trainer
from graph.compose import compose
from graph.counts import count
from graph.errors import SpecError
from graph.flops import layer_macs
from graph.model import build, count_params
from graph.resolve import resolve
from graph.source import Source
from graph.spec import parse, read_file
from graph.templates import preset_path

V8N = read_file(preset_path("yolov8n"))
V8N_E2E = V8N.replace("scale: n\n", "scale: n\nend2end: True\nreg_max: 1\n")  # YOLO26's two keys on YOLOv8n
V8N_V10 = V8N.replace("1, Detect, [nc]]", "1, v10Detect, [nc]]")  # YOLOv8n with YOLOv10's head
assert V8N_E2E != V8N and V8N_V10 != V8N

# YOLO26n and YOLOv10n as their model files list them (structure only).
YOLO26N = """nc: 80
end2end: True
reg_max: 1
scale: n
scales: {n: [0.50, 0.25, 1024]}
backbone:
  - [-1, 1, Conv, [64, 3, 2]]
  - [-1, 1, Conv, [128, 3, 2]]
  - [-1, 2, C3k2, [256, False, 0.25]]
  - [-1, 1, Conv, [256, 3, 2]]
  - [-1, 2, C3k2, [512, False, 0.25]]
  - [-1, 1, Conv, [512, 3, 2]]
  - [-1, 2, C3k2, [512, True]]
  - [-1, 1, Conv, [1024, 3, 2]]
  - [-1, 2, C3k2, [1024, True]]
  - [-1, 1, SPPF, [1024, 5, 3, True]]
  - [-1, 2, C2PSA, [1024]]
head:
  - [-1, 1, nn.Upsample, [None, 2, "nearest"]]
  - [[-1, 6], 1, Concat, [1]]
  - [-1, 2, C3k2, [512, True]]
  - [-1, 1, nn.Upsample, [None, 2, "nearest"]]
  - [[-1, 4], 1, Concat, [1]]
  - [-1, 2, C3k2, [256, True]]
  - [-1, 1, Conv, [256, 3, 2]]
  - [[-1, 13], 1, Concat, [1]]
  - [-1, 2, C3k2, [512, True]]
  - [-1, 1, Conv, [512, 3, 2]]
  - [[-1, 10], 1, Concat, [1]]
  - [-1, 1, C3k2, [1024, True, 0.5, True]]
  - [[16, 19, 22], 1, Detect, [nc]]
"""
YOLOV10N = """nc: 80
scales: {n: [0.33, 0.25, 1024]}
backbone:
  - [-1, 1, Conv, [64, 3, 2]]
  - [-1, 1, Conv, [128, 3, 2]]
  - [-1, 3, C2f, [128, True]]
  - [-1, 1, Conv, [256, 3, 2]]
  - [-1, 6, C2f, [256, True]]
  - [-1, 1, SCDown, [512, 3, 2]]
  - [-1, 6, C2f, [512, True]]
  - [-1, 1, SCDown, [1024, 3, 2]]
  - [-1, 3, C2f, [1024, True]]
  - [-1, 1, SPPF, [1024, 5]]
  - [-1, 1, PSA, [1024]]
head:
  - [-1, 1, nn.Upsample, [None, 2, "nearest"]]
  - [[-1, 6], 1, Concat, [1]]
  - [-1, 3, C2f, [512]]
  - [-1, 1, nn.Upsample, [None, 2, "nearest"]]
  - [[-1, 4], 1, Concat, [1]]
  - [-1, 3, C2f, [256]]
  - [-1, 1, Conv, [256, 3, 2]]
  - [[-1, 13], 1, Concat, [1]]
  - [-1, 3, C2f, [512]]
  - [-1, 1, SCDown, [512, 3, 2]]
  - [[-1, 10], 1, Concat, [1]]
  - [-1, 3, C2fCIB, [1024, True, True]]
  - [[16, 19, 22], 1, v10Detect, [nc]]
"""

# measured with ultralytics 8.4.190: (params, params after fuse(), layers, GFLOPs at 640) as
# `model_info(YOLO(yaml).model)` gives them (the summary line)
UPSTREAM = {
    "yolov8n + end2end + reg_max 1": (3_434_696, 2_842_108, 161, 9.9464192),
    "yolov8 + yolov8-pan + yolo26 head, n": (4_384_008, 3_790_364, 193, 12.063232),  # our composed yaml
    "yolov8n with v10Detect": (3_189_344, 2_718_464, 185, 9.012608),
    "yolo26n": (2_572_280, 2_408_932, 260, 6.2396672),
    "yolov10n": (2_775_520, 2_299_264, 223, 8.7994112),
}
# measured with ultralytics 8.4.190: the head alone, Detect(nc, reg_max=1, end2end=True, ch) with its
# class attribute `legacy` set as given, or v10Detect(nc, ch)
HEAD_PARAMS = [
    ("e2e", True, 80, (64, 128, 256), 1_175_160),  # the head of yolov8n + end2end + reg_max 1
    ("e2e", False, 80, (64, 128, 256), 309_656),  # the head of YOLO26n
    ("e2e", True, 3, (32, 64), 130_460),
    ("e2e", True, 5, (16, 32, 64, 64), 140_488),
    ("e2e", False, 3, (32, 64), 52_060),
    ("e2e", False, 5, (16, 32, 64, 64), 84_328),
    ("v10", False, 80, (64, 128, 256), 929_808),  # the head of YOLOv10n
    ("v10", False, 3, (32, 64), 290_396),
    ("v10", False, 5, (16, 32, 64, 64), 547_160),
]


def strides(n):
    return [8 * 2 ** i for i in range(n)]


def make_head(kind, legacy, nc, ch):
    if kind == "v10":
        return DetectV10(nc, list(ch), strides(len(ch)))
    return DetectE2E(nc, list(ch), strides(len(ch)), reg_max=1, legacy=legacy)


def needs_blocks(*names):
    missing = [n for n in names if n not in blocks.REGISTRY]
    return pytest.mark.skipif(bool(missing), reason=f"blocks not registered: {missing}")


def design(text, imgsz=64, name="m"):
    return load_design(text, imgsz, name)


# ---------------------------------------------------------------- parameters equal upstream's

@pytest.mark.parametrize("kind,legacy,nc,ch,want", HEAD_PARAMS)
def test_head_params_equal_upstream(kind, legacy, nc, ch, want):
    head = make_head(kind, legacy, nc, ch)
    assert count_params(head) == want
    # the one-to-one branch is a copy of the one-to-many one: half the head each (DFL's 16 fixed weights aside)
    o2o = count_params(head.one2one_cv2) + count_params(head.one2one_cv3)
    assert o2o == count_params(head.cv2) + count_params(head.cv3) == (want - count_params(head.dfl)) // 2
    for a, b in ((head.cv2, head.one2one_cv2), (head.cv3, head.one2one_cv3)):  # same start, as a deep copy
        assert all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))


def assert_counts_upstream(text, name):
    """Params and fused params as upstream's; layers and GFLOPs too where graph/counts.py gives
    Ultralytics 8.4's conventions (`gflops_ultralytics`)."""
    params, fused, layers, gflops = UPSTREAM[name]
    c = count(resolve(parse(text)[0], 640))
    assert (c.params, c.fused_params) == (params, fused)
    if hasattr(c, "gflops_ultralytics"):
        assert c.layers == layers and c.gflops_ultralytics == pytest.approx(gflops, rel=1e-6)


def test_v10detect_model_counts_equal_upstream():
    assert_counts_upstream(V8N_V10, "yolov8n with v10Detect")


@needs_blocks("SCDown", "PSA", "C2fCIB")
def test_yolov10n_counts_equal_upstream():
    assert_counts_upstream(YOLOV10N, "yolov10n")


def test_yolo26_keys_model_counts_equal_upstream():
    assert_counts_upstream(V8N_E2E, "yolov8n + end2end + reg_max 1")
    head = build(resolve(parse(V8N_E2E)[0], 64)).model[-1]
    assert type(head) is DetectE2E and head.reg_max == 1 and head.legacy
    no_e2e = V8N_E2E.replace("end2end: True", "end2end: False")
    assert count(resolve(parse(no_e2e)[0], 640)).params == 2_847_116  # reg_max 1 alone: measured with 8.4.190
    for bad in ("end2end: maybe", "reg_max: 0", "reg_max: 1.5"):
        key = bad.split(":")[0]
        text = V8N_E2E.replace(f"{key}: {'True' if key == 'end2end' else '1'}", bad)
        with pytest.raises(SpecError, match=key):
            resolve(parse(text)[0], 64)


def test_yolo26_template_composes_with_yolov8_parts():
    spec = compose("yolov8", "yolov8-pan", "yolo26", scale="n", nc=80)
    assert dict(spec.extra) == {"end2end": True, "reg_max": 1}
    text = Source(spec).dump(imgsz=640)
    assert "\nend2end: True\n" in text and "\nreg_max: 1\n" in text  # what Ultralytics reads
    assert_counts_upstream(text, "yolov8 + yolov8-pan + yolo26 head, n")


@needs_blocks("C3k2", "C2PSA")
def test_yolo26n_counts_equal_upstream():
    assert_counts_upstream(YOLO26N, "yolo26n")  # C3k2 clears `legacy`: the depth-wise class branch
    assert not build(resolve(parse(YOLO26N)[0], 64)).model[-1].legacy


def test_detect_builds_the_e2e_head_from_its_keywords():
    assert type(detect_head(3, ch=[8, 16], strides=[8, 16], end2end=True, reg_max=1)) is DetectE2E
    assert type(detect_head(3, ch=[8, 16], strides=[8, 16], reg_max=1)) is DetectDFL
    assert Detect.model_options({"end2end": True, "reg_max": 1, "other": 5}, legacy=False) == \
        {"legacy": False, "end2end": True, "reg_max": 1}
    assert DetectV10.model_options({"end2end": False, "reg_max": 4}) == {}  # upstream ignores them for v10Detect
    assert head_kind(DetectE2E).nms is False and head_kind(DetectV10).layout == "(B, 300, 6)"
    assert {DetectE2E, DetectV10} <= set(HEADS)


# ---------------------------------------------------------------- shapes, train and eval, 2-4 levels

@pytest.mark.parametrize("kind", ["e2e", "v10"])
@pytest.mark.parametrize("levels", [2, 3, 4])
def test_forward_shapes(kind, levels):
    torch.manual_seed(0)
    ch, nc, size = [16, 32, 32, 64][:levels], 3, 8 if levels == 2 else 16  # 2 levels: under 300 pairs
    head = make_head(kind, False, nc, ch)
    x = [torch.randn(2, c, size >> i, size >> i) for i, c in enumerate(ch)]
    out = head.train()(x)
    no = 4 * head.reg_max + nc
    for branch in ("one2many", "one2one"):
        assert [tuple(t.shape) for t in out[branch]] == [(2, no, size >> i, size >> i) for i in range(levels)]
    y = head.eval()(x)
    assert y.shape == (2, 300, 6)
    a = sum((size >> i) ** 2 for i in range(levels))
    real = min(300, a * nc)  # fewer (anchor, class) pairs than 300: zero rows pad the rest
    assert (y[:, :real, 4] > 0).all() and (y[:, real:] == 0).all()
    assert (y[..., 4].diff(dim=1) <= 0).all() and (y[..., 4] <= 1).all()  # best first, probabilities
    assert ((y[..., 5] >= 0) & (y[..., 5] < nc) & (y[..., 5] == y[..., 5].round())).all()
    # the one-to-one branch makes the output, and its loss does not reach the features
    x = [t.requires_grad_(True) for t in x]
    out = head.train()(x)
    sum(t.sum() for t in out["one2one"]).backward()
    assert all(t.grad is None for t in x)
    sum(t.sum() for t in out["one2many"]).backward()
    assert all(t.grad is not None for t in x)


@pytest.mark.parametrize("text", [V8N_V10, V8N_E2E], ids=["v10Detect", "yolo26-keys"])
def test_model_fuse_drops_one2many_and_keeps_output(text):
    torch.manual_seed(0)
    model = build(resolve(parse(text)[0], 64)).eval()
    x = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        y0 = model(x)
        model.fuse()
        y1 = model(x)
    head = model.model[-1]
    assert head.cv2 is None and head.cv3 is None and head.one2one_cv2 is not None
    assert y0.shape == y1.shape == (1, 300, 6)
    assert compare_end2end(y1.numpy(), y0.numpy()) < 1e-3


def test_v10_head_counts_match_thop():
    thop = pytest.importorskip("thop")  # requirements-dev: the counting oracle
    graph = resolve(parse(V8N_V10)[0], 64)
    model = build(graph)
    x = torch.rand(1, 3, 64, 64)
    ops, _ = thop.profile(model, inputs=(x,), verbose=False)
    assert sum(layer_macs(model, x)) == pytest.approx(ops, rel=1e-9)  # both branches run before fuse()
    assert count(graph).fused_gflops < count(graph).gflops


# ---------------------------------------------------------------- loss: both branches

def targets():
    return torch.tensor([[0, 1, 0.30, 0.40, 0.25, 0.30], [0, 2, 0.70, 0.60, 0.30, 0.35], [1, 0, 0.5, 0.5, 0.4, 0.4]])


@pytest.mark.parametrize("kind", ["e2e", "v10"])
def test_loss_sums_both_branches_with_their_weights(kind):
    torch.manual_seed(0)
    head = make_head(kind, True, 3, [16, 32, 64]).train()
    if kind == "e2e":  # reg_max 1: start the boxes 3 cells wide, so they overlap the objects (CIoU > 0)
        for branch in (*head.cv2, *head.one2one_cv2):
            branch[-1].bias.data.fill_(1.5)
    x = [torch.randn(2, c, 8 >> i, 8 >> i) for i, c in enumerate([16, 32, 64])]
    loss = make_loss(head)
    assert isinstance(loss, DetectionLossE2E)
    third = "l1" if kind == "e2e" else "dfl"
    assert loss.names == ("box", "cls", third, "box_o2o", "cls_o2o", f"{third}_o2o")
    preds = head(x)
    total, items = loss(preds, targets())
    many, _ = loss.one2many(preds["one2many"], targets())
    one, _ = loss.one2one(preds["one2one"], targets())
    assert items.shape == (6,) and (items > 0).all()
    assert torch.allclose(total, 0.8 * many + 0.2 * one)
    total.backward()
    assert all(p.grad is not None for n, p in head.named_parameters() if p.requires_grad)
    assert [round(loss.set_epoch(e, 5), 6) for e in range(5)] == [0.8, 0.625, 0.45, 0.275, 0.1]
    assert loss.set_epoch(0, 1) == 0.8


def test_one_to_one_assignment_keeps_one_anchor_per_object():
    torch.manual_seed(0)
    a, nc = 64, 2
    pts = torch.stack(torch.meshgrid(torch.arange(8) + 0.5, torch.arange(8) + 0.5, indexing="xy"), -1).view(-1, 2)
    gt = torch.tensor([[[1.0, 1.0, 5.0, 5.0], [3.0, 2.0, 7.5, 7.0]]])
    boxes = (pts.repeat(1, 2) + torch.tensor([-1.5, -1.5, 1.5, 1.5])).unsqueeze(0)
    scores = torch.rand(1, a, nc)
    args = (scores, boxes, pts, torch.tensor([[[0.0], [1.0]]]), gt, torch.ones(1, 2, 1))
    many = TaskAlignedAssigner(topk=10, num_classes=nc)(*args)
    one = TaskAlignedAssigner(topk=7, num_classes=nc, topk2=1)(*args)
    assert many.fg_mask.sum() > 2
    assert one.fg_mask.sum() == 2 and set(one.gt_idx[one.fg_mask].tolist()) == {0, 1}


# ---------------------------------------------------------------- export, predict

@pytest.mark.parametrize("text", [V8N_V10, V8N_E2E], ids=["v10Detect", "yolo26-keys"])
def test_export_is_1x300x6_and_matches_onnxruntime(text, tmp_path):
    loaded = design(text)
    with_signal(loaded.model)
    r = export_onnx(loaded, str(tmp_path / "m.onnx"), 64, dynamic=True)
    assert r.max_abs_diff <= 1e-3 and r.head.startswith("end-to-end")
    graph = onnx.load(r.path).graph
    dims = [d.dim_param or d.dim_value for d in graph.output[0].type.tensor_type.shape.dim]
    assert graph.output[0].name == "output0" and dims == ["batch", 300, 6]
    sess = ort.InferenceSession(r.path, providers=["CPUExecutionProvider"])
    x = torch.rand(2, 3, 96, 64)
    got = sess.run(["output0"], {"images": x.numpy()})[0]
    with torch.no_grad():
        want = deploy_model(loaded.model)(x).numpy()
    assert got.shape == (2, 300, 6) and compare_end2end(got, want) <= 1e-3
    x1, y1, x2, y2, score, cls = got[0].T  # x1, y1, x2, y2, score, class
    assert (np.diff(score) <= 1e-7).all() and ((cls >= 0) & (cls < 80) & (cls == cls.round())).all()
    assert len(np.unique(score)) > 250 and score[0] > 0.5  # scores that rank: the check means something


def with_signal(model):
    """Weights whose scores rank (a fresh model's fade to near-constant scores: all ties)."""
    torch.manual_seed(0)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.Conv2d) and m.weight.requires_grad:
                torch.nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
        head = model.model[-1]
        for seq in (*head.cv3, *head.one2one_cv3):  # the features fade to ~0.01: lift the logits
            seq[-1].weight.mul_(300)
            seq[-1].bias.zero_()
    return model


def test_compare_forgives_ties_only():
    rows = np.array([[[0, 0, 10, 10, 0.9, 1], [5, 5, 9, 9, 0.5, 2], [1, 1, 4, 4, 0.5, 3], [2, 2, 3, 3, 0.1, 0]]],
                    dtype=np.float32)
    swapped = rows[:, [0, 2, 1, 3]]
    assert compare_end2end(rows, swapped) == 0.0  # a near-tie may come in either order
    moved = rows.copy()
    moved[0, 1, 0] += 2
    assert compare_end2end(rows, moved) == pytest.approx(2 / 5)  # 2 px off a coordinate of 5: relative above 1
    cut = rows.copy()
    cut[0, 3] = [7, 7, 8, 8, 0.1, 1]  # a different row of the same score at the cut
    assert compare_end2end(rows, cut) == 0.0
    wrong = rows[:, [1, 0, 2, 3]]  # the order of different scores is not forgiven
    assert compare_end2end(rows, wrong) == pytest.approx(0.4)
    other = rows.copy()
    other[0, 0, 5] = 2  # nor another class above the cut
    assert compare_end2end(rows, other) == np.inf


def test_predict_decodes_without_nms():
    out = torch.tensor([[[10, 10, 30, 30, 0.9, 1], [11, 11, 31, 31, 0.8, 1], [0, 0, 5, 5, 0.1, 0],
                         [0, 0, 0, 0, 0, 0]]], dtype=torch.float32)
    dets = decode(out, "DetectE2E", conf=0.25, iou=0.1)[0]
    assert dets.tolist() == out[0, :2].tolist()  # overlapping boxes both kept: no NMS
    assert len(decode(out, "DetectE2E", conf=0.0)[0]) == 3  # the zero padding row is never a box
    assert len(decode(out, "DetectE2E", conf=0.0, max_det=1)[0]) == 1


def scene(h=70, w=90):
    img = np.full((h, w, 3), 200, np.uint8)
    img[10:40, 15:50] = (220, 30, 30)
    img[35:60, 55:80] = (30, 30, 220)
    return img


def test_predict_torch_and_onnx_return_boxes():
    preds = run.predictors_for(design(V8N_V10), 64)
    img = scene()
    for backend in ("torch", "onnx"):
        p = preds[backend]
        assert p.kind is HEADS[DetectV10]
        res = p.predict(img, conf=0.0)
        dets = res["detections"]
        assert 0 < len(dets) <= 300
        conf = [d["confidence"] for d in dets]
        assert conf == sorted(conf, reverse=True)
        for d in dets:
            x1, y1, x2, y2 = d["box"]
            assert 0 <= x1 <= x2 <= img.shape[1] and 0 <= y1 <= y2 <= img.shape[0]


# ---------------------------------------------------------------- one training epoch

@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return ensure_shapes(root=str(tmp_path_factory.mktemp("shapes")), n_train=8, n_val=4, imgsz=64, seed=1)


@pytest.mark.parametrize("text,third", [(V8N_V10, "dfl"), (V8N_E2E, "l1")], ids=["v10Detect", "yolo26-keys"])
def test_one_epoch_trains_both_branches_and_predict_loads_it(text, third, tiny, tmp_path, monkeypatch):
    epochs_set = []
    real_set_epoch = DetectionLossE2E.set_epoch
    monkeypatch.setattr(DetectionLossE2E, "set_epoch",
                        lambda self, e, n: epochs_set.append((e, n)) or real_set_epoch(self, e, n))
    cfg = tmp_path / "m.yaml"
    cfg.write_text(text)
    seen = []
    events = Events()
    events.on("*", seen.append)
    c = TrainConfig(cfg=str(cfg), data=tiny, epochs=1, imgsz=64, batch=4, project=str(tmp_path), name="exp",
                    close_mosaic=0, warmup_epochs=0.0)
    result = Trainer(c, events).fit()
    names = {"box", "cls", third}
    want = names | {f"{n}_o2o" for n in names}
    start = next(e for e in seen if e["event"] == "fit_start")
    assert set(start["loss_names"]) == want
    for e in seen:
        if e["event"] in ("batch_end", "epoch_end"):
            assert set(e["loss"]) == want and all(np.isfinite(v) for v in e["loss"].values())
    assert any(e["event"] == "epoch_end" and "mAP50" in e["metrics"] for e in seen)
    assert epochs_set == [(0, 1)]  # the trainer sets the branch weights each epoch
    loaded = load_checkpoint(result["best"])
    assert type(loaded.model.model[-1]) is type(design(text).model.model[-1])
    assert loaded.trained and loaded.model.nc == 4
    res = Predictor.from_torch(loaded.model, loaded.names, 64).predict(scene(), conf=0.0)
    assert res["detections"] and res["detections"][0]["class_name"] in loaded.names
    assert os.path.exists(result["last"])
