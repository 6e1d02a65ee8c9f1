"""Two subscribers of the trainer's events: a progress line for the terminal and a JSONL event
file (one JSON object per event) that other programs — the page — can follow; and the name of the
file by which the page asks a stopping run to validate its partial epoch."""
from __future__ import annotations

import json
import os
import sys
import time

STOP_VALIDATE = "validate-on-stop"  # in a run folder: a stop mid-epoch validates that partial epoch


def _fmt_s(s: float) -> str:
    s = int(s)
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60}:{s % 60:02d}"


class ProgressPrinter:
    """Rewrites one line per batch on a terminal; prints one line per epoch with the metrics."""

    def __init__(self, stream=None, every_s: float = 0.5):
        self.stream = stream or sys.stdout
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.every_s, self.last = every_s, 0.0

    def __call__(self, ev: dict) -> None:
        kind = ev["event"]
        if kind == "fit_start":
            print(f"training {ev['params']:,} parameters for {ev['epochs']} epochs ({ev['batches']} batches each) "
                  f"-> {ev['save_dir']}" + (f" on {ev['world_size']} processes" if ev["world_size"] > 1 else ""),
                  file=self.stream, flush=True)
        elif kind == "batch_end" and ev.get("rank", 0) == 0:
            now = time.time()
            if self.tty and (now - self.last >= self.every_s or ev["batch"] + 1 == ev["batches"]):
                self.last = now
                losses = " ".join(f"{k} {v:.3f}" for k, v in ev["loss"].items())
                print(f"\repoch {ev['epoch'] + 1}/{ev['epochs']} batch {ev['batch'] + 1}/{ev['batches']}  {losses}  "
                      f"{ev['images_per_s']:.1f} img/s  ETA {_fmt_s(ev['eta_s'])}   ", end="", file=self.stream, flush=True)
        elif kind == "epoch_end":
            m = ev["metrics"]
            losses = " ".join(f"{k} {v:.3f}" for k, v in ev["loss"].items())
            print(("\r" if self.tty else "") + f"epoch {ev['epoch'] + 1}/{ev['epochs']}  {losses}  "
                  f"mAP50 {m['mAP50']:.3f}  mAP50-95 {m['mAP50-95']:.3f}  P {m['precision']:.3f}  R {m['recall']:.3f}  "
                  f"({ev['seconds']:.0f} s)", file=self.stream, flush=True)
        elif kind == "stopping" and ev.get("rank", 0) == 0 and ev["partial"]:
            print(("\n" if self.tty else "") + f"stopping during epoch {ev['epoch'] + 1}/{ev['epochs']} after batch "
                  f"{ev['batch']}/{ev['batches']}: " + ("validating it, then " if ev["validate"] else "")
                  + "writing last.pt", file=self.stream, flush=True)
        elif kind == "epoch_partial":
            m = ev["metrics"]
            print(f"stopped during epoch {ev['epoch'] + 1}/{ev['epochs']} (batch {ev['batch']}/{ev['batches']}), "
                  "not counted as an epoch" + (f"; its mAP50 {m['mAP50']:.3f}  mAP50-95 {m['mAP50-95']:.3f}" if m
                                                else "; not validated") + f" ({ev['seconds']:.0f} s)",
                  file=self.stream, flush=True)
        elif kind == "fit_end" and ev.get("rank", 0) == 0:
            m = ev["metrics"] or {}
            if not os.path.exists(ev["best"]):
                print(f"no best.pt (no epoch was validated); last.pt: {ev['last']}  ({_fmt_s(ev['seconds'])})",
                      file=self.stream, flush=True)
                return
            print(f"best: {ev['best']}  mAP50 {m.get('mAP50', 0):.3f}  mAP50-95 {m.get('mAP50-95', 0):.3f}  "
                  f"({_fmt_s(ev['seconds'])})", file=self.stream, flush=True)


class JsonlWriter:
    def __init__(self, path: str):
        self.fh = open(path, "a", encoding="utf-8")

    def __call__(self, ev: dict) -> None:
        self.fh.write(json.dumps({"time": round(time.time(), 3), **ev}, default=str) + "\n")
        self.fh.flush()

    def close(self) -> None:
        self.fh.close()
