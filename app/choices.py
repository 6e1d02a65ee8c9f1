"""The model list the Test tab offers and the Train tab refreshes: the current design (untrained),
an uploaded checkpoint, and every checkpoint under the runs folder (newest first), each named by
its run — design, date, epochs, best mAP50 — with the path as the value."""
from __future__ import annotations

import os

from engine.train.jobs import checkpoints, describe_run

DESIGN = "Current design (untrained)"
UPLOADED = "Uploaded checkpoint"


def checkpoint_label(path: str) -> str:
    """'yolov8n · 2025-05-03 14:22 · 2 epochs · best mAP50 0.412 — best.pt'."""
    try:
        return f"{describe_run(os.path.dirname(path))['label']} — {os.path.basename(path)}"
    except OSError:  # removed while we looked
        return path


def model_choices(runs_dir: str | None = None) -> list[tuple[str, str]]:
    """(label, value) pairs for the Test tab's Model dropdown."""
    found = checkpoints(runs_dir or os.environ.get("YLD_RUNS", "runs"))
    return [(DESIGN, DESIGN), (UPLOADED, UPLOADED)] + [(checkpoint_label(p), p) for p in found]
