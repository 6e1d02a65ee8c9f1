"""Test-time inference: letterbox (engine/images.py's, the one validation uses too), decode + NMS
(plain torch), boxes back to the image, drawing, and a `Predictor` over a torch model or an
onnxruntime session, with per-stage timings.

Conventions:
- The model always sees a `imgsz` x `imgsz` square: the image is resized (bilinear) so its long side
  is `imgsz`, then padded with grey 114 on both sides, centred. A fixed square keeps one input shape
  for every image (static-shape ONNX exports work; no re-tracing), at the cost of some padding.
- Head outputs (eval mode, already in input pixels): each head's layout and its decode to candidate
  boxes are its row of the head table (engine/heads.py): anchor-based (YOLOv5) (B, N, 5 + nc) =
  [cx, cy, w, h, obj, cls...], score obj * class prob; anchor-free (YOLOv8) (B, 4 + nc, N) =
  [cx, cy, w, h, cls...], score the class prob, the best class kept; end-to-end (YOLO26, YOLOv10)
  (B, 300, 6) = [x1, y1, x2, y2, score, class], best first, no NMS.
- A box is kept when score >= conf. At most MAX_CANDIDATES (3000) boxes per image, the highest
  scoring, go into NMS: its IoU matrix is quadratic, and a sane model never needs more.
"""
from __future__ import annotations

import colorsys
import statistics
import time

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont

from ..checkpoint import default_names
from ..heads import head_kind
from ..images import letterbox

MAX_CANDIDATES = 3000
MAX_DRAW_SIDE = 16383  # the annotated image's long side at most: WebP's limit (the page's gallery format)


def to_tensor(img: np.ndarray) -> torch.Tensor:
    """(H, W, 3) uint8 -> (1, 3, H, W) float32 in 0..1."""
    return torch.from_numpy(np.ascontiguousarray(img.transpose(2, 0, 1))).float().div_(255).unsqueeze(0)


def nms(boxes_xyxy: torch.Tensor, scores: torch.Tensor, iou_thres: float,
        max_keep: int | None = None) -> torch.Tensor:
    """Greedy NMS: indices of the kept boxes, by score descending. A box is dropped when its IoU with
    a kept, higher scoring box is > iou_thres. Only the top MAX_CANDIDATES boxes are considered.
    Stops after `max_keep` kept boxes (the same first ones). Each kept box is compared with the
    boxes after it only (numpy, float64): O(kept x n), no n x n matrix, so 3000 candidates take
    tens of ms on one core."""
    if boxes_xyxy.numel() == 0:
        return torch.zeros(0, dtype=torch.long)
    order = torch.sort(scores.detach().cpu(), descending=True, stable=True).indices[:MAX_CANDIDATES]
    x1, y1, x2, y2 = boxes_xyxy.detach().cpu().double().numpy()[order.numpy()].T
    area = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    removed = np.zeros(len(order), dtype=bool)
    keep = []
    for i in range(len(order)):
        if removed[i]:
            continue
        keep.append(i)
        if max_keep is not None and len(keep) >= max_keep:
            break
        j = slice(i + 1, None)
        inter = np.clip(np.minimum(x2[i], x2[j]) - np.maximum(x1[i], x1[j]), 0, None)
        inter *= np.clip(np.minimum(y2[i], y2[j]) - np.maximum(y1[i], y1[j]), 0, None)
        union = np.maximum(area[i] + area[j] - inter, np.finfo(np.float64).tiny)
        removed[j] |= inter / union > iou_thres
    return order[torch.tensor(keep, dtype=torch.long)]


def batched_nms(boxes: torch.Tensor, scores: torch.Tensor, classes: torch.Tensor, iou: float,
                max_keep: int | None = None) -> torch.Tensor:
    """Class-aware NMS: each class in its own coordinate range (offset by class * span), so boxes of
    different classes never overlap. Computed in float64 so large offsets keep their precision."""
    if boxes.numel() == 0:
        return torch.zeros(0, dtype=torch.long)
    b = boxes.detach().cpu().double()
    span = float(b.max() - b.min()) + 1.0
    return nms(b + (classes.detach().cpu().double() * span)[:, None], scores, iou, max_keep)


