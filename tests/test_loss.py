"""engine/train/loss.py, assigner.py, boxes.py: hand-made assigner cases, CIoU against values
worked by hand, DFL, YOLOv5 anchor matching, empty targets, and both losses overfitting one batch."""
import math

import pytest
import torch

from blocks.heads import DetectAnchor, make_anchor_points
from engine.train.assigner import TaskAlignedAssigner
from engine.train.boxes import bbox_iou
from engine.train.loss import DetectionLossAnchor, DetectionLossDFL, dfl_loss, make_loss
from graph.model import build
from graph.resolve import resolve
from graph.spec import parse_file
from graph.templates import preset_path


def xyxy2xywh(b: torch.Tensor) -> torch.Tensor:
    """Test helper: (..., 4) corners -> (..., 4) centre and size."""
    p1, p2 = b[..., :2], b[..., 2:4]
    return torch.cat(((p1 + p2) / 2, p2 - p1), -1)


def box_iou_pairwise(box1: torch.Tensor, box2: torch.Tensor, eps: float = 1e-7) -> torch.Tensor:
    """Test oracle: plain IoU of every xyxy box in box1 (N, 4) with every one in box2 (M, 4): (N, M)."""
    lt = torch.maximum(box1[:, None, :2], box2[None, :, :2])
    rb = torch.minimum(box1[:, None, 2:], box2[None, :, 2:])
    inter = (rb - lt).clamp(min=0).prod(-1)
    a1 = (box1[:, 2:] - box1[:, :2]).clamp(min=0).prod(-1)
    a2 = (box2[:, 2:] - box2[:, :2]).clamp(min=0).prod(-1)
    return inter / (a1[:, None] + a2[None, :] - inter + eps)


# ---------------------------------------------------------------- assigner


def grid_points(n=4):
    """Cell centres of an n x n grid (unit cells), row-major: index = y * n + x."""
    ys, xs = torch.meshgrid(torch.arange(n) + 0.5, torch.arange(n) + 0.5, indexing="ij")
    return torch.stack((xs, ys), -1).view(-1, 2).float()


def assign(pred_boxes, gts, labels=None, scores=None, nc=2, topk=10, mask=None):
    pts = grid_points()
    a = pts.shape[0]
    gts = torch.tensor(gts, dtype=torch.float).view(1, -1, 4)
    m = gts.shape[1]
    labels = torch.zeros(1, m, 1) if labels is None else torch.tensor(labels, dtype=torch.float).view(1, m, 1)
    scores = torch.full((1, a, nc), 0.5) if scores is None else scores
    mask = torch.ones(1, m, 1, dtype=torch.bool) if mask is None else mask
    return TaskAlignedAssigner(topk=topk, num_classes=nc)(scores, pred_boxes.view(1, a, 4), pts, labels, gts, mask)


def test_assigner_candidates_are_the_points_inside_the_gt():
    gt = [0.0, 0.0, 2.0, 2.0]  # holds the centres (0.5, 0.5), (1.5, 0.5), (0.5, 1.5), (1.5, 1.5)
    preds = torch.tensor(gt).repeat(16, 1)  # every anchor predicts the gt exactly
    out = assign(preds, [gt])
    assert out.fg_mask[0].nonzero().flatten().tolist() == [0, 1, 4, 5]
    assert torch.equal(out.bboxes[0, 0], torch.tensor(gt))
    assert torch.allclose(out.scores[0, [0, 1, 4, 5], 0], torch.ones(4), atol=1e-5)  # IoU 1 -> score 1
    assert out.scores[0, :, 1].abs().sum() == 0  # class 1 is not this gt's class


def test_assigner_keeps_topk_best_aligned():
    gt = [0.0, 0.0, 4.0, 4.0]  # every point is inside
    preds = torch.tensor([1.0, 1.0, 1.1, 1.1]).repeat(16, 1)  # tiny boxes: IoU ~ 0.0006
    good = {5: gt, 6: [0.0, 0.0, 4.0, 3.6], 9: [0.0, 0.0, 3.5, 3.5]}  # IoU 1, 0.9, 0.766
    for i, b in good.items():
        preds[i] = torch.tensor(b)
    out = assign(preds, [gt], topk=3)
    assert out.fg_mask[0].nonzero().flatten().tolist() == [5, 6, 9]
    s = out.scores[0, :, 0]
    assert s[5] == pytest.approx(1.0, abs=1e-5)  # the best positive gets the best IoU
    assert s[5] > s[6] > s[9] > 0


