"""Benchmark: does a design really learn? Trains presets from scratch on the built-in shapes set
(256 px, batch 16, CPU) and records images per second and the mAP curve; writes
bench/results/train.json (per preset: images/s, mAP50 and mAP50-95 per epoch, mAP50 at epochs 10
and 30). Run: python bench/bench_train.py [--presets yolov8n yolov5n] [--epochs 30] [--threads 1]
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import torch  # noqa: E402

from engine.train.trainer import Events, TrainConfig, Trainer  # noqa: E402

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results", "train.json")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--presets", nargs="+", default=["yolov8n", "yolov5n"])
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--imgsz", type=int, default=256)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--threads", type=int, default=1, help="torch threads (the data worker takes another core)")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--out", default=OUT)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    result = {"benchmark": "train from scratch on the built-in shapes set", "imgsz": a.imgsz, "batch": a.batch,
              "epochs": a.epochs, "device": a.device, "torch_threads": a.threads, "workers": a.workers,
              "machine": {"python": platform.python_version(), "torch": torch.__version__, "cpus": os.cpu_count(),
                          "platform": platform.platform()}, "presets": {}}
    if os.path.exists(a.out):  # keep the presets of earlier runs that this one does not redo
        with open(a.out) as fh:
            result["presets"] = json.load(fh).get("presets", {})
    for preset in a.presets:
        rates, curve = [], []
        events = Events()
        events.on("batch_end", lambda e: rates.append(e["images_per_s"]) if e["batch"] == e["batches"] - 1 else None)

        def epoch_end(e, curve=curve):
            m = e["metrics"]
            curve.append({"epoch": e["epoch"] + 1, "mAP50": m["mAP50"], "mAP50-95": m["mAP50-95"],
                          "loss": e["loss"], "seconds": e["seconds"]})
            print(f"{preset} epoch {e['epoch'] + 1}/{a.epochs}: mAP50 {m['mAP50']:.3f} mAP50-95 {m['mAP50-95']:.3f} "
                  f"({e['seconds']:.0f} s)", flush=True)
            result["presets"][preset] = summary(curve, rates)
            write(result, a.out)

        events.on("epoch_end", epoch_end)
        t0 = time.time()
        with tempfile.TemporaryDirectory() as tmp:
            Trainer(TrainConfig(preset=preset, data="shapes", epochs=a.epochs, imgsz=a.imgsz, batch=a.batch,
                                workers=a.workers, device=a.device, project=tmp, name=preset), events).fit()
        result["presets"][preset] = {**summary(curve, rates), "wall_s": round(time.time() - t0, 1)}
        write(result, a.out)
    print(json.dumps({k: {kk: vv for kk, vv in v.items() if kk != "curve"} for k, v in result["presets"].items()},
                     indent=1))


def summary(curve: list, rates: list) -> dict:
    def at(epoch):
        return next((c["mAP50"] for c in curve if c["epoch"] == epoch), None)

    return {"images_per_s": round(statistics.median(rates), 2) if rates else None,
            "mAP50_at_10": at(10), "mAP50_at_30": at(30), "best_mAP50": max((c["mAP50"] for c in curve), default=None),
            "curve": curve}


def write(result: dict, path: str) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as fh:
        json.dump(result, fh, indent=1)


if __name__ == "__main__":
    main()
