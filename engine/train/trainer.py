"""The trainer: one code path for `launch.py train`, `torchrun ... launch.py train` and the page.

It fires events (fit_start, batch_end, epoch_end, fit_end) to subscribers — the CLI progress line and
the JSONL event file are two; the page is another — and knows nothing of any of them (minGPT's idea).
What it does, per epoch: SGD (momentum 0.937, Nesterov) over three groups (weights with decay,
BatchNorm weights and biases without; optim.py), warm-up then linear or cosine decay, gradient
accumulation to a nominal batch of 64, AMP on CUDA, gradient clipping, an EMA of the weights; mosaic
off for the last epochs; then (rank 0) validation of the EMA model with the COCO evaluator and
`last.pt` / `best.pt`. Under torchrun it wraps the model in DistributedDataParallel (NCCL on GPUs, gloo
on CPU) with a distributed sampler. Seeded: a CPU run repeats exactly, and `--resume` continues where
it stopped (reading last.pt through the checked checkpoint loader).
"""
from __future__ import annotations

import hashlib
import math
import os
import random
import re
import time
from dataclasses import asdict, dataclass, field, fields

import numpy as np
import torch
import torch.distributed as dist
import torch.nn as nn

from graph.model import DetectionModel, build
from graph.resolve import resolve
from graph.source import source

from ..checkpoint import CheckpointError, read_checkpoint, save_checkpoint
from ..data.config import load_data_config
from ..data.dataset import YoloDataset, build_dataloader
from ..deploy.predictor import decode
from ..heads import head_kind
from .ema import ModelEMA
from .loss import make_loss
from .boxes import label_rows
from .metrics import DetectionMetrics
from .optim import make_optimizer
from .stopping import StopAndEta


@dataclass
class TrainConfig:
    cfg: str | None = None  # a model yaml
    preset: str | None = None
    backbone: str | None = None
    neck: str | None = None
    head: str | None = None
    scale: str = "n"
    data: str = "shapes"
    epochs: int = 30
    imgsz: int = 256
    batch: int = 16
    device: str = "cpu"
    workers: int = 0
    project: str = "runs"
    name: str = "exp"
    events: str | None = None
    resume: str | None = None
    exist_ok: bool = False  # write into project/name even if it exists (the page's jobs make it first)
    seed: int = 0
    optimizer: str = "auto"  # SGD | AdamW | auto (AdamW for short schedules, SGD for long ones)
    lr0: float = 0.01  # SGD's; auto's AdamW takes its own (see make_optimizer)
    lrf: float = 0.01
    momentum: float = 0.937
    weight_decay: float = 5e-4
    warmup_epochs: float = 3.0
    warmup_bias_lr: float = 0.1
    warmup_momentum: float = 0.8
    cos_lr: bool = False
    nbs: int = 64  # nominal batch size: gradients accumulate to it
    close_mosaic: int = 10
    clip: float = 10.0
    sync_bn: bool = False
    cache: bool = False
    mosaic: bool = True
    val_conf: float = 0.001
    val_iou: float = 0.6

    @classmethod
    def from_dict(cls, d: dict) -> "TrainConfig":
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})


@dataclass
class Events:
    """Subscribers by event name; each gets a plain dict."""

    subscribers: dict = field(default_factory=dict)

    def on(self, event: str, fn) -> None:
        self.subscribers.setdefault(event, []).append(fn)

    def fire(self, event: str, **data) -> None:
        for fn in self.subscribers.get(event, []) + self.subscribers.get("*", []):
            fn({"event": event, **data})


def model_yaml(c: TrainConfig, nc: int) -> str:
    """The yaml text of the model to train, with the dataset's class count."""
    if c.cfg or c.preset:  # a file or preset keeps its own scale
        design = source(c.cfg, nc=nc) if c.cfg else source(preset=c.preset, nc=nc)
    else:
        picks = {"backbone": c.backbone or "yolov8", "neck": c.neck or "yolov8-pan", "head": c.head or "yolov8"}
        design = source(picks=picks, scale=c.scale, nc=nc)
    return design.dump(imgsz=c.imgsz, title=f"{design.spec.name} (trained by YOLO Lite Designer)")


