"""The loss of the end-to-end heads (blocks/heads.py DetectE2E: YOLO26's `end2end: True`; DetectV10):
the DFL loss (engine/train/loss.py, L1 in place of DFL for reg_max 1) on each of the two branches.

- one-to-many (cv2, cv3): task-aligned assignment with topk 10, as the anchor-free head trains;
- one-to-one (one2one_cv2, one2one_cv3, the branch inference uses): topk 7, then each ground truth
  keeps its single best anchor (topk2 1), so the branch learns to put one box on each object and
  needs no NMS.

total = w * one-to-many + (1 - w) * one-to-one, each already times the batch size. w is 0.8 at the
first epoch and falls linearly to 0.1 at the last: the trainer calls `set_epoch(epoch, epochs)` at
each epoch's start (without it w stays 0.8). These are the weights and the schedule Ultralytics 8.4 trains YOLO26
and YOLOv10 with (its E2ELoss), read for the facts; the code is ours. `items` holds both branches'
three terms, gains applied, branch weights not: names ("box", "cls", "dfl" | "l1") then the same
with "_o2o".
"""
from __future__ import annotations

import torch

from .loss import DetectionLossDFL


class DetectionLossE2E:
    def __init__(self, head, box: float = 7.5, cls: float = 0.5, dfl: float = 1.5, topk: int = 10,
                 o2o_topk: int = 7, o2o_topk2: int = 1, o2m: float = 0.8, o2m_final: float = 0.1):
        self.one2many = DetectionLossDFL(head, box, cls, dfl, topk=topk)
        self.one2one = DetectionLossDFL(head, box, cls, dfl, topk=o2o_topk, topk2=o2o_topk2)
        self.names = (*self.one2many.names, *(f"{n}_o2o" for n in self.one2one.names))
        self.o2m_start, self.o2m_final = o2m, o2m_final
        self.o2m = o2m  # the one-to-many branch's weight now; the one-to-one one's is 1 - o2m

    def set_epoch(self, epoch: int, epochs: int) -> float:
        """The branch weights of `epoch` (0-based) of `epochs`; returns the one-to-many weight."""
        left = max(1 - epoch / max(epochs - 1, 1), 0.0)
        self.o2m = left * (self.o2m_start - self.o2m_final) + self.o2m_final
        return self.o2m

    def __call__(self, preds: dict, targets: torch.Tensor):
        many, many_items = self.one2many(preds["one2many"], targets)
        one, one_items = self.one2one(preds["one2one"], targets)
        return many * self.o2m + one * (1 - self.o2m), torch.cat((many_items, one_items))
