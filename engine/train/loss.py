"""Detection losses for training, one per head family; `make_loss(model)` takes the one the head table
(engine/heads.py) gives the model's head.

Call: `total, items = loss(preds, targets)` with `preds` the head's training-mode output and `targets` an
(N, 6) tensor [batch_idx, cls, xc, yc, w, h], coordinates normalised 0..1 to the (square) input image,
whose size is read off the feature maps (H * stride). `items` is a detached 1-D tensor of the three
weighted terms, named by `loss.names`. Conventions (both as their reference trainers do, so that the
published learning rates carry over):

- `DetectionLossDFL` (YOLOv8 family), names ("box", "cls", "dfl"): each term is a sum over the batch
  divided by the sum of the soft class targets (at least 1); total = (box + cls + dfl) * batch size.
  A head without DFL (reg_max 1: distances regressed directly) has ("box", "cls", "l1") instead: the
  L1 distance of the predicted to the target side distances, each side as a fraction of the image
  width or height, under the same gain.
- `DetectionLossE2E` (end-to-end heads; engine/train/loss_e2e.py): the DFL loss on each branch.
- `DetectionLossAnchor` (YOLOv5 family), names ("box", "obj", "cls"): each term is a per-level mean,
  summed over levels; total = (box + obj + cls) * batch size.

Both compute in float32 with autocast off, whatever dtype the maps come in.

Methods, written from their papers / descriptions: task-aligned assignment (TOOD; engine/train/assigner.py),
distribution focal loss (GFL, Li et al., 2020), CIoU (Zheng et al., 2020), YOLOv5's wh-ratio anchor
matching with the two neighbouring cells.
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from blocks.heads import DetectAnchor, DetectDFL, make_anchor_points

from .assigner import TaskAlignedAssigner
from .boxes import bbox2dist, bbox_iou, dist2bbox, xywh2xyxy


def make_loss(model: nn.Module, **gains):
    """The loss object for `model` (a DetectionModel or a bare head), as the head table says; keyword
    args override the gains. A module that is no head of the table raises TypeError."""
    from ..heads import head_kind  # here, not at the top: the table imports this module's losses

    head = model.model[-1] if hasattr(model, "model") else model
    return head_kind(head).loss(head, **gains)


def dfl_loss(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Distribution focal loss. logits (n, reg_max) over bins 0..reg_max-1, target (n,) a real value in
    [0, reg_max - 1): cross-entropy with the two bins around the target, weighted linearly by closeness
    (target 3.25 -> 0.75 on bin 3, 0.25 on bin 4). Returns (n,)."""
    lo = target.floor().long()
    hi = lo + 1
    w_lo = hi.to(target.dtype) - target
    w_hi = 1 - w_lo
    return (F.cross_entropy(logits, lo, reduction="none") * w_lo
            + F.cross_entropy(logits, hi, reduction="none") * w_hi)


def _float_maps(preds):
    """The head's maps as float32 (autocast hands fp16 ones over): assignment and IoU need the range."""
    feats = preds if isinstance(preds, (list, tuple)) else [preds]
    return [f.float() for f in feats]


def _device_type(preds) -> str:
    return (preds[0] if isinstance(preds, (list, tuple)) else preds).device.type


def _image_size(feats, strides):
    """(height, width) in pixels of the input the feature maps came from."""
    return feats[0].shape[-2] * strides[0], feats[0].shape[-1] * strides[0]