def weights_digest(model: nn.Module) -> str:
    """A fingerprint of the trained parameters: equal on every rank of a correct distributed run
    (BatchNorm running statistics are per rank unless --sync-bn; DDP re-broadcasts them each step)."""
    h = hashlib.sha256()
    for name, value in sorted(model.named_parameters()):
        h.update(name.encode())
        h.update(value.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


def seed_all(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


class DeviceError(ValueError):
    """A device this machine cannot give (or no device at all); the message is one line."""


def check_device(device: str) -> str:
    """'cpu', 'cuda' or 'cuda:N' (normalised) if this machine has it, else DeviceError."""
    d = str(device).strip().lower()
    m = re.fullmatch(r"cpu|cuda(?::(\d+))?", d)
    if m is None:
        raise DeviceError(f"unknown device {device!r}; use cpu, cuda or cuda:N")
    n = torch.cuda.device_count() if d != "cpu" and torch.cuda.is_available() else 0
    if d != "cpu" and n == 0:
        raise DeviceError(f"{d} was asked for but this machine has no CUDA device; use --device cpu")
    if m.group(1) is not None and int(m.group(1)) >= n:
        raise DeviceError(f"{d} was asked for but this machine has {n} CUDA device(s); use cuda:0 to cuda:{n - 1}")
    return d


class Trainer(StopAndEta):
    def __init__(self, config: TrainConfig, events: Events | None = None):
        self.c = config
        self.events = events or Events()
        self.rank, self.world = int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1))
        self.local_rank = int(os.environ.get("LOCAL_RANK", 0))
        self.stop_requested = False

    # -- set-up ---------------------------------------------------------------------------------
    def _setup_distributed(self) -> torch.device:
        cuda = check_device(self.c.device) != "cpu"
        if self.world > 1 and not dist.is_initialized():
            dist.init_process_group("nccl" if cuda else "gloo")
        if cuda:
            index = self.local_rank if self.world > 1 else int(self.c.device.split(":")[1] if ":" in self.c.device else 0)
            torch.cuda.set_device(index)
            return torch.device("cuda", index)
        return torch.device("cpu")

    def _save_dir(self) -> str:
        """runs/exp, runs/exp2, ... (rank 0 picks; under torchrun every rank gets its choice)."""
        if self.c.resume:
            return os.path.dirname(os.path.abspath(self.c.resume))
        base, k = os.path.join(self.c.project, self.c.name), 2
        path = base
        while os.path.exists(path) and not self.c.exist_ok:
            path, k = f"{base}{k}", k + 1
        if self.world > 1:
            box = [path]
            dist.broadcast_object_list(box, src=0)
            path = box[0]
        return path

    # -- the run, one step at a time ----------------------------------------------------------------
    def fit(self) -> dict:
        """Resume or start, build, then train epoch by epoch (rank 0 validates and saves after each) until
        `epochs` or a stop request; -> save_dir, best / last paths, metrics, history, seconds, ..."""
        resume_state = self._resume()
        c = self.c
        seed_all(c.seed + self.rank)
        self.device = self._setup_distributed()
        self._build(resume_state)
        self.save_dir = save_dir = self._save_dir()
        if self.rank == 0:
            os.makedirs(save_dir, exist_ok=True)
        nb = len(self.train_loader)
        self.warmup_iters = max(round(c.warmup_epochs * nb), 100) if c.warmup_epochs > 0 else 0
        start_epoch = resume_state["train"]["epoch"] + 1 if resume_state else 0
        self.best_fitness = resume_state["train"]["best_fitness"] if resume_state else -1.0
        self.history = list(resume_state["train"].get("history", [])) if resume_state else []
        self.events.fire("fit_start", epochs=c.epochs, start_epoch=start_epoch, batches=nb, save_dir=save_dir,
                         names=self.names, params=sum(p.numel() for p in self.model.parameters()),
                         loss_names=list(self.loss_fn.names), args=asdict(c), world_size=self.world)
        t_fit = time.time()
        self.metrics = self.history[-1]["metrics"] if self.history else {}
        for epoch in range(start_epoch, c.epochs):
            t_epoch = time.time()
            mean_items = self._train_epoch(epoch, t_epoch)
            if self.rank == 0:
                # a partial epoch (a stop mid-epoch) is not an epoch: no epoch_end, validated only if asked
                (self._save_partial if self.partial else self._validate_and_save)(epoch, mean_items, t_epoch)
            if self.world > 1:
                dist.barrier()
            if self.stop_requested:
                break
        result = {"save_dir": save_dir, "best": os.path.join(save_dir, "best.pt"),
                  "last": os.path.join(save_dir, "last.pt"), "metrics": self.metrics, "history": self.history,
                  "seconds": round(time.time() - t_fit, 1), "stopped": self.stop_requested,
                  "partial": self.partial_dict(),
                  "epochs_done": len(self.history), "rank": self.rank, "weights_sha256": weights_digest(self.model)}
        self.events.fire("fit_end", **result)
        if self.world > 1 and dist.is_initialized():
            dist.destroy_process_group()
        return result

    def _resume(self) -> dict | None:
        """With `resume`: its last.pt, read through the checked checkpoint loader, with its training
        state under "train"; self.c becomes the run's own settings but for epochs, device, events."""
        c = self.c
        if not c.resume:
            return None
        raw = read_checkpoint(c.resume)
        meta = raw.get("meta")
        if not isinstance(meta, dict) or "train" not in meta:
            raise CheckpointError(f"{c.resume} has no training state to resume from (use last.pt of a run)")
        state = {**raw, "train": meta["train"]}
        keep = {"resume": c.resume, "epochs": c.epochs, "device": c.device, "events": c.events}
        self.c = TrainConfig.from_dict({**state["train"]["args"], **keep})
        return state

    def _build(self, resume_state: dict | None) -> None:
        """The run's parts, as attributes: names, nc, yaml_text, model, ema, loss_fn, train_set, sampler,
        train_loader, val_loader, accumulate, optimizer, lr0, scaler and net (the model, DDP-wrapped
        under torchrun); weights, EMA and optimizer state from `resume_state` when resuming."""
        c, device = self.c, self.device
        data = load_data_config(c.data)
        self.names, self.nc = data["names"], data["nc"]
        self.yaml_text = resume_state["yaml"] if resume_state else model_yaml(c, self.nc)
        spec = source(text=self.yaml_text).spec
        model: DetectionModel = build(resolve(spec, c.imgsz)).to(device)
        if resume_state:
            model.load_state_dict(resume_state["train"]["model"])
        if self.world > 1 and c.sync_bn:
            model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
        self.model, self.ema = model, ModelEMA(model)
        if resume_state:
            self.ema.ema.load_state_dict(resume_state["state_dict"])
            self.ema.updates = resume_state["train"]["ema_updates"]
        self.loss_fn = make_loss(model)

        self.train_set = YoloDataset(data["train"], self.names, c.imgsz, augment=True, mosaic=c.mosaic,
                                     cache=c.cache, seed=c.seed)
        val_set = YoloDataset(data["val"], self.names, c.imgsz, augment=False, cache=c.cache, seed=c.seed)
        self.sampler = None
        if self.world > 1:
            self.sampler = torch.utils.data.distributed.DistributedSampler(self.train_set, self.world, self.rank,
                                                                           shuffle=True, seed=c.seed)
        per_rank = max(c.batch // self.world, 1)
        self.train_loader = build_dataloader(self.train_set, per_rank, shuffle=self.sampler is None,
                                             workers=c.workers, sampler=self.sampler, seed=c.seed)
        self.val_loader = build_dataloader(val_set, per_rank * 2, shuffle=False, workers=c.workers, seed=c.seed)

        self.accumulate = max(round(c.nbs / (per_rank * self.world)), 1)
        decay = c.weight_decay * per_rank * self.world * self.accumulate / c.nbs
        steps = c.epochs * math.ceil(len(self.train_set) / max(c.batch, c.nbs))
        self.optimizer, self.lr0 = make_optimizer(c, model, decay, self.nc, steps=steps)
        if resume_state:
            self.optimizer.load_state_dict(resume_state["train"]["optimizer"])
        self.scaler = torch.amp.GradScaler("cuda", enabled=device.type == "cuda")
        self.net = model
        if self.world > 1:
            # weights no forward reads (slim-neck's VoVGSCSP.res, built as upstream builds it) never get a
            # gradient: DDP must be told, or it fails on the next step
            self.net = nn.parallel.DistributedDataParallel(
                model, device_ids=[device.index] if device.type == "cuda" else None,
                find_unused_parameters=bool(model.dead_weights().params))

    def lr_factor(self, epoch: float) -> float:
        """The learning rate of `epoch` as a factor of lr0: linear from 1 to lrf, or cosine with cos_lr."""
        c = self.c
        if c.cos_lr:
            return ((1 - math.cos(epoch * math.pi / c.epochs)) / 2) * (c.lrf - 1) + 1
        return (1 - epoch / c.epochs) * (1.0 - c.lrf) + c.lrf

    def _schedule(self, step: int, epoch: int) -> int:
        """Set the lr (and, in warm-up, momentum) of every group for this step; -> the accumulation to use.
        Warm-up ramps lr (biases down from warmup_bias_lr), momentum and accumulation over warmup_iters."""
        c, warmup, lr = self.c, self.warmup_iters, self.lr0 * self.lr_factor(epoch)
        if step <= warmup and warmup:
            for j, g in enumerate(self.optimizer.param_groups):
                start = c.warmup_bias_lr if j == 2 else 0.0
                g["lr"] = float(np.interp(step, [0, warmup], [start, lr]))
                if "momentum" in g:
                    g["momentum"] = float(np.interp(step, [0, warmup], [c.warmup_momentum, c.momentum]))
            return max(1, round(float(np.interp(step, [0, warmup], [1, self.accumulate]))))
        for g in self.optimizer.param_groups:
            g["lr"] = lr
        return self.accumulate

    def _train_epoch(self, epoch: int, t_epoch: float) -> torch.Tensor:
        """One pass over the training set (cut short after a batch when a stop is requested); -> the mean
        of each loss item over its batches."""
        c, net, model, optimizer = self.c, self.net, self.model, self.optimizer
        scaler, loss_fn = self.scaler, self.loss_fn
        net.train()
        if hasattr(loss_fn, "set_epoch"):  # a loss that weighs its terms by the epoch (end-to-end heads' branches)
            loss_fn.set_epoch(epoch, c.epochs)
        self.train_set.set_epoch(epoch)
        if self.sampler is not None:
            self.sampler.set_epoch(epoch)
        if c.mosaic and epoch >= c.epochs - c.close_mosaic:
            self.train_set.mosaic = False
        mean_items = torch.zeros(len(loss_fn.names))
        nb, seen, last_i = len(self.train_loader), 0, -1
        optimizer.zero_grad(set_to_none=True)
        for i, (imgs, targets, _, _) in enumerate(self.train_loader):
            accumulate_now = self._schedule(i + nb * epoch, epoch)
            imgs, targets = imgs.to(self.device, non_blocking=True), targets.to(self.device)
            with torch.autocast(self.device.type, enabled=self.device.type == "cuda"):
                preds = net(imgs)
                loss, items = loss_fn(preds, targets)
            if self.world > 1:
                loss = loss * self.world  # DDP averages gradients over ranks
            scaler.scale(loss).backward()
            if i - last_i >= accumulate_now or i + 1 == nb:  # each epoch flushes its last partial step
                last_i = i
                scaler.unscale_(optimizer)
                nn.utils.clip_grad_norm_(model.parameters(), max_norm=c.clip)
                scaler.step(optimizer)
                scaler.update()
                optimizer.zero_grad(set_to_none=True)
                self.ema.update(model)
            mean_items = (mean_items * i + items.detach().cpu()) / (i + 1)
            seen += imgs.shape[0]
            elapsed = time.time() - t_epoch
            rate = seen / max(elapsed, 1e-9)
            left = self._eta(epoch, i, nb, elapsed)
            self.events.fire("batch_end", epoch=epoch, epochs=c.epochs, batch=i, batches=nb,
                             loss={n: round(float(v), 5) for n, v in zip(loss_fn.names, mean_items)},
                             lr=optimizer.param_groups[1]["lr"], images_per_s=round(rate * self.world, 2),
                             eta_s=round(left, 1), rank=self.rank)
            if self.stop_requested:
                self._note_stop(epoch, i + 1, nb)
                break
        return mean_items

    def _validate_and_save(self, epoch: int, mean_items: torch.Tensor, t_epoch: float) -> None:
        """Rank 0 after each epoch: validate the EMA model, record the epoch, write last.pt (with the
        training state to resume from) and best.pt when fitness improved, fire epoch_end."""
        c, ema, names = self.c, self.ema, self.names
        t_val = time.time()
        self.metrics = metrics = self.validate(ema.ema, self.val_loader, self.device, self.nc)
        self.val_seconds = time.time() - t_val
        fitness = 0.1 * metrics["mAP50"] + 0.9 * metrics["mAP50-95"]
        self.history.append({"epoch": epoch, "loss": {n: float(v) for n, v in zip(self.loss_fn.names, mean_items)},
                             "metrics": metrics})
        train_state = {"epoch": epoch, "best_fitness": max(self.best_fitness, fitness),
                       "model": self.model.state_dict(), "optimizer": self.optimizer.state_dict(),
                       "ema_updates": ema.updates, "args": asdict(c), "history": self.history}
        save_checkpoint(os.path.join(self.save_dir, "last.pt"), ema.ema, self.yaml_text, names, c.imgsz,
                        epoch=epoch, metrics=metrics, train=train_state)
        if fitness > self.best_fitness:
            self.best_fitness = fitness
            save_checkpoint(os.path.join(self.save_dir, "best.pt"), ema.ema, self.yaml_text, names, c.imgsz,
                            epoch=epoch, metrics=metrics)
        self.events.fire("epoch_end", epoch=epoch, epochs=c.epochs, metrics=metrics,
                         loss={n: round(float(v), 5) for n, v in zip(self.loss_fn.names, mean_items)},
                         seconds=round(time.time() - t_epoch, 2), val_seconds=round(self.val_seconds, 2),
                         best_fitness=round(self.best_fitness, 5))

    @torch.no_grad()
    def validate(self, model: nn.Module, loader, device, nc: int) -> dict:
        """COCO mAP of `model` on the validation set, boxes compared in the letterboxed frame
        (IoU does not change under the letterbox's uniform scale and shift)."""
        model.eval()
        kind = head_kind(model)
        metrics, image_id = DetectionMetrics(nc=nc), 0
        for imgs, targets, _, _ in loader:
            imgs = imgs.to(device)
            out = model(imgs)
            dets = decode(out.float().cpu(), kind, conf=self.c.val_conf, iou=self.c.val_iou)
            h, w = imgs.shape[2:]
            for b, det in enumerate(dets):
                t = targets[targets[:, 0] == b]
                gt = label_rows(t[:, 1], t[:, 2:6], w, h)
                metrics.add(image_id, det, gt, (h, w))
                image_id += 1
        return {k: (round(v, 5) if isinstance(v, float) else v) for k, v in metrics.compute().items()}
