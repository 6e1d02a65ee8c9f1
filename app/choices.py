"""The model list the Test tab offers and the Train tab refreshes: the shipped demo model (first, when
its file is here), the current design (untrained), an uploaded checkpoint, and every checkpoint under
the runs folder (newest first), each named by its run — design, date, epochs, best mAP50 — with the
path as the value. Also the demo's sample images (demo/images/), handed to the page from a copy in
Gradio's upload folder so they pass the same path check as an upload."""
from __future__ import annotations

import glob
import os
import shutil

from engine.checkpoint import CheckpointError, read_checkpoint
from engine.train.jobs import checkpoints, describe_run

DESIGN = "Current design (untrained)"
UPLOADED = "Uploaded checkpoint"
DEMO = "Demo model"  # the dropdown's value for the demo; the path is the server's, never the client's
DEMO_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "demo")
DEMO_FILE = "shapes-ghost-lite.pt"
DEMO_TITLE = "demo: GhostNet-lite on shapes"
SAMPLE_EXTS = (".jpg", ".jpeg", ".png")

_demo_cache: dict[str, tuple[int, dict | None]] = {}  # path -> (mtime_ns, what demo_model says)


def demo_path() -> str:
    return os.path.join(DEMO_DIR, DEMO_FILE)


def demo_model() -> dict | None:
    """{path, label, imgsz, names, mAP50, epochs} of the shipped demo checkpoint, or None when the
    file is missing or not a checkpoint of this project (read once per change of the file)."""
    path = demo_path()
    try:
        stamp = os.stat(path).st_mtime_ns
    except OSError:
        return None
    cached = _demo_cache.get(path)
    if cached and cached[0] == stamp:
        return cached[1]
    try:
        data = read_checkpoint(path)
    except CheckpointError:
        info = None
    else:
        meta = data.get("meta") or {}
        m = (meta.get("metrics") or {}).get("mAP50")
        score = f" (mAP50 {m:.2f})" if isinstance(m, (int, float)) else ""
        epochs = meta["epoch"] + 1 if isinstance(meta.get("epoch"), int) else None
        info = {"path": path, "label": DEMO_TITLE + score, "imgsz": data["imgsz"], "names": list(data["names"]),
                "mAP50": m, "epochs": epochs}
    _demo_cache[path] = (stamp, info)
    return info


def demo_note() -> str:
    """One line under the model list: what the demo is, or that its file is missing."""
    info, rel = demo_model(), f"demo/{DEMO_FILE}"
    if info is None:
        why = "is not a readable checkpoint" if os.path.exists(demo_path()) else "is not in this copy"
        return (f"The demo model ({rel}) {why}; demo/README.md says how to rebuild it. "
                f"Pick a trained run, upload a checkpoint, or try the current design (untrained).")
    epoch = f", the weights of its best epoch ({info['epochs']})" if info["epochs"] else ""
    return (f"Demo model: GhostNet backbone + lite PAN neck + YOLOv8 head (scale n), trained at {info['imgsz']} px "
            f"on the built-in shapes set ({', '.join(info['names'])}){epoch}; the sample images come from the "
            f"same generator. Drop your own images or pick another model.")


def sample_images() -> list[str]:
    """The demo's sample images in demo/images/, sorted by name."""
    return sorted(p for p in glob.glob(os.path.join(DEMO_DIR, "images", "*")) if p.lower().endswith(SAMPLE_EXTS))


def sample_files() -> list[str] | None:
    """The sample images as the page gets them: copies in Gradio's upload folder (recopied when the
    housekeeping round removed them, touched when kept so a visit keeps them fresh); None if none."""
    from gradio.utils import get_upload_folder

    found = sample_images()
    if not found:
        return None
    folder = os.path.join(get_upload_folder(), "demo-samples")
    os.makedirs(folder, exist_ok=True)
    out = []
    for src in found:
        dst = os.path.join(folder, os.path.basename(src))
        if not os.path.isfile(dst) or os.path.getsize(dst) != os.path.getsize(src):
            shutil.copyfile(src, dst)
        else:
            os.utime(dst)
        out.append(dst)
    return out


def checkpoint_label(path: str) -> str:
    """'yolov8n · 2025-05-03 14:22 · 2 epochs · best mAP50 0.412 — best.pt'."""
    try:
        return f"{describe_run(os.path.dirname(path))['label']} — {os.path.basename(path)}"
    except OSError:  # removed while we looked
        return path


def model_choices(runs_dir: str | None = None) -> list[tuple[str, str]]:
    """(label, value) pairs for the Test tab's Model dropdown: the demo first when it is here."""
    found = checkpoints(runs_dir or os.environ.get("YLD_RUNS", "runs"))
    demo = demo_model()
    first = [(demo["label"], DEMO)] if demo else []
    return first + [(DESIGN, DESIGN), (UPLOADED, UPLOADED)] + [(checkpoint_label(p), p) for p in found]
