"""Validation metrics: mAP50, mAP50-95, precision and recall through pycocotools' COCOeval.

`DetectionMetrics` collects one image at a time (`add`) and `compute()` builds an in-memory COCO
ground truth (no files), loads the detections with `loadRes`, and runs COCOeval (iouType 'bbox') with
its prints silenced. Nothing here computes an AP by hand.

Rules, exactly:
- Boxes are in original-image pixels. Predictions (n, 6) [x1, y1, x2, y2, score, cls]; ground truth
  (m, 5) [cls, x1, y1, x2, y2]. numpy arrays, torch tensors or nested lists; float class ids are
  rounded. Categories are 0..nc-1; a class id outside that range raises ValueError. COCO gets bbox
  [x, y, w, h], area w*h, iscrowd 0.
- mAP50-95 and mAP50 are what COCOeval.summarize() reports as stats[0] / stats[1] - the mean of the
  accumulated precision over IoU 0.50:0.95 (or 0.5), 101 recall points and classes, ignoring -1 - read
  from `eval['precision']` because summarize() fixes maxDets=100 for stats[0]. Area 'all' is the
  only area range evaluated (small/medium/large are unused, and would cost 4x the matching). At most
  `max_dets` (default 100, as COCO's maxDets=[1, 10, 100]) detections per image *per class* count:
  COCO keeps the highest scoring ones.
- Classes without any ground truth get -1 from COCO and are left out of every mean, so their false
  positives count nowhere. With no detections, or no ground truth at all, every metric is 0.
- precision / recall: the operating point that maximises the mean F1 over classes (the YOLOv5/v8
  convention). Matches come from COCOeval itself (evalImgs' dtMatches at IoU 0.5, area 'all', within
  max_dets); only the sweep is done here. For each confidence threshold t among the detection scores,
  class c with G_c > 0 ground truths has P_c(t) = TP/(TP+FP) over its detections scoring >= t (0 when
  there are none) and R_c(t) = TP/G_c; F1_c = 2PR/(P+R) (0 when P+R = 0). The t with the highest mean
  F1_c wins (ties: the highest t); precision and recall are the means of P_c(t) and R_c(t) there, and
  t is kept in `best_conf`. So a low-scoring duplicate that sits below every true positive can be cut
  off by the threshold and cost nothing; one that competes with true positives lowers precision.
"""
from __future__ import annotations

import contextlib
import io

import numpy as np

KEYS = ("mAP50", "mAP50-95", "precision", "recall", "images", "instances")


def _array(x, cols: int, what: str) -> np.ndarray:
    """(k, cols) float64 array from numpy / torch / list; None or empty -> (0, cols)."""
    if x is None:
        return np.zeros((0, cols))
    if hasattr(x, "detach"):  # torch tensor
        x = x.detach().cpu().numpy()
    a = np.asarray(x, dtype=np.float64)
    if a.size == 0:
        return np.zeros((0, cols))
    if a.ndim != 2 or a.shape[1] != cols:
        raise ValueError(f"{what} must have shape (k, {cols}), got {a.shape}")
    if not np.isfinite(a).all():
        raise ValueError(f"{what} contains NaN or inf")
    return a


def _mean_valid(x: np.ndarray) -> float:
    """Mean over the entries COCO did not mark -1 (classes without ground truth); 0 if none."""
    v = x[x > -1]
    return float(v.mean()) if v.size else 0.0