def test_assigner_shared_anchor_goes_to_higher_iou():
    ga, gb = [0.0, 0.0, 3.0, 3.0], [1.0, 1.0, 4.0, 4.0]  # points 5, 6, 9, 10 are inside both
    preds = torch.tensor([1.0, 1.0, 1.2, 1.2]).repeat(16, 1)
    preds[5] = torch.tensor([0.0, 0.0, 2.8, 2.8])  # overlaps A more
    preds[10] = torch.tensor([1.2, 1.2, 4.0, 4.0])  # overlaps B more
    out = assign(preds, [ga, gb], labels=[0, 1])
    assert out.fg_mask[0, 5] and out.fg_mask[0, 10]
    assert out.gt_idx[0, 5] == 0 and out.labels[0, 5] == 0
    assert out.gt_idx[0, 10] == 1 and out.labels[0, 10] == 1
    assert torch.equal(out.bboxes[0, 10], torch.tensor(gb))
    assert out.scores[0, 5, 1] == 0 and out.scores[0, 10, 0] == 0  # one gt per anchor


def test_assigner_no_gts_no_positives():
    preds = torch.rand(16, 4) * 2
    preds[:, 2:] += preds[:, :2]
    pad = assign(preds, [[0.0, 0.0, 2.0, 2.0]], mask=torch.zeros(1, 1, 1, dtype=torch.bool))
    assert not pad.fg_mask.any() and pad.scores.sum() == 0
    none = TaskAlignedAssigner()(torch.rand(1, 16, 80), preds.view(1, 16, 4), grid_points(),
                                 torch.zeros(1, 0, 1), torch.zeros(1, 0, 4), torch.zeros(1, 0, 1, dtype=torch.bool))
    assert not none.fg_mask.any() and none.scores.shape == (1, 16, 80) and none.scores.sum() == 0


def test_assigner_soft_targets_normalised_to_best_ciou():
    torch.manual_seed(1)
    gts = [[0.0, 0.0, 2.5, 3.0], [1.2, 0.8, 4.0, 4.0]]
    ctr, wh = torch.rand(16, 2) * 4, torch.rand(16, 2) * 2 + 0.5
    preds = torch.cat((ctr - wh / 2, ctr + wh / 2), 1)
    out = assign(preds, gts, labels=[0, 1], scores=torch.rand(1, 16, 2), topk=4)
    # the overlap is CIoU clamped at 0, as Ultralytics' assigner ranks by
    iou = bbox_iou(torch.tensor(gts)[:, None], preds[None], xywh=False, CIoU=True).squeeze(-1).clamp(min=0)
    assert not torch.allclose(iou, box_iou_pairwise(torch.tensor(gts), preds))  # the penalties matter here
    for g in range(2):
        pos = (out.fg_mask[0] & (out.gt_idx[0] == g)).nonzero().flatten()
        assert 0 < len(pos) <= 4
        assert out.scores[0, pos].amax() == pytest.approx(iou[g, pos].max().item(), rel=1e-3)  # eps 1e-9 on align^6
        assert (out.labels[0, pos] == g).all()


# ---------------------------------------------------------------- boxes


