"""Task-aligned label assignment for the anchor-free (YOLOv8-style) head, after TOOD (Feng et al., 2021).

For every ground-truth box g and anchor point a:
    align(g, a) = score(a, class of g) ** alpha * IoU(pred box of a, g) ** beta
where IoU is CIoU clamped at 0, as Ultralytics 8.4's assigner uses (the loss's box term is CIoU too).
Candidates of g are the anchor points whose centre lies strictly inside g (by more than eps). Each g
keeps its top-k candidates by align; an anchor kept by several gts goes to the one whose box it
overlaps most (highest IoU); with `topk2` below `topk` (the one-to-one branch of an end-to-end head:
topk 7, topk2 1, as Ultralytics 8.4 trains it) each g then keeps only its topk2 best of those by align.
Positives get soft class targets: one-hot of their gt's class times
    align(g, a) / max_a' align(g, a') * max_a' IoU(g, a')     (max over g's positives)
so the best-aligned positive of each gt gets a score equal to that gt's best IoU.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from .boxes import bbox_iou


@dataclass
class Assignment:
    labels: torch.Tensor   # (B, A) long, class of the assigned gt (0 where background)
    bboxes: torch.Tensor   # (B, A, 4) xyxy of the assigned gt (gt 0's box where background)
    scores: torch.Tensor   # (B, A, nc) soft class targets, 0 for background
    fg_mask: torch.Tensor  # (B, A) bool, positives
    gt_idx: torch.Tensor   # (B, A) long, index of the assigned gt within its image


def points_in_boxes(points: torch.Tensor, boxes: torch.Tensor, eps: float = 1e-9) -> torch.Tensor:
    """(A, 2) points, (B, M, 4) xyxy boxes -> (B, M, A) bool: point strictly inside the box."""
    p = points.view(1, 1, -1, 2)
    lt = p - boxes[..., None, :2]
    rb = boxes[..., None, 2:] - p
    return torch.cat((lt, rb), -1).amin(-1) > eps


def _pair_iou(pred: torch.Tensor, gt: torch.Tensor) -> torch.Tensor:
    """(B, A, 4) predictions and (B, M, 4) gts, xyxy -> (B, M, A) CIoU (IoU less the centre-distance
    and aspect-ratio penalties), clamped at 0: the overlap Ultralytics' assigner ranks by."""
    return bbox_iou(gt[:, :, None], pred[:, None], xywh=False, CIoU=True).squeeze(-1).clamp(min=0)


class TaskAlignedAssigner:
    def __init__(self, topk: int = 10, num_classes: int = 80, alpha: float = 0.5, beta: float = 6.0,
                 eps: float = 1e-9, topk2: int | None = None):
        self.topk, self.nc, self.alpha, self.beta, self.eps = topk, num_classes, alpha, beta, eps
        self.topk2 = topk2 or topk

    @torch.no_grad()
    def __call__(self, pd_scores, pd_bboxes, anchor_points, gt_labels, gt_bboxes, mask_gt) -> Assignment:
        """pd_scores (B, A, nc) probabilities; pd_bboxes (B, A, 4) xyxy; anchor_points (A, 2);
        gt_labels (B, M, 1); gt_bboxes (B, M, 4) xyxy (same units as the points); mask_gt (B, M, 1)
        marks the real gts among the padding."""
        b, a, nc = pd_scores.shape
        m = gt_bboxes.shape[1]
        dev = pd_scores.device
        if m == 0:
            return Assignment(torch.zeros(b, a, dtype=torch.long, device=dev),
                              torch.zeros(b, a, 4, dtype=pd_bboxes.dtype, device=dev),
                              torch.zeros_like(pd_scores), torch.zeros(b, a, dtype=torch.bool, device=dev),
                              torch.zeros(b, a, dtype=torch.long, device=dev))

        real = mask_gt.view(b, m, 1).bool()
        inside = points_in_boxes(anchor_points, gt_bboxes, self.eps) & real  # (B, M, A)
        iou = _pair_iou(pd_bboxes, gt_bboxes) * inside
        labels = gt_labels.view(b, m).long().clamp(0, nc - 1)
        score = pd_scores.gather(2, labels[:, None, :].expand(b, a, m)).transpose(1, 2)  # (B, M, A)
        align = score.pow(self.alpha) * iou.pow(self.beta) * inside

        # top-k among the inside anchors (outside ones ranked below any inside one)
        k = min(self.topk, a)
        rank = torch.where(inside, align, torch.full_like(align, -1.0))
        top = rank.topk(k, dim=-1).indices  # (B, M, k)
        chosen = torch.zeros_like(inside).scatter_(-1, top, True) & inside  # (B, M, A)

        # an anchor kept by several gts goes to the one it overlaps most
        multi = chosen.sum(1, keepdim=True) > 1  # (B, 1, A)
        if multi.any():
            best = torch.where(chosen, iou, torch.full_like(iou, -1.0)).argmax(1, keepdim=True)  # (B, 1, A)
            only_best = torch.zeros_like(chosen).scatter_(1, best, True)
            chosen = torch.where(multi, only_best & chosen, chosen)
        if self.topk2 < k:  # then each gt's topk2 best by align among what it kept (kept ones first on ties)
            top2 = torch.where(chosen, align, torch.full_like(align, -1.0)).topk(self.topk2, dim=-1).indices
            chosen = chosen & torch.zeros_like(chosen).scatter_(-1, top2, True)

        fg = chosen.any(1)  # (B, A)
        gt_idx = chosen.to(torch.uint8).argmax(1)  # (B, A)
        t_labels = labels.gather(1, gt_idx)
        t_boxes = gt_bboxes.gather(1, gt_idx[..., None].expand(b, a, 4))
        t_scores = torch.nn.functional.one_hot(t_labels, nc).to(pd_scores.dtype) * fg[..., None]

        # soft targets: normalised alignment, scaled to the best IoU of each gt
        align = align * chosen
        align_max = align.amax(-1, keepdim=True)  # (B, M, 1)
        iou_max = (iou * chosen).amax(-1, keepdim=True)
        norm = (align * iou_max / (align_max + self.eps)).amax(1)  # (B, A)
        t_scores = t_scores * norm[..., None]
        t_labels = torch.where(fg, t_labels, torch.zeros_like(t_labels))
        return Assignment(t_labels, t_boxes, t_scores, fg, gt_idx)