def decode(output, kind, conf: float = 0.25, iou: float = 0.45,
           max_det: int = 300) -> list[torch.Tensor]:
    """Raw head output -> per image a (n, 6) float32 tensor [x1, y1, x2, y2, score, class] in
    letterboxed-input pixels, by score descending: conf filter, then (heads whose row says `nms`) the
    top candidates and class-aware NMS; an end-to-end head's rows are already one per object.
    `kind`: the head's row of the head table, or what `head_kind` takes (the head, its class, the model)."""
    kind = head_kind(kind)
    out = torch.as_tensor(output).float().cpu()
    if out.ndim != 3:
        raise ValueError(f"head output must be 3-d (batch first), got shape {tuple(out.shape)}")
    if out.shape[kind.channel_axis] < kind.channels(1):
        raise ValueError(f"{kind.label} output must be {kind.layout}, got {tuple(out.shape)}")
    results = []
    for p in kind.rows(out):
        box, score, cls = kind.decode(p, conf)
        m = score >= conf
        box, score, cls = box[m], score[m], cls[m]
        if kind.nms:
            if len(score) > MAX_CANDIDATES:
                top = score.topk(MAX_CANDIDATES).indices
                box, score, cls = box[top], score[top], cls[top]
            keep = batched_nms(box, score, cls, iou, max_det)
        else:
            keep = torch.sort(score, descending=True, stable=True).indices[:max_det]
        results.append(torch.cat((box[keep], score[keep, None], cls[keep, None].float()), 1))
    return results


def scale_boxes(dets: torch.Tensor, ratio: float, pad, orig_shape) -> torch.Tensor:
    """Letterbox pixels -> original image pixels (undo pad, then ratio), clipped to the image.
    `dets` is (n, >=4) xyxy first; a new tensor is returned. orig_shape = (H, W)."""
    d = dets.clone().float()
    h, w = orig_shape[:2]
    d[:, [0, 2]] = ((d[:, [0, 2]] - pad[0]) / ratio).clamp(0, w)
    d[:, [1, 3]] = ((d[:, [1, 3]] - pad[1]) / ratio).clamp(0, h)
    return d


def class_names(names, nc: int) -> list[str]:
    if names is None:
        return default_names(nc)
    if isinstance(names, dict):
        names = [names.get(i, d) for i, d in enumerate(default_names(nc))]
    names = [str(n) for n in names]
    if len(names) != nc:
        raise ValueError(f"{len(names)} class names for a model with {nc} classes")
    return names


def to_detections(dets: torch.Tensor, names) -> list[dict]:
    """(n, 6) tensor -> [{class_id, class_name, confidence, box: [x1, y1, x2, y2]}] plain data."""
    out = []
    for x1, y1, x2, y2, s, c in dets.tolist():
        c = int(c)
        name = names[c] if 0 <= c < len(names) else f"class{c}"
        out.append({"class_id": c, "class_name": name, "confidence": round(s, 4),
                    "box": [round(x1, 2), round(y1, 2), round(x2, 2), round(y2, 2)]})
    return out


def class_color(c: int) -> tuple[int, int, int]:
    """A distinct, saturated colour per class id (golden-ratio hue steps)."""
    r, g, b = colorsys.hsv_to_rgb((c * 0.618033988749895) % 1.0, 0.85, 0.95)
    return int(r * 255), int(g * 255), int(b * 255)


def _font(px: int):
    try:
        return ImageFont.load_default(size=px)
    except TypeError:  # Pillow without FreeType size support
        return ImageFont.load_default()


def fit_side(im: Image.Image, max_side: int | None) -> tuple[Image.Image, float]:
    """(im scaled down so its long side is at most `max_side`, the scale); (im, 1.0) if it fits."""
    w, h = im.size
    if not max_side or max(w, h) <= max_side:
        return im, 1.0
    s = max_side / max(w, h)
    return im.resize((max(1, min(max_side, round(w * s))), max(1, min(max_side, round(h * s)))), Image.BILINEAR), s


def draw(img: np.ndarray, detections, names=None, max_side: int | None = MAX_DRAW_SIDE) -> Image.Image:
    """The image with a coloured box per detection and a "name 0.87" label on a filled background.
    `detections` is a list of dicts (to_detections) or an (n, 6) tensor. An image whose long side
    is over `max_side` is drawn scaled down to it (a picture to look at; detections are unchanged)."""
    if isinstance(detections, torch.Tensor):
        detections = to_detections(detections, list(names or []))
    im, scale = fit_side(Image.fromarray(np.asarray(img, dtype=np.uint8)).convert("RGB"), max_side)
    w, h = im.size
    lw = max(2, round(min(w, h) / 320))
    font = _font(max(11, round(min(w, h) / 40)))
    d = ImageDraw.Draw(im)
    for det in detections:
        c = int(det["class_id"])
        name = det.get("class_name") or (names[c] if names and 0 <= c < len(names) else f"class{c}")
        x1, y1, x2, y2 = (v * scale for v in det["box"])
        color = class_color(c)
        d.rectangle((x1, y1, max(x1, x2), max(y1, y2)), outline=color, width=lw)
        text = f"{name} {det['confidence']:.2f}"
        l, t, r, b = d.textbbox((0, 0), text, font=font)
        tw, th = r - l + 4, b - t + 4
        ty = y1 - th if y1 - th >= 0 else y1  # above the box, or just inside it at the top
        tx = min(max(0, x1), max(0, w - tw))
        d.rectangle((tx, ty, tx + tw, ty + th), fill=color)
        ink = (0, 0, 0) if sum(v * k for v, k in zip(color, (0.299, 0.587, 0.114))) > 140 else (255, 255, 255)
        d.text((tx + 2 - l, ty + 2 - t), text, fill=ink, font=font)
    return im


