"""The model list the Test tab offers and the Train tab refreshes: the current design (untrained),
an uploaded checkpoint, and every best.pt under the runs folder (newest first)."""
from __future__ import annotations

import os

from engine.train.jobs import checkpoints

DESIGN = "Current design (untrained)"
UPLOADED = "Uploaded checkpoint"


def model_choices(runs_dir: str | None = None) -> list[str]:
    return [DESIGN, UPLOADED] + checkpoints(runs_dir or os.environ.get("YLD_RUNS", "runs"))
