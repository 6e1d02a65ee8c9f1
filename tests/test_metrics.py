"""Validation metrics (engine/train/metrics.py) on hand-made cases with known answers: perfect, empty,
wrong class, boxes at a chosen IoU, missed objects, duplicates, false positives on empty images, the
per-class maxDets cap, input kinds, bad input, and speed at a realistic size."""
from __future__ import annotations

import time

import numpy as np
import pytest
import torch

from engine.train.metrics import KEYS, DetectionMetrics

SHAPE = (480, 640)


def gt_rows(*rows):
    return np.array(rows, dtype=float).reshape(-1, 5)


def pred_rows(*rows):
    return np.array(rows, dtype=float).reshape(-1, 6)


def perfect(gt, score=0.9):
    """Predictions exactly on the ground-truth boxes: [x1, y1, x2, y2, score, cls]."""
    return np.concatenate([gt[:, 1:5], np.full((len(gt), 1), score), gt[:, :1]], 1)


def scene(i):
    return gt_rows([i % 3, 10, 20, 110, 140], [(i + 1) % 3, 200 + i, 50, 300 + i, 250],
                   [2, 400, 300, 520, 460])


def test_perfect_predictions():
    m = DetectionMetrics(nc=3)
    for i in range(4):
        m.add(i, perfect(scene(i)), scene(i), shape=SHAPE)
    r = m.compute()
    assert tuple(r) == KEYS
    assert r["mAP50"] == pytest.approx(1.0) and r["mAP50-95"] == pytest.approx(1.0)
    assert r["precision"] == pytest.approx(1.0) and r["recall"] == pytest.approx(1.0)
    assert r["images"] == 4 and r["instances"] == 12
    assert all(isinstance(r[k], float) for k in KEYS[:4])
    assert m.best_conf == pytest.approx(0.9)


def test_no_predictions_and_no_images():
    m = DetectionMetrics(nc=3)
    for i in range(3):
        m.add(i, np.zeros((0, 6)), scene(i), shape=SHAPE)
    m.add(3, None, None, shape=SHAPE)
    r = m.compute()
    assert [r[k] for k in KEYS[:4]] == [0.0] * 4
    assert r["images"] == 4 and r["instances"] == 9
    empty = DetectionMetrics(nc=2).compute()
    assert [empty[k] for k in KEYS] == [0.0] * 4 + [0, 0]


def test_predictions_but_no_ground_truth_anywhere():
    m = DetectionMetrics(nc=2)
    m.add(0, pred_rows([0, 0, 10, 10, 0.9, 1]), None, shape=SHAPE)
    r = m.compute()
    assert [r[k] for k in KEYS[:4]] == [0.0] * 4 and r["instances"] == 0


def test_wrong_class_scores_zero():
    m = DetectionMetrics(nc=3)
    for i in range(3):
        g = scene(i)
        p = perfect(g)
        p[:, 5] = (p[:, 5] + 1) % 3
        m.add(i, p, g, shape=SHAPE)
    r = m.compute()
    assert [r[k] for k in KEYS[:4]] == [0.0] * 4


@pytest.mark.parametrize("iou, passed", [(0.72, 5), (0.87, 8), (0.53, 1), (0.97, 10)])
def test_iou_between_thresholds(iou, passed):
    """A box of width 100*iou inside a 100x100 gt has exactly that IoU: AP is 1 at thresholds <= iou
    and 0 above, so mAP50-95 = passed / 10."""
    m = DetectionMetrics(nc=1)
    for i in range(3):
        x, y = 50 * i, 30
        m.add(i, pred_rows([x, y, x + 100 * iou, y + 100, 0.8, 0]), gt_rows([0, x, y, x + 100, y + 100]),
              shape=SHAPE)
    r = m.compute()
    assert r["mAP50"] == pytest.approx(1.0)
    assert r["mAP50-95"] == pytest.approx(passed / 10)
    assert r["precision"] == pytest.approx(1.0) and r["recall"] == pytest.approx(1.0)


def test_half_the_ground_truth_missed():
    m = DetectionMetrics(nc=1)
    for i in range(4):
        g = gt_rows([0, 10, 10, 60, 60], [0, 100, 100, 180, 170])
        m.add(i, perfect(g[:1]), g, shape=SHAPE)
    r = m.compute()
    assert r["recall"] == pytest.approx(0.5) and r["precision"] == pytest.approx(1.0)
    assert r["mAP50"] == pytest.approx(51 / 101)  # COCO's 101 recall points: 0, .01, ..., .5