class Predictor:
    """Inference over a torch DetectionModel (backend "torch") or an onnxruntime session ("onnx")."""

    def __init__(self, run, backend: str, kind, nc: int, names=None, imgsz: int = 640, stride: int = 32):
        self._run, self.backend, self.kind = run, backend, head_kind(kind)
        self.nc, self.imgsz, self.stride = int(nc), int(imgsz), int(stride)
        self.names = class_names(names, self.nc)
        if self.imgsz <= 0 or self.imgsz % self.stride:
            raise ValueError(f"imgsz {imgsz} must be a positive multiple of the stride {self.stride}")

    @classmethod
    def from_torch(cls, model, names=None, imgsz: int = 640) -> "Predictor":
        """Wraps a DetectionModel (set to eval mode); kind and nc come from its head."""
        head = model.model[-1]
        model.eval()
        stride = int(max(model.stride.tolist())) if hasattr(model, "stride") else 32
        device = next(model.parameters()).device

        def run(x):
            with torch.inference_mode():
                return model(x.to(device)).float().cpu()
        return cls(run, "torch", head_kind(head), head.nc, names, imgsz, stride)

    @classmethod
    def from_onnx(cls, path, kind, nc: int, names=None, imgsz: int = 640) -> "Predictor":
        """Wraps an ONNX export (input `images`, output `output0`), or an existing InferenceSession;
        `kind` is the exported head's row of the head table (or its head class, or the model)."""
        import onnxruntime as ort

        sess = path if isinstance(path, ort.InferenceSession) else \
            ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        inputs = sess.get_inputs()
        inp = next((i for i in inputs if i.name == "images"), inputs[0])
        outs = [o.name for o in sess.get_outputs()]
        out_name = "output0" if "output0" in outs else outs[0]
        shape = inp.shape  # static exports: the image size is fixed
        if len(shape) == 4 and all(isinstance(s, int) for s in shape[2:]) \
                and tuple(shape[2:]) != (imgsz, imgsz):
            raise ValueError(f"the ONNX model takes {shape[2]}x{shape[3]} inputs, not imgsz {imgsz}")

        def run(x):
            return torch.from_numpy(sess.run([out_name], {inp.name: x.numpy()})[0]).float()
        return cls(run, "onnx", kind, nc, names, imgsz)

    def _check(self, img) -> np.ndarray:
        img = np.asarray(img)
        if img.ndim == 2:
            img = np.repeat(img[:, :, None], 3, axis=2)
        if img.ndim != 3 or img.shape[2] != 3 or img.dtype != np.uint8 or 0 in img.shape:
            raise ValueError(f"expected an (H, W, 3) uint8 RGB image, got {img.dtype} {img.shape}")
        return img

    def _stages(self, img: np.ndarray, conf: float, iou: float, max_det: int):
        t0 = time.perf_counter()
        lb, ratio, pad = letterbox(img, self.imgsz, self.stride)
        x = to_tensor(lb)
        t1 = time.perf_counter()
        out = self._run(x)
        t2 = time.perf_counter()
        if not self.kind.matches(out, self.nc):
            raise ValueError(f"model output {tuple(out.shape)} is not the {self.kind.label} head's "
                             f"{self.kind.layout} with {self.nc} classes")
        dets = scale_boxes(decode(out, self.kind, conf, iou, max_det)[0], ratio, pad, img.shape)
        found = to_detections(dets, self.names)
        t3 = time.perf_counter()
        ms = {"pre": (t1 - t0) * 1e3, "inference": (t2 - t1) * 1e3, "post": (t3 - t2) * 1e3}
        return found, ms

    def predict(self, img: np.ndarray, conf: float = 0.25, iou: float = 0.45, max_det: int = 300,
                max_side: int | None = MAX_DRAW_SIDE) -> dict:
        """{detections: [dict], image: annotated PIL image (drawing not timed; long side at most
        `max_side`), timing_ms: {pre, inference, post}} for one (H, W, 3) uint8 RGB image; boxes in
        its pixels."""
        img = self._check(img)
        found, ms = self._stages(img, conf, iou, max_det)
        return {"detections": found, "image": draw(img, found, self.names, max_side),
                "timing_ms": {k: round(v, 3) for k, v in ms.items()}}

    def benchmark(self, img: np.ndarray, runs: int = 5, conf: float = 0.25, iou: float = 0.45) -> dict:
        """Median ms of {pre, inference, post} over `runs` runs, after one warm-up run."""
        img = self._check(img)
        self._stages(img, conf, iou, 300)
        times = [self._stages(img, conf, iou, 300)[1] for _ in range(max(1, int(runs)))]
        return {k: round(statistics.median(t[k] for t in times), 3) for k in ("pre", "inference", "post")}
