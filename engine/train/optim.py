"""The optimizer of a training run: three parameter groups (weights with decay; BatchNorm / LayerNorm
weights and biases without) and the choice between SGD (momentum, Nesterov) and AdamW."""
from __future__ import annotations

from typing import TYPE_CHECKING

import torch
import torch.nn as nn

if TYPE_CHECKING:
    from .trainer import TrainConfig


def param_groups(model: nn.Module, weight_decay: float) -> list[dict]:
    decay, no_decay, biases = [], [], []
    for module in model.modules():
        for name, p in module.named_parameters(recurse=False):
            if not p.requires_grad:
                continue
            if name == "bias":
                biases.append(p)
            elif isinstance(module, (nn.BatchNorm2d, nn.LayerNorm)):
                no_decay.append(p)
            else:
                decay.append(p)
    return [{"params": no_decay, "weight_decay": 0.0}, {"params": decay, "weight_decay": weight_decay},
            {"params": biases, "weight_decay": 0.0}]


def make_optimizer(c: TrainConfig, model: nn.Module, decay: float, nc: int, steps: int):
    """-> (optimizer, base lr). `auto` is what an established trainer does for a short schedule:
    AdamW (lr 0.002 * 5 / (4 + nc), beta1 0.9) below 10 000 optimizer steps, SGD above."""
    name = c.optimizer
    if name == "auto":
        name = "SGD" if steps > 10_000 else "AdamW"
    groups = param_groups(model, decay)
    if name == "SGD":
        return torch.optim.SGD(groups, lr=c.lr0, momentum=c.momentum, nesterov=True), c.lr0
    if name == "AdamW":
        lr = c.lr0 if c.optimizer == "AdamW" else round(0.002 * 5 / (4 + nc), 6)
        beta1 = c.momentum if c.optimizer == "AdamW" else 0.9
        return torch.optim.AdamW(groups, lr=lr, betas=(beta1, 0.999)), lr
    raise ValueError(f"unknown optimizer {c.optimizer!r}; use SGD, AdamW or auto")