def test_duplicates_lower_precision():
    """gt A: 0.9 (TP) and a duplicate at 0.8; gt B: 0.7 (TP). Keeping B costs the duplicate, and
    F1 = 0.8 with it beats 0.667 without, so precision = 2/3 at recall 1."""
    g = gt_rows([0, 10, 10, 60, 60], [0, 200, 200, 260, 280])
    p = pred_rows([10, 10, 60, 60, 0.9, 0], [11, 10, 60, 61, 0.8, 0], [200, 200, 260, 280, 0.7, 0])
    m = DetectionMetrics(nc=1)
    m.add(0, p, g, shape=SHAPE)
    r = m.compute()
    assert r["recall"] == pytest.approx(1.0)
    assert r["precision"] == pytest.approx(2 / 3)
    assert r["mAP50"] < 1.0
    assert m.best_conf == pytest.approx(0.7)


def test_duplicate_with_equal_score_halves_precision():
    g = gt_rows([0, 10, 10, 60, 60])
    m = DetectionMetrics(nc=1)
    m.add(0, pred_rows([10, 10, 60, 60, 0.9, 0], [12, 10, 60, 62, 0.9, 0]), g, shape=SHAPE)
    r = m.compute()
    assert r["precision"] == pytest.approx(0.5) and r["recall"] == pytest.approx(1.0)


def test_trailing_low_score_duplicate_is_cut_by_the_threshold():
    """Documented rule: the max-F1 threshold drops a duplicate that scores below every TP."""
    g = gt_rows([0, 10, 10, 60, 60])
    m = DetectionMetrics(nc=1)
    m.add(0, pred_rows([10, 10, 60, 60, 0.9, 0], [12, 10, 60, 62, 0.3, 0]), g, shape=SHAPE)
    r = m.compute()
    assert r["precision"] == pytest.approx(1.0) and r["mAP50"] == pytest.approx(1.0)
    assert m.best_conf == pytest.approx(0.9)


def test_false_positives_on_empty_images():
    g = gt_rows([0, 10, 10, 60, 60])
    clean = DetectionMetrics(nc=1)
    clean.add(0, perfect(g, 0.9), g, shape=SHAPE)
    m = DetectionMetrics(nc=1)
    m.add(0, perfect(g, 0.9), g, shape=SHAPE)
    m.add(1, pred_rows([100, 100, 150, 150, 0.95, 0]), None, shape=SHAPE)  # no gt, one FP
    r0, r = clean.compute(), m.compute()
    assert r0["mAP50"] == pytest.approx(1.0) and r0["precision"] == pytest.approx(1.0)
    assert r["mAP50"] == pytest.approx(0.5) and r["mAP50-95"] == pytest.approx(0.5)
    assert r["precision"] == pytest.approx(0.5) and r["recall"] == pytest.approx(1.0)
    assert r["images"] == 2 and r["instances"] == 1


def test_classes_without_ground_truth_are_left_out():
    """COCO gives -1 for a class with no gt: it must not drag the means (nor make them negative)."""
    g = gt_rows([0, 10, 10, 60, 60])
    m = DetectionMetrics(nc=3)
    m.add(0, np.concatenate([perfect(g), pred_rows([200, 200, 250, 250, 0.99, 2])]), g, shape=SHAPE)
    r = m.compute()
    assert [r[k] for k in KEYS[:4]] == pytest.approx([1.0] * 4)


def test_torch_numpy_lists_and_float_classes_agree():
    results = []
    for kind in ("numpy", "torch", "list"):
        m = DetectionMetrics(names=["a", "b"])
        rng = np.random.default_rng(0)
        for i in range(5):
            g = gt_rows([i % 2, 10, 10, 80, 90], [1.0, 200, 100, 300, 200])
            p = perfect(g, 0.8) + rng.uniform(-6, 6, (2, 6)) * [1, 1, 1, 1, 0, 0]
            p = np.concatenate([p, pred_rows([400, 300, 450, 350, 0.85, 0.0])])
            if kind == "torch":
                p, g = torch.tensor(p, dtype=torch.float32), torch.tensor(g, dtype=torch.float32)
            elif kind == "list":
                p, g = p.tolist(), g.tolist()
            m.add(i, p, g, shape=SHAPE)
        results.append(m.compute())
    for r in results[1:]:
        assert r == pytest.approx(results[0], abs=1e-5)
    assert 0 < results[0]["mAP50-95"] < results[0]["mAP50"] < 1


def test_names_dict_and_shape_optional():
    m = DetectionMetrics(names={0: "cat", 1: "dog"})
    assert m.nc == 2
    g = gt_rows([1, 10, 10, 60, 60])
    m.add(7, perfect(g), g)
    assert m.compute()["mAP50"] == pytest.approx(1.0)


