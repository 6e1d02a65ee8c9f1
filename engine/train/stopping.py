"""The trainer's stop and time-left parts (a mix-in of engine/train/trainer.Trainer): a stop asked for in
the middle of an epoch ends that epoch after the running batch, and that partial epoch is not an
epoch — no epoch_end, not in the history, validated only if asked (`validate_partial`, or the
STOP_VALIDATE file that the page writes into the run folder); last.pt keeps its weights with the
training state of the last complete epoch. The ETA adds a validation per epoch left.
"""
from __future__ import annotations

import os
import time
from dataclasses import asdict

import torch

from ..checkpoint import save_checkpoint
from .progress import STOP_VALIDATE


class StopAndEta:
    """Needs the Trainer's c, events, ema, model, optimizer, loss_fn, names, nc, yaml_text, save_dir,
    history, metrics, best_fitness, train_set, val_loader, device and validate()."""

    validate_partial = False  # validate an epoch cut short by a stop
    val_seconds: float | None = None  # how long the last validation took (the ETA adds it)
    partial: tuple | None = None  # (epoch, batches done, batches) of an epoch cut short by a stop

    def _note_stop(self, epoch: int, done: int, nb: int) -> None:
        """The loop saw the stop after `done` of `nb` batches: remember a partial epoch, and say what
        comes before the process ends (a "stopping" event: validation if any, then last.pt)."""
        self.partial = (epoch, done, nb) if done < nb else None
        self.events.fire("stopping", epoch=epoch, epochs=self.c.epochs, batch=done, batches=nb, partial=done < nb,
                         validate=done == nb or self.validate_on_stop(), rank=self.rank)

    def partial_dict(self) -> dict | None:
        """{epoch, batch (done), batches} of the epoch a stop cut short, or None."""
        return dict(zip(("epoch", "batch", "batches"), self.partial)) if self.partial else None

    def _eta(self, epoch: int, i: int, nb: int, elapsed: float) -> float:
        """Seconds left: the batches left at this epoch's pace, plus a validation per epoch left
        (as long as the last one took; before the first, a guess from the validation set's size)."""
        per_batch = elapsed / (i + 1)
        val_s = self.val_seconds
        if val_s is None:  # a forward is about a third of a training step; the evaluator adds a little
            val_s = 0.35 * per_batch * len(self.val_loader.dataset) / max(len(self.train_set), 1) * nb
        epochs_left = self.c.epochs - epoch - 1
        return (nb - i - 1) * per_batch + epochs_left * nb * per_batch + (epochs_left + 1) * val_s

    def validate_on_stop(self) -> bool:
        """Whether a run stopped mid-epoch validates that partial epoch: asked for through
        `validate_partial`, or by the file STOP_VALIDATE in the run folder (the page writes it)."""
        return self.validate_partial or os.path.exists(os.path.join(self.save_dir, STOP_VALIDATE))

    def _save_partial(self, epoch: int, mean_items: torch.Tensor, t_epoch: float) -> None:
        """Rank 0 after a stop mid-epoch: last.pt holds the weights so far with the training state of
        the last complete epoch (a resume trains this epoch again, in full); the partial epoch is
        validated only if asked (then best.pt too, if it is the best), and never enters the history."""
        c, ema, names, (_, done, nb) = self.c, self.ema, self.names, self.partial
        metrics, t_val = None, time.time()
        if self.validate_on_stop():
            metrics = self.validate(ema.ema, self.val_loader, self.device, self.nc)
            fitness = 0.1 * metrics["mAP50"] + 0.9 * metrics["mAP50-95"]
            if fitness > self.best_fitness:
                self.best_fitness = fitness
                save_checkpoint(os.path.join(self.save_dir, "best.pt"), ema.ema, self.yaml_text, names, c.imgsz,
                                epoch=epoch - 1, metrics=metrics, partial={"epoch": epoch, "batch": done, "batches": nb})
        partial = {"epoch": epoch, "batch": done, "batches": nb}
        train_state = {"epoch": epoch - 1, "best_fitness": self.best_fitness, "model": self.model.state_dict(),
                       "optimizer": self.optimizer.state_dict(), "ema_updates": ema.updates, "args": asdict(c),
                       "history": self.history, "partial": partial}
        save_checkpoint(os.path.join(self.save_dir, "last.pt"), ema.ema, self.yaml_text, names, c.imgsz,
                        epoch=epoch - 1, metrics=metrics or self.metrics, train=train_state, partial=partial)
        self.events.fire("epoch_partial", epoch=epoch, epochs=c.epochs, batch=done, batches=nb, metrics=metrics,
                         loss={n: round(float(v), 5) for n, v in zip(self.loss_fn.names, mean_items)},
                         seconds=round(time.time() - t_epoch, 2),
                         val_seconds=round(time.time() - t_val, 2) if metrics else None)
