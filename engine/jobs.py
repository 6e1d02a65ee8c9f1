"""Training jobs for the page: `launch.py train` in its own process (the same code path as the CLI),
followed through its JSONL event file, stopped with SIGTERM (the trainer finishes the batch and
writes last.pt), and earlier runs found again under runs/.

A job's folder is runs/NAME: events.jsonl (every event), train.log (the process's output), last.pt
and best.pt. Nothing here knows about Gradio."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LAUNCH = os.path.join(ROOT, "launch.py")


def unique_name(project: str, prefix: str = "run") -> str:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    name, k = f"{prefix}-{stamp}", 2
    while os.path.exists(os.path.join(project, name)):
        name, k = f"{prefix}-{stamp}-{k}", k + 1
    return name


def read_events(path: str, offset: int = 0) -> tuple[list[dict], int]:
    """Complete JSON lines of `path` from byte `offset`; returns them and the new offset."""
    if not os.path.exists(path):
        return [], offset
    out = []
    with open(path, "rb") as fh:
        fh.seek(offset)
        data = fh.read()
    end = data.rfind(b"\n") + 1  # a line still being written waits for the next poll
    for line in data[:end].splitlines():
        try:
            out.append(json.loads(line))
        except ValueError:
            continue
    return out, offset + end


class TrainJob:
    def __init__(self, args: dict, project: str = "runs", name: str | None = None):
        self.project = os.path.abspath(project)
        self.name = name or unique_name(self.project)
        self.dir = os.path.join(self.project, self.name)
        self.events_path = os.path.join(self.dir, "events.jsonl")
        self.log_path = os.path.join(self.dir, "train.log")
        self.args = dict(args)
        self.proc: subprocess.Popen | None = None
        self.offset = 0
        self.events: list[dict] = []
        self.stopping = False

    def command(self) -> list[str]:
        cmd = [sys.executable, LAUNCH, "train", "--project", self.project, "--name", self.name, "--exist-ok",
               "--events", self.events_path]
        for key, value in self.args.items():
            if value is None or value is False:
                continue
            flag = "--" + key.replace("_", "-")
            cmd += [flag] if value is True else [flag, str(value)]
        return cmd

    def start(self) -> "TrainJob":
        os.makedirs(self.dir, exist_ok=True)
        log = open(self.log_path, "ab")
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        self.proc = subprocess.Popen(self.command(), cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env=env,
                                     start_new_session=True)
        log.close()
        return self

    def poll(self) -> list[dict]:
        """New events since the last poll (also kept in self.events)."""
        new, self.offset = read_events(self.events_path, self.offset)
        self.events += new
        return new

    @property
    def state(self) -> str:
        """running | finished | stopped | crashed"""
        if self.proc is None:
            return "finished" if any(e["event"] == "fit_end" for e in self.events) else "crashed"
        code = self.proc.poll()
        if code is None:
            return "running"
        ended = [e for e in self.events if e["event"] == "fit_end"]
        if code == 0 and ended:
            return "stopped" if ended[-1].get("stopped") else "finished"
        return "stopped" if self.stopping and code in (0, -signal.SIGTERM) else "crashed"

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.stopping = True
            self.proc.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()

    def log_tail(self, lines: int = 20) -> str:
        if not os.path.exists(self.log_path):
            return ""
        with open(self.log_path, "rb") as fh:
            fh.seek(max(0, os.path.getsize(self.log_path) - 16384))
            text = fh.read().decode("utf-8", "replace").replace("\r", "\n")
        return "\n".join([ln for ln in text.splitlines() if ln.strip()][-lines:])

    def crash_message(self) -> str:
        tail = self.log_tail(40).splitlines()
        errors = [ln for ln in tail if ln.startswith("error:") or "Error" in ln]
        return errors[-1] if errors else (tail[-1] if tail else "the training process ended unexpectedly")


def list_runs(project: str = "runs") -> list[dict]:
    """Earlier runs (newest first) with their last metrics, from their event files."""
    out = []
    if not os.path.isdir(project):
        return out
    for name in os.listdir(project):
        folder = os.path.join(project, name)
        events, _ = read_events(os.path.join(folder, "events.jsonl"))
        epochs = [e for e in events if e["event"] == "epoch_end"]
        best = os.path.join(folder, "best.pt")
        if not epochs and not os.path.exists(best):
            continue
        m = epochs[-1]["metrics"] if epochs else {}
        out.append({"name": name, "dir": folder, "best": best if os.path.exists(best) else None,
                    "last": os.path.join(folder, "last.pt") if os.path.exists(os.path.join(folder, "last.pt")) else None,
                    "epochs": len(epochs), "mAP50": m.get("mAP50"), "mAP50-95": m.get("mAP50-95"),
                    "mtime": os.path.getmtime(folder), "events": events})
    return sorted(out, key=lambda r: -r["mtime"])