class DetectionLossDFL:
    """YOLOv8-style loss: task-aligned assignment, BCE classes, CIoU + DFL boxes."""

    names = ("box", "cls", "dfl")

    def __init__(self, head: DetectDFL, box: float = 7.5, cls: float = 0.5, dfl: float = 1.5,
                 topk: int = 10, alpha: float = 0.5, beta: float = 6.0, topk2: int | None = None):
        self.nc, self.reg_max = head.nc, head.reg_max
        self.strides = list(head.strides)
        self.gain_box, self.gain_cls, self.gain_dfl = box, cls, dfl
        self.assigner = TaskAlignedAssigner(topk=topk, num_classes=self.nc, alpha=alpha, beta=beta, topk2=topk2)
        self.bins = torch.arange(self.reg_max, dtype=torch.float)
        if self.reg_max == 1:
            self.names = ("box", "cls", "l1")

    def _gts(self, targets, batch, img_hw, dtype, device):
        """(N, 6) normalised targets -> labels (B, M, 1), xyxy pixel boxes (B, M, 4), mask (B, M, 1)."""
        targets = targets.to(device=device, dtype=dtype).view(-1, 6)
        n = targets.shape[0]
        img = torch.tensor([img_hw[1], img_hw[0], img_hw[1], img_hw[0]], dtype=dtype, device=device)
        if n == 0:
            return (torch.zeros(batch, 0, 1, dtype=dtype, device=device),
                    torch.zeros(batch, 0, 4, dtype=dtype, device=device),
                    torch.zeros(batch, 0, 1, dtype=torch.bool, device=device))
        bi = targets[:, 0].long()
        order = bi.argsort(stable=True)
        targets, bi = targets[order], bi[order]
        counts = torch.bincount(bi, minlength=batch)
        m = int(counts.max())
        slot = torch.arange(n, device=device) - (counts.cumsum(0) - counts)[bi]  # rank within its image
        labels = torch.zeros(batch, m, 1, dtype=dtype, device=device)
        boxes = torch.zeros(batch, m, 4, dtype=dtype, device=device)
        mask = torch.zeros(batch, m, 1, dtype=torch.bool, device=device)
        labels[bi, slot, 0] = targets[:, 1]
        boxes[bi, slot] = xywh2xyxy(targets[:, 2:6] * img)
        mask[bi, slot] = True
        return labels, boxes, mask

    def decode(self, pred_dist: torch.Tensor, points: torch.Tensor) -> torch.Tensor:
        """(B, A, 4 * reg_max) logits -> (B, A, 4) xyxy boxes in grid units (expected bin per side; with
        reg_max 1 the four outputs are the distances)."""
        if self.reg_max == 1:
            return dist2bbox(pred_dist, points)
        b, a, _ = pred_dist.shape
        prob = pred_dist.view(b, a, 4, self.reg_max).softmax(-1)
        dist = prob @ self.bins.to(prob.device, prob.dtype)
        return dist2bbox(dist, points)

    def __call__(self, preds, targets):
        with torch.autocast(_device_type(preds), enabled=False):
            return self._loss(_float_maps(preds), targets)

    def _loss(self, feats, targets):
        b = feats[0].shape[0]
        no = self.nc + 4 * self.reg_max
        flat = torch.cat([f.reshape(b, no, -1) for f in feats], 2)  # (B, no, A)
        pred_dist, pred_cls = flat.split((4 * self.reg_max, self.nc), 1)
        pred_dist = pred_dist.permute(0, 2, 1).contiguous()  # (B, A, 4 * reg_max), side-major
        pred_cls = pred_cls.permute(0, 2, 1).contiguous()  # (B, A, nc)
        dtype, device = pred_cls.dtype, pred_cls.device
        points, stride = make_anchor_points(feats, self.strides)  # (A, 2) grid units, (A, 1)

        labels, gt_boxes, mask_gt = self._gts(targets, b, _image_size(feats, self.strides), dtype, device)
        pred_boxes = self.decode(pred_dist, points)  # grid units
        asg = self.assigner(pred_cls.detach().sigmoid(), (pred_boxes.detach() * stride).to(gt_boxes.dtype),
                            points * stride, labels, gt_boxes, mask_gt)
        score_sum = asg.scores.sum().clamp(min=1)

        loss_cls = F.binary_cross_entropy_with_logits(pred_cls, asg.scores.to(dtype), reduction="sum") / score_sum
        fg = asg.fg_mask
        if fg.any():
            t_boxes = asg.bboxes / stride  # back to grid units, per anchor's level
            weight = asg.scores.sum(-1)[fg].unsqueeze(-1)  # (n, 1)
            iou = bbox_iou(pred_boxes[fg], t_boxes[fg], xywh=False, CIoU=True)
            loss_box = ((1.0 - iou) * weight).sum() / score_sum
            if self.reg_max == 1:  # L1 on the side distances, as fractions of the image's width / height
                t_dist = torch.cat((points - t_boxes[..., :2], t_boxes[..., 2:] - points), -1)
                img = torch.tensor(_image_size(feats, self.strides), dtype=dtype, device=device).flip(0).repeat(2)
                per_side = ((pred_dist - t_dist) * stride / img)[fg].abs()
            else:
                t_dist = bbox2dist(points.expand(b, -1, -1), t_boxes, self.reg_max - 1 - 0.01)[fg]  # (n, 4)
                per_side = dfl_loss(pred_dist[fg].view(-1, self.reg_max), t_dist.reshape(-1)).view(-1, 4)
            loss_dfl = (per_side.mean(-1, keepdim=True) * weight).sum() / score_sum
        else:
            loss_box = loss_dfl = pred_dist.sum() * 0.0  # keeps the graph connected

        box, cls, dfl = loss_box * self.gain_box, loss_cls * self.gain_cls, loss_dfl * self.gain_dfl
        return (box + cls + dfl) * b, torch.stack((box, cls, dfl)).detach()


