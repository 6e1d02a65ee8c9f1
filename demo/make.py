"""Rebuild the Test tab's demo from nothing, one command from the repository root:

    python demo/make.py                 # compose + train (about 25 min on 2 CPU cores) + install + samples
    python demo/make.py --images-only   # only demo/images/ and demo/labels/ (seconds)
    python demo/make.py --install runs/demo/best.pt   # only install a trained best.pt (+ its mAP50)

Training runs `launch.py compose` and `launch.py train` exactly as demo/README.md lists them, copies
runs/demo/best.pt to demo/shapes-ghost-lite.pt (checked: a weights-only checkpoint of this project,
at most 5 MB) and writes its validation mAP50 into the `mAP50:` line of demo/README.md. The sample
images are drawn by the built-in shapes generator (engine/data/synthetic.py) at the size and JPEG
quality of its datasets, from a seed no dataset uses, with their labels in YOLO layout beside them.
"""
from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)

COMPOSE = ["compose", "--backbone", "ghostnet", "--neck", "lite-pan", "--head", "yolov8", "--scale", "n",
           "--nc", "4", "-o", "demo/design.yaml"]
TRAIN = ["train", "--cfg", "demo/design.yaml", "--epochs", "60", "--imgsz", "256", "--batch", "16",
         "--project", "runs", "--name", "demo", "--cos-lr", "--seed", "0"]
CHECKPOINT = os.path.join(HERE, "shapes-ghost-lite.pt")
MAX_BYTES = 5 * 2**20
SAMPLE_SEED = 2025  # the datasets use seeds 0.. with splits 0 (train) / 1 (val): (2025, 1, i) is none of them
SAMPLES = {"sample-1": 4, "sample-2": 6, "sample-3": 7, "sample-4": 9}  # name -> image index: all 4 classes
SAMPLE_SIZE = 256  # the shapes set's image size


def write_samples(folder: str = HERE) -> list[str]:
    """demo/images/NAME.jpg and demo/labels/NAME.txt (class cx cy w h, normalised) for each sample."""
    import numpy as np
    from PIL import Image

    from engine.data.synthetic import generate_image

    idir, ldir = os.path.join(folder, "images"), os.path.join(folder, "labels")
    os.makedirs(idir, exist_ok=True)
    os.makedirs(ldir, exist_ok=True)
    written = []
    for name, i in SAMPLES.items():
        img, objects = generate_image(np.random.default_rng([SAMPLE_SEED, 1, i]), SAMPLE_SIZE)
        path = os.path.join(idir, name + ".jpg")
        Image.fromarray(img).save(path, quality=90)
        s = SAMPLE_SIZE
        with open(os.path.join(ldir, name + ".txt"), "w", encoding="utf-8") as fh:
            fh.writelines(f"{c} {(x0 + x1) / 2 / s:.6f} {(y0 + y1) / 2 / s:.6f} {(x1 - x0) / s:.6f} "
                          f"{(y1 - y0) / s:.6f}\n" for c, x0, y0, x1, y1 in objects)
        written.append(path)
    return written


def install(best: str, out: str = CHECKPOINT) -> float:
    """Copy a run's best.pt to the demo checkpoint after checking it; returns its mAP50."""
    from engine.checkpoint import load_checkpoint, read_checkpoint
    from graph.spec import parse, read_file

    size = os.path.getsize(best)
    if size > MAX_BYTES:
        sys.exit(f"error: {best} is {size / 2**20:.1f} MB; the demo checkpoint must be at most 5 MB")
    data = read_checkpoint(best)  # weights_only=True, this project's format
    if "train" in (data.get("meta") or {}):
        sys.exit(f"error: {best} carries training state (a last.pt?); install the run's best.pt")
    load_checkpoint(best)  # its yaml builds and holds the weights strictly
    if parse(data["yaml"])[0] != parse(read_file(os.path.join(HERE, "design.yaml")))[0]:
        sys.exit(f"error: {best} is not a training of demo/design.yaml (its layers differ)")
    shutil.copyfile(best, out)
    return float(data["meta"]["metrics"]["mAP50"])


def note_map(m: float, readme: str = os.path.join(HERE, "README.md")) -> None:
    with open(readme, encoding="utf-8") as fh:
        text = fh.read()
    with open(readme, "w", encoding="utf-8") as fh:
        fh.write(re.sub(r"(?m)^mAP50: .*$", f"mAP50: {m:.3f}", text, count=1))


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--images-only", action="store_true", help="only write the sample images and labels")
    p.add_argument("--install", metavar="BEST_PT", help="only install this trained best.pt as the demo")
    a = p.parse_args()
    if not a.images_only:
        if not a.install:
            for args in (COMPOSE, TRAIN + ["--exist-ok"]):  # --exist-ok: a rebuild writes runs/demo again
                subprocess.run([sys.executable, "launch.py", *args], cwd=ROOT, check=True)
        m = install(a.install or os.path.join(ROOT, "runs", "demo", "best.pt"))
        note_map(m)
        print(f"installed {os.path.relpath(CHECKPOINT, ROOT)}: mAP50 {m:.3f} (written into demo/README.md)")
        if a.install:
            return 0
    for path in write_samples():
        print(f"wrote {os.path.relpath(path, ROOT)} ({os.path.getsize(path) / 1024:.0f} KB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