def test_ciou_hand_values():
    a = torch.tensor([0.0, 0.0, 2.0, 2.0])
    assert bbox_iou(a, a, xywh=False, CIoU=True).item() == pytest.approx(1.0, abs=1e-6)
    # disjoint, same shape: IoU 0, centres 2 apart, enclosing box 3 x 1 -> 0 - 4 / 10
    d = bbox_iou(torch.tensor([0.0, 0, 1, 1]), torch.tensor([2.0, 0, 3, 1]), xywh=False, CIoU=True)
    assert d.item() == pytest.approx(-0.4, abs=1e-6)
    # 2x2 at the origin vs 2x1 at x 1..3: intersection 1, union 5, centres (1, 1) / (2, 0.5)
    b = torch.tensor([1.0, 0.0, 3.0, 1.0])
    iou, rho2, c2 = 0.2, 1.25, 13.0  # enclosing box 3 x 2
    v = 4 / math.pi ** 2 * (math.atan(2.0) - math.atan(1.0)) ** 2
    ciou = iou - rho2 / c2 - v / (1 - iou + v) * v
    assert bbox_iou(a, b, xywh=False).item() == pytest.approx(iou, abs=1e-6)
    assert bbox_iou(a, b, xywh=False, GIoU=True).item() == pytest.approx(iou - 1 / 6, abs=1e-6)
    assert bbox_iou(a, b, xywh=False, DIoU=True).item() == pytest.approx(iou - rho2 / c2, abs=1e-6)
    assert bbox_iou(a, b, xywh=False, CIoU=True).item() == pytest.approx(ciou, abs=1e-6)
    assert bbox_iou(xyxy2xywh(a), xyxy2xywh(b), CIoU=True).item() == pytest.approx(ciou, abs=1e-6)


# ---------------------------------------------------------------- DFL


def test_dfl_prefers_the_target_bins():
    t = torch.tensor([3.25])
    exact = torch.full((1, 16), -30.0)
    exact[0, 3], exact[0, 4] = math.log(0.75), math.log(0.25)
    flat = torch.zeros(1, 16)
    lo, hi = dfl_loss(exact, t).item(), dfl_loss(flat, t).item()
    assert lo == pytest.approx(-(0.75 * math.log(0.75) + 0.25 * math.log(0.25)), abs=1e-4)
    assert hi == pytest.approx(math.log(16), abs=1e-5) and lo < hi


def test_dfl_half_way_target_weights_both_bins_equally():
    peak3, peak4 = torch.zeros(1, 16), torch.zeros(1, 16)
    peak3[0, 3], peak4[0, 4] = 5.0, 5.0
    t = torch.tensor([3.5])
    assert dfl_loss(peak3, t).item() == pytest.approx(dfl_loss(peak4, t).item(), abs=1e-6)
    x = torch.zeros(1, 16, requires_grad=True)
    dfl_loss(x, t).sum().backward()
    assert x.grad[0, 3] == pytest.approx(x.grad[0, 4].item()) and x.grad[0, 3] < 0 and x.grad[0, 0] > 0


# ---------------------------------------------------------------- YOLOv5 matching


def v5_matcher():
    head = DetectAnchor(2, [[10, 13, 16, 30, 33, 23]], ch=[8], strides=[8])  # one level, 8x8 grid at 64 px
    return DetectionLossAnchor(head)


def test_anchor_match_by_wh_ratio():
    # 48 x 8 pixels: vs anchor 10x13 the width ratio is 4.8 (> 4); vs 16x30: 3 and 3.75; vs 33x23: 1.45, 2.9
    t = torch.tensor([[0, 1, 0.5, 0.5, 48 / 64, 8 / 64]])
    b, a, gj, gi, tbox, anch, cls = v5_matcher().match(t, 0, (8, 8))
    assert sorted(set(a.tolist())) == [1, 2]
    assert torch.allclose(anch[a == 1][0], torch.tensor([2.0, 3.75]))  # anchors in grid units
    assert (cls == 1).all() and (b == 0).all()


def test_anchor_match_three_cells():
    t = torch.tensor([[1, 0, 3.3 / 8, 4.7 / 8, 12 / 64, 14 / 64]])  # centre (3.3, 4.7) in grid units
    b, a, gj, gi, tbox, anch, cls = v5_matcher().match(t, 0, (8, 8))
    cells = {(x, y) for x, y, k in zip(gi.tolist(), gj.tolist(), a.tolist()) if k == 0}
    assert cells == {(3, 4), (2, 4), (3, 5)}  # own cell, left (x frac .3), below (y frac .7)
    assert len(a) == 3 * len(set(a.tolist()))
    assert (tbox[:, :2] > -0.5).all() and (tbox[:, :2] < 1.5).all()  # offsets the head can reach
    corner = torch.tensor([[0, 0, 0.2 / 8, 7.8 / 8, 12 / 64, 14 / 64]])  # neighbours would be off the grid
    b, a, gj, gi, *_ = v5_matcher().match(corner, 0, (8, 8))
    assert len(a) == len(set(a.tolist())) and (gi == 0).all() and (gj == 7).all()