class DetectionLossAnchor:
    """YOLOv5-style loss: wh-ratio anchor matching over three cells, CIoU box, IoU-targeted objectness, BCE classes."""

    names = ("box", "obj", "cls")

    def __init__(self, head: DetectAnchor, box: float = 0.05, cls: float = 0.5, obj: float = 1.0,
                 anchor_t: float = 4.0):
        self.nc, self.na, self.nl = head.nc, head.na, head.nl
        self.strides = list(head.strides)
        self.head = head  # its `anchors` buffer (nl, na, 2, pixels) is read at call time: follows .to(device)
        self.anchor_t = anchor_t
        self.balance = [4.0, 1.0, 0.4] if self.nl == 3 else [4.0, 1.0, 0.25, 0.06, 0.02][: self.nl]
        self.balance += [self.balance[-1]] * (self.nl - len(self.balance))
        self.gain_box, self.gain_cls, self.gain_obj = box, cls, obj

    def match(self, targets: torch.Tensor, level: int, grid_hw: tuple[int, int]):
        """Targets matched to the anchors of one level. Returns (b, a, gj, gi, tbox, anchor_wh, cls) with
        tbox the target xywh relative to the cell's corner (grid units) and anchor_wh in grid units.

        A target goes to every anchor whose width and height ratios r satisfy max(r, 1/r) < anchor_t, in
        the cell holding its centre plus, in x and in y, the neighbour on the side the centre is nearer
        to (fraction < 0.5: the cell before, > 0.5: the cell after), when that neighbour is on the grid."""
        h, w = grid_hw
        dev, dt = targets.device, targets.dtype
        anchors = self.head.anchors[level].to(dev, dt) / self.strides[level]  # (na, 2) grid units
        t = targets.view(-1, 6)
        if t.shape[0] == 0:
            e = torch.zeros(0, dtype=torch.long, device=dev)
            return e, e, e, e, torch.zeros(0, 4, dtype=dt, device=dev), torch.zeros(0, 2, dtype=dt, device=dev), e
        scale = torch.tensor([w, h, w, h], dtype=dt, device=dev)
        xywh = t[:, 2:6] * scale  # grid units
        r = xywh[None, :, 2:4] / anchors[:, None]  # (na, nt, 2)
        ok = torch.maximum(r, 1 / r).amax(-1) < self.anchor_t  # (na, nt)
        ai, ti = ok.nonzero(as_tuple=True)
        xy, wh = xywh[ti, :2], xywh[ti, 2:]
        cell = xy.floor().long()
        cell[:, 0].clamp_(0, w - 1)
        cell[:, 1].clamp_(0, h - 1)
        frac = xy - xy.floor()
        size = torch.tensor([w, h], device=dev)
        before = (frac < 0.5) & (cell > 0)
        after = (frac > 0.5) & (cell < size - 1)
        cells, keep = [cell], [torch.ones_like(ai, dtype=torch.bool)]
        for d in range(2):  # x then y: the neighbour on the nearer side
            off = torch.zeros_like(cell)
            off[:, d] = torch.where(before[:, d], -1, torch.where(after[:, d], 1, 0))
            cells.append(cell + off)
            keep.append(before[:, d] | after[:, d])
        keep = torch.cat(keep)
        cells = torch.cat(cells)[keep]
        xy, wh = xy.repeat(3, 1)[keep], wh.repeat(3, 1)[keep]
        ai, ti = ai.repeat(3)[keep], ti.repeat(3)[keep]
        tbox = torch.cat((xy - cells.to(dt), wh), 1)
        return t[ti, 0].long(), ai, cells[:, 1], cells[:, 0], tbox, anchors[ai], t[ti, 1].long()

    def __call__(self, preds, targets):
        with torch.autocast(_device_type(preds), enabled=False):
            return self._loss(_float_maps(preds), targets)

    def _loss(self, feats, targets):
        bs = feats[0].shape[0]
        dev, dt = feats[0].device, feats[0].dtype
        targets = targets.to(device=dev, dtype=dt).view(-1, 6)
        lbox = torch.zeros((), device=dev, dtype=dt)
        lobj, lcls = lbox.clone(), lbox.clone()
        for i, p in enumerate(feats):  # p: (B, na, H, W, 5 + nc)
            h, w = p.shape[2:4]
            b, a, gj, gi, tbox, anch, tcls = self.match(targets, i, (h, w))
            tobj = torch.zeros(p.shape[:4], device=dev, dtype=dt)
            if b.numel():
                ps = p[b, a, gj, gi]  # (n, 5 + nc)
                pxy = ps[:, :2].sigmoid() * 2 - 0.5
                pwh = (ps[:, 2:4].sigmoid() * 2) ** 2 * anch
                iou = bbox_iou(torch.cat((pxy, pwh), 1), tbox, xywh=True, CIoU=True).squeeze(-1)
                lbox = lbox + (1.0 - iou).mean()
                flat = ((b * self.na + a) * h + gj) * w + gi  # a cell hit twice keeps its best IoU
                tobj = tobj.view(-1).scatter_reduce(0, flat, iou.detach().clamp(min=0), reduce="amax").view_as(tobj)
                if self.nc > 1:  # single class: objectness carries it
                    t = F.one_hot(tcls.clamp(0, self.nc - 1), self.nc).to(dt)
                    lcls = lcls + F.binary_cross_entropy_with_logits(ps[:, 5:], t)
            lobj = lobj + F.binary_cross_entropy_with_logits(p[..., 4], tobj) * self.balance[i]

        img_h, _ = _image_size(feats, self.strides)
        k = 3 / self.nl
        box = lbox * self.gain_box * k
        obj = lobj * self.gain_obj * (img_h / 640) ** 2 * k
        cls = lcls * self.gain_cls * self.nc / 80 * k
        return (box + obj + cls) * bs, torch.stack((box, obj, cls)).detach()