class DetectionMetrics:
    """Accumulates predictions and ground truth per image; `compute()` evaluates with COCOeval."""

    def __init__(self, nc: int | None = None, names=None, max_dets: int = 100):
        if names is not None:
            names = list(names.values()) if isinstance(names, dict) else list(names)
            nc = len(names) if nc is None else nc
        if nc is None or int(nc) < 1:
            raise ValueError("DetectionMetrics needs nc >= 1 or a non-empty names list")
        self.nc = int(nc)
        self.names = names or [str(i) for i in range(self.nc)]
        self.max_dets = int(max_dets)
        self.best_conf = 0.0
        self.reset()

    def reset(self) -> None:
        self._seen: set[int] = set()
        self._images: list[dict] = []
        self._gts: list[dict] = []
        self._dets: list[dict] = []

    def _classes(self, c: np.ndarray, what: str) -> np.ndarray:
        ci = np.rint(c).astype(np.int64)
        if ci.size and (ci.min() < 0 or ci.max() >= self.nc):
            raise ValueError(f"{what} class id outside 0..{self.nc - 1}: {sorted(set(ci.tolist()))}")
        return ci

    def add(self, image_id: int, pred, gt, shape=None) -> None:
        """One image: pred (n, 6) [x1, y1, x2, y2, score, cls], gt (m, 5) [cls, x1, y1, x2, y2],
        shape = (h, w) of the original image (only stored in the COCO image record)."""
        image_id = int(image_id)
        if image_id in self._seen:
            raise ValueError(f"image_id {image_id} added twice")
        p, g = _array(pred, 6, "pred"), _array(gt, 5, "gt")
        pc, gc = self._classes(p[:, 5], "pred"), self._classes(g[:, 0], "gt")
        if shape is not None:
            h, w = int(shape[0]), int(shape[1])
        else:  # not used by bbox evaluation; a bound that covers every box
            xy = np.concatenate([p[:, [2, 3]], g[:, [3, 4]], np.ones((1, 2))])
            w, h = int(np.ceil(xy[:, 0].max())), int(np.ceil(xy[:, 1].max()))
        self._seen.add(image_id)
        iid = len(self._images) + 1  # internal COCO id; annotation ids start at 1 (0 = unmatched)
        self._images.append({"id": iid, "width": w, "height": h, "file_name": str(image_id)})
        for c, (x1, y1, x2, y2) in zip(gc.tolist(), g[:, 1:].tolist()):
            bw, bh = max(x2 - x1, 0.0), max(y2 - y1, 0.0)
            self._gts.append({"id": len(self._gts) + 1, "image_id": iid, "category_id": c,
                              "bbox": [x1, y1, bw, bh], "area": bw * bh, "iscrowd": 0})
        for c, (x1, y1, x2, y2, s) in zip(pc.tolist(), p[:, :5].tolist()):
            self._dets.append({"image_id": iid, "category_id": c, "score": s,
                               "bbox": [x1, y1, max(x2 - x1, 0.0), max(y2 - y1, 0.0)]})

    def compute(self) -> dict:
        """{"mAP50", "mAP50-95", "precision", "recall", "images", "instances"} (see module doc)."""
        out = dict.fromkeys(KEYS[:4], 0.0)
        out.update(images=len(self._images), instances=len(self._gts))
        self.best_conf = 0.0
        if not self._dets or not self._gts:  # loadRes([]) fails; no gt -> COCO gives only -1
            return out
        from pycocotools.coco import COCO
        from pycocotools.cocoeval import COCOeval

        with contextlib.redirect_stdout(io.StringIO()):
            coco_gt = COCO()
            coco_gt.dataset = {"images": self._images, "annotations": [dict(g) for g in self._gts],
                               "categories": [{"id": i, "name": n} for i, n in enumerate(self.names)]}
            coco_gt.createIndex()
            coco_dt = coco_gt.loadRes([dict(d) for d in self._dets])  # copies: COCO edits them
            ev = COCOeval(coco_gt, coco_dt, iouType="bbox")
            ev.params.maxDets = [1, 10, self.max_dets]
            a = ev.params.areaRngLbl.index("all")  # small/medium/large unused: 4x less matching
            ev.params.areaRng, ev.params.areaRngLbl = [ev.params.areaRng[a]], ["all"]
            ev.evaluate()
            ev.accumulate()
        # = summarize()'s stats[0] / stats[1] (mean of the entries > -1), read off the accumulated
        # precision [T, R, K, A, M] directly: summarize() hard-codes maxDets=100 for stats[0].
        prec = ev.eval["precision"][:, :, :, 0, -1]
        out["mAP50-95"] = _mean_valid(prec)
        out["mAP50"] = _mean_valid(prec[int(np.argmin(np.abs(np.asarray(ev.params.iouThrs) - 0.5)))])
        out["precision"], out["recall"], self.best_conf = self._max_f1(ev)
        return out

    def _max_f1(self, ev) -> tuple[float, float, float]:
        """Mean P and R over classes with ground truth at the max-mean-F1 threshold (module doc)."""
        p = ev.params
        t0 = int(np.argmin(np.abs(np.asarray(p.iouThrs) - 0.5)))
        n_area, n_img = len(p.areaRng), len(p.imgIds)
        a0 = p.areaRngLbl.index("all")
        per_class = []  # (scores, is_tp, is_fp, n_gt) for classes with ground truth
        for k in range(len(p.catIds)):
            block = ev.evalImgs[k * n_area * n_img + a0 * n_img:][:n_img]
            E = [e for e in block if e is not None]
            n_gt = sum(int(np.count_nonzero(e["gtIgnore"] == 0)) for e in E)
            if n_gt == 0:
                continue
            s = np.concatenate([e["dtScores"][: self.max_dets] for e in E]).astype(float)
            m = np.concatenate([e["dtMatches"][t0, : self.max_dets] for e in E])
            ig = np.concatenate([e["dtIgnore"][t0, : self.max_dets] for e in E]).astype(bool)
            per_class.append((s, (m != 0) & ~ig, (m == 0) & ~ig, n_gt))
        if not per_class:
            return 0.0, 0.0, 0.0
        thr = np.unique(np.concatenate([c[0] for c in per_class]))[::-1]  # descending
        if thr.size == 0:
            return 0.0, 0.0, 0.0
        P = np.zeros((len(per_class), thr.size))
        R = np.zeros_like(P)
        for i, (s, tp, fp, n_gt) in enumerate(per_class):
            order = np.argsort(-s, kind="mergesort")
            neg = -s[order]  # ascending
            ctp = np.concatenate([[0], np.cumsum(tp[order])])
            cfp = np.concatenate([[0], np.cumsum(fp[order])])
            n = np.searchsorted(neg, -thr, side="right")  # detections with score >= t
            tps, fps = ctp[n].astype(float), cfp[n].astype(float)
            P[i] = np.divide(tps, tps + fps, out=np.zeros_like(tps), where=(tps + fps) > 0)
            R[i] = tps / n_gt
        F1 = np.divide(2 * P * R, P + R, out=np.zeros_like(P), where=(P + R) > 0)
        j = int(np.argmax(F1.mean(0)))
        return float(P[:, j].mean()), float(R[:, j].mean()), float(thr[j])
