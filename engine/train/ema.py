"""Exponential moving average of a model's weights, the copy that is validated and saved.

decay(updates) = d * (1 - exp(-updates / tau)): small at first so the average follows the early,
fast-moving weights, then approaching d (0.9999). Buffers (BatchNorm statistics) are copied."""
from __future__ import annotations

import copy
import math

import torch
import torch.nn as nn


class ModelEMA:
    def __init__(self, model: nn.Module, decay: float = 0.9999, tau: float = 2000.0, updates: int = 0):
        self.ema = copy.deepcopy(self._plain(model)).eval()
        self.ema.requires_grad_(False)
        self.decay, self.tau, self.updates = decay, tau, updates

    @staticmethod
    def _plain(model: nn.Module) -> nn.Module:
        return model.module if hasattr(model, "module") else model

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        self.updates += 1
        d = self.decay * (1 - math.exp(-self.updates / self.tau))
        current = self._plain(model).state_dict()
        for name, value in self.ema.state_dict().items():
            if value.dtype.is_floating_point:
                value.mul_(d).add_(current[name].detach(), alpha=1 - d)
            else:
                value.copy_(current[name])