# ---------------------------------------------------------------- whole losses


def small_model(name, nc=3, imgsz=64):
    spec, _ = parse_file(preset_path(name))[0].with_overrides(nc=nc)
    return build(resolve(spec, imgsz)).train()


TARGETS = torch.tensor([[0, 0, 0.30, 0.30, 0.30, 0.40], [0, 1, 0.70, 0.60, 0.40, 0.30],
                        [1, 2, 0.50, 0.50, 0.60, 0.70], [1, 0, 0.20, 0.80, 0.15, 0.20]])


def test_make_loss_picks_by_head():
    assert isinstance(make_loss(small_model("yolov8n")), DetectionLossDFL)
    assert make_loss(small_model("yolov5n")).names == ("box", "obj", "cls")
    with pytest.raises(TypeError):
        make_loss(torch.nn.Linear(2, 2))


def test_dfl_decode_matches_head_inference():
    torch.manual_seed(0)
    model = small_model("yolov8n")
    x = torch.rand(1, 3, 64, 64)
    loss = make_loss(model)
    model.eval()
    model.model[-1].training = True  # the head alone gives its raw maps; BatchNorm stays as at inference
    feats = model(x)
    pts, stride = make_anchor_points(feats, loss.strides)
    flat = torch.cat([f.view(1, f.shape[1], -1) for f in feats], 2).permute(0, 2, 1)
    boxes = xyxy2xywh(loss.decode(flat[..., :64].contiguous(), pts) * stride)
    model.model[-1].training = False
    with torch.no_grad():
        ref = model(x)[0, :4].T
    assert torch.allclose(boxes.detach()[0], ref, atol=1e-4)


@pytest.mark.parametrize("name", ["yolov8n", "yolov5n"])
def test_empty_targets_finite_and_push_scores_down(name):
    torch.manual_seed(0)
    model = small_model(name)
    feats = model(torch.rand(2, 3, 64, 64))
    for f in feats:
        f.retain_grad()
    total, items = make_loss(model)(feats, torch.zeros(0, 6))
    assert torch.isfinite(total) and torch.isfinite(items).all() and total > 0
    total.backward()
    if name == "yolov8n":
        assert items[0] == 0 and items[2] == 0
        assert all((f.grad[:, 64:] > 0).all() for f in feats)  # class logits pushed toward 0
    else:
        assert items[0] == 0 and items[2] == 0
        assert all((f.grad[..., 4] > 0).all() for f in feats)  # objectness pushed down


@pytest.mark.parametrize("name", ["yolov8n", "yolov5n"])
def test_loss_computed_in_float32_under_autocast(name):
    torch.manual_seed(0)
    model = small_model(name)
    loss = make_loss(model)
    feats = model(torch.rand(2, 3, 64, 64))
    ref, ref_items = loss(feats, TARGETS)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        total, items = loss([f.bfloat16() for f in feats], TARGETS)
    assert total.dtype == torch.float32 and torch.isfinite(items).all()
    assert torch.allclose(items, ref_items, rtol=0.05, atol=1e-3)
    total.backward()  # reaches the model through the casts
    assert next(model.model[-1].parameters()).grad is not None


@pytest.mark.parametrize("name,steps,lr", [("yolov8n", 50, 2e-3), ("yolov5n", 100, 1e-3)])
def test_overfits_one_batch(name, steps, lr):
    torch.manual_seed(0)
    model = small_model(name)
    loss = make_loss(model)
    x = torch.rand(2, 3, 64, 64)
    opt = torch.optim.Adam(model.parameters(), lr)
    first = None
    for _ in range(steps):
        total, items = loss(model(x), TARGETS)
        assert torch.isfinite(total)
        assert total.item() == pytest.approx(items.sum().item() * 2, rel=1e-5)  # terms summed, x batch size
        first = (total.item(), items) if first is None else first
        opt.zero_grad()
        total.backward()
        opt.step()
    total, items = loss(model(x), TARGETS)
    assert total.item() < 0.3 * first[0], (first, total, items)
    assert (items < 0.6 * first[1]).all(), (first[1], items)  # every term, not just the sum