def test_max_dets_per_class_per_image():
    """COCO keeps the `max_dets` highest-scoring detections per image and class."""
    g = gt_rows([0, 10, 10, 60, 60])
    fps = [[300 + i, 300, 320 + i, 320, 0.9 - i * 1e-3, 0] for i in range(150)]
    p = np.concatenate([pred_rows(*fps), perfect(g, 0.1)])
    for max_dets, recall in ((100, 0.0), (200, 1.0)):
        m = DetectionMetrics(nc=1, max_dets=max_dets)
        m.add(0, p, g, shape=SHAPE)
        r = m.compute()
        assert r["recall"] == pytest.approx(recall)
        assert r["mAP50"] == pytest.approx(recall / 151) and r["mAP50-95"] == pytest.approx(r["mAP50"])


def test_bad_input():
    m = DetectionMetrics(nc=2)
    with pytest.raises(ValueError):
        m.add(0, np.zeros((3, 5)), None)
    with pytest.raises(ValueError):
        m.add(0, None, gt_rows([2, 0, 0, 5, 5]))
    with pytest.raises(ValueError):
        m.add(0, pred_rows([0, 0, 5, 5, 0.5, -1]), None)
    with pytest.raises(ValueError):
        m.add(0, pred_rows([0, 0, np.nan, 5, 0.5, 0]), None)
    m.add(0, None, None)
    with pytest.raises(ValueError):
        m.add(0, None, None)
    with pytest.raises(ValueError):
        DetectionMetrics()
    m.reset()
    m.add(0, None, None)
    assert m.compute()["images"] == 1


def random_scene(rng, n_gt=20, n_pred=300, nc=10):
    xy = rng.uniform(0, 500, (n_gt, 2))
    g = np.concatenate([rng.integers(0, nc, (n_gt, 1)), xy, xy + rng.uniform(10, 100, (n_gt, 2))], 1)
    xy = rng.uniform(0, 500, (n_pred, 2))
    p = np.concatenate([xy, xy + rng.uniform(10, 100, (n_pred, 2)), rng.uniform(0, 1, (n_pred, 1)),
                        rng.integers(0, nc, (n_pred, 1))], 1)
    p[:n_gt] = np.concatenate([g[:, 1:5] + rng.uniform(-6, 6, (n_gt, 4)), rng.uniform(0.2, 1, (n_gt, 1)),
                               g[:, :1]], 1)  # near-misses of every gt, among random boxes
    return p, g


def test_matches_cocoeval_summarize():
    """With COCO's defaults (maxDets 100, all four area ranges) summarize() gives the same numbers."""
    import contextlib
    import io

    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    rng = np.random.default_rng(3)
    m = DetectionMetrics(nc=4)
    for i in range(12):
        m.add(i, *random_scene(rng, 8, 60, 4), shape=SHAPE)
    r = m.compute()
    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO()
        gt.dataset = {"images": m._images, "annotations": m._gts,
                      "categories": [{"id": i} for i in range(4)]}
        gt.createIndex()
        ev = COCOeval(gt, gt.loadRes([dict(d) for d in m._dets]), iouType="bbox")
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    assert r["mAP50-95"] == pytest.approx(ev.stats[0]) and r["mAP50"] == pytest.approx(ev.stats[1])
    assert 0 < r["mAP50-95"] < r["mAP50"] < 1
    assert 0 < r["precision"] < 1 and 0 < r["recall"] <= 1


def test_speed_100_images_300_dets():
    rng = np.random.default_rng(1)
    m = DetectionMetrics(nc=10, max_dets=300)
    for i in range(100):
        m.add(i, *random_scene(rng), shape=SHAPE)
    t = time.perf_counter()
    r = m.compute()
    assert time.perf_counter() - t < 15
    assert 0 < r["mAP50-95"] < r["mAP50"] <= 1 and r["recall"] > 0.9 and r["instances"] == 2000


def test_label_rows_are_class_and_pixel_corners():
    """YOLO labels (normalised centre, size) -> class and x1, y1, x2, y2 in pixels of a w x h image."""
    from engine.train.boxes import label_rows

    rows = label_rows(torch.tensor([2.0, 0.0]), torch.tensor([[0.5, 0.25, 0.2, 0.1], [0.1, 0.9, 0.2, 0.2]]), 100, 200)
    assert torch.allclose(rows, torch.tensor([[2.0, 40, 40, 60, 60], [0.0, 0, 160, 20, 200]]))
    assert label_rows(torch.zeros(0), torch.zeros(0, 4), 64, 64).shape == (0, 5)
