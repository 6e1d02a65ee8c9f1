"""Training jobs for the page: `launch.py train` in its own process (the same code path as the CLI),
followed through its JSONL event file, stopped with SIGTERM (the trainer finishes the batch and
writes last.pt), and earlier runs found again under runs/.

A job's folder is runs/NAME: events.jsonl (every event), train.log (the process's output), last.pt
and best.pt. Nothing here knows about Gradio."""
from __future__ import annotations

import glob
import json
import os
import signal
import subprocess
import sys
import time

from .progress import STOP_VALIDATE

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # the repository
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
        self.ended_at: float | None = None  # when the app first saw the process ended (housekeeping)

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
        """running | finished | stopped | crashed (a process that ended without a fit_end event,
        by an error or a signal, unless it was asked to stop)"""
        code = self.proc.poll() if self.proc is not None else None
        if self.proc is not None and code is None:
            return "running"
        ended = [e for e in self.events if e.get("event") == "fit_end"]
        if ended and code in (None, 0):
            return "stopped" if ended[-1].get("stopped") else "finished"
        return "stopped" if self.stopping and code in (0, -signal.SIGTERM) else "crashed"

    def stop(self, validate: bool = False) -> None:
        """Ask the process to stop after its running batch; `validate`: validate the partial epoch
        too (the STOP_VALIDATE file in the run folder says so to the trainer)."""
        if self.proc is not None and self.proc.poll() is None:
            if validate:
                open(os.path.join(self.dir, STOP_VALIDATE), "w").close()
            self.stopping = True
            self.proc.send_signal(signal.SIGTERM)

    def waiting_for(self) -> str:
        """While a stop is under way: what the process still does before it ends ('' otherwise)."""
        return waiting_for(self.events) if self.stopping and self.state == "running" else ""

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()

    def log_tail(self, lines: int = 20) -> str:
        return "\n".join(tail_lines(self.log_path, lines))

    def crash_message(self) -> str:
        """One line: how the process ended (exit status or signal), then its error line or its
        last log lines."""
        code = self.proc.poll() if self.proc is not None else None
        return f"the training process {ended_how(code)}{last_words(self.log_path)}"


def tail_lines(path: str, lines: int) -> list[str]:
    """The last `lines` non-blank lines of a log (its last 16 KB; progress bars' \\r as new lines)."""
    if not os.path.exists(path):
        return []
    with open(path, "rb") as fh:
        fh.seek(max(0, os.path.getsize(path) - 16384))
        text = fh.read().decode("utf-8", "replace").replace("\r", "\n")
    return [ln for ln in text.splitlines() if ln.strip()][-lines:]


def ended_how(code: int | None) -> str:
    """'was killed by signal SIGKILL' / 'exited with status 2' / 'ended' (unknown) from a return code."""
    if code is None:
        return "ended"
    if code < 0:
        try:
            return f"was killed by signal {signal.Signals(-code).name}"
        except ValueError:
            return f"was killed by signal {-code}"
    return f"exited with status {code}"


def last_words(log_path: str, lines: int = 3) -> str:
    """': ' + the log's last error line, else its last `lines` lines joined by ' | ';
    ' (no log output)' when there are none."""
    tail = [ln.strip() for ln in tail_lines(log_path, 40)]
    errors = [ln for ln in tail if ln.startswith("error:") or "Error" in ln]
    shown = errors[-1:] or tail[-lines:]
    return ": " + " | ".join(shown) if shown else " (no log output)"


def run_crash_message(folder: str) -> str:
    """One line for a crashed run found on disk (its exit status is not kept): its last log lines."""
    return f"the run ended without finishing{last_words(os.path.join(folder, 'train.log'))}"


RECENT_S = 300  # a run without fit_end whose files changed this recently may still be running elsewhere


def run_state(folder: str, events: list[dict], running: bool = False) -> str:
    """finished | stopped (a fit_end event), running (a live job of this app), incomplete (no end yet
    but written in the last RECENT_S s: maybe a run of another process), or crashed."""
    ended = [e for e in events if e.get("event") == "fit_end"]
    if ended:
        return "stopped" if ended[-1].get("stopped") else "finished"
    if running:
        return "running"
    stamps = [os.path.getmtime(p) for p in (os.path.join(folder, f) for f in ("events.jsonl", "train.log"))
              if os.path.exists(p)]
    return "incomplete" if stamps and time.time() - max(stamps) < RECENT_S else "crashed"


def list_runs(project: str = "runs", running: tuple | set = ()) -> list[dict]:
    """Earlier runs (newest first): every folder with a train.log, events.jsonl or best.pt, with its
    state (run_state; `running` = names of this app's live jobs), what it trained, when, its complete
    epochs, last and best metrics, the epoch a stop cut short, and a `label` for the page's lists."""
    out = []
    if not os.path.isdir(project):
        return out
    for name in os.listdir(project):
        folder = os.path.join(project, name)
        if not any(os.path.isfile(os.path.join(folder, f)) for f in ("train.log", "events.jsonl", "best.pt")):
            continue
        out.append(describe_run(folder, name in running))
    return sorted(out, key=lambda r: -r["mtime"])


def describe_run(folder: str, running: bool = False) -> dict:
    """One run folder as list_runs gives it (see there)."""
    name = os.path.basename(os.path.normpath(folder))
    run = {"name": name, "dir": folder, **summarise_events(os.path.join(folder, "events.jsonl")),
           "mtime": os.path.getmtime(folder)}
    for kind in ("best", "last"):
        path = os.path.join(folder, f"{kind}.pt")
        run[kind] = path if os.path.exists(path) else None
    run["state"] = run_state(folder, run.pop("_ends"), running)
    run["design"] = run["design"] or name
    run["started"] = run["started"] or run["mtime"]
    run["label"] = run_label(run)
    return run


_summaries: dict[str, tuple[tuple, dict]] = {}  # events path -> ((size, mtime), summary): read once per change


def summarise_events(path: str) -> dict:
    """What a run's event file says, in a few fields (cached until the file changes): design,
    started (time of fit_start), epochs (complete ones), mAP50 / mAP50-95 of the last, best_mAP50
    (of the best by fitness, as best.pt), partial ({epoch, batch, batches} of an epoch a stop cut short)."""
    try:
        st = os.stat(path)
        key = (st.st_size, st.st_mtime_ns)
    except OSError:
        key = None
    cached = _summaries.get(path)
    if key is not None and cached and cached[0] == key:
        return dict(cached[1])
    events = [e for e in read_events(path)[0] if isinstance(e, dict)] if key else []
    start = next((e for e in events if e.get("event") == "fit_start"), {})
    epochs = [e for e in events if e.get("event") == "epoch_end"]
    scored = [e for e in events if e.get("event") in ("epoch_end", "epoch_partial") and e.get("metrics")]
    best = max(scored, key=lambda e: 0.1 * e["metrics"].get("mAP50", 0) + 0.9 * e["metrics"].get("mAP50-95", 0),
               default=None)
    end = next((e for e in reversed(events) if e.get("event") == "fit_end"), None)
    last = (epochs[-1].get("metrics") or {}) if epochs else {}
    summary = {"design": design_of(start.get("args") or {}), "started": start.get("time"), "epochs": len(epochs),
               "epochs_planned": start.get("epochs"), "mAP50": last.get("mAP50"), "mAP50-95": last.get("mAP50-95"),
               "best_mAP50": best["metrics"].get("mAP50") if best else None,
               "partial": (end or {}).get("partial"), "_ends": [end] if end else []}
    if key is not None:
        _summaries[path] = (key, summary)
    return dict(summary)


def design_of(args: dict) -> str:
    """The name of what a run trained, from its fit_start args: the preset, the model yaml's name
    (the page writes DESIGN.yaml into the run folder) or the picks."""
    if args.get("preset"):
        return str(args["preset"])
    if args.get("cfg"):
        return os.path.splitext(os.path.basename(str(args["cfg"])))[0]
    picks = [str(args[k]) for k in ("backbone", "neck", "head") if args.get(k)]
    return " + ".join(picks) + (f" ({args['scale']})" if picks and args.get("scale") else "")


def run_label(run: dict) -> str:
    """'yolov8n · 2025-05-03 14:22 · 2 epochs · best mAP50 0.412', then how it ended if not finished
    ('stopped during epoch 3 (batch 9/25)', 'crashed', ...)."""
    n = run["epochs"]
    parts = [run["design"], time.strftime("%Y-%m-%d %H:%M", time.localtime(run["started"])),
             f"{n} epoch{'s' if n != 1 else ''}"]
    if run.get("best_mAP50") is not None:
        parts.append(f"best mAP50 {run['best_mAP50']:.3f}")
    p, state = run.get("partial"), run["state"]
    if state == "stopped" and p:
        parts.append(f"stopped during epoch {p['epoch'] + 1} (batch {p['batch']}/{p['batches']})")
    elif state != "finished":
        parts.append(state)
    return " · ".join(parts)


def waiting_for(events: list[dict]) -> str:
    """What a run asked to stop still does before it ends, from its events: the batch it is in, the
    validation, or writing last.pt."""
    kinds = [e.get("event") for e in events]
    if "stopping" in kinds:
        ev = events[len(kinds) - 1 - kinds[::-1].index("stopping")]
        if not ev["partial"]:
            return f"validating epoch {ev['epoch'] + 1}, then writing last.pt"
        return "validating the partial epoch (as asked), then writing last.pt" if ev["validate"] else "writing last.pt"
    batches = [e for e in events if e.get("event") == "batch_end"]
    if not batches:
        return "waiting for the model and data to load; it stops after the first batch"
    last = batches[-1]
    if last["batch"] + 1 == last["batches"] and not any(
            e.get("event") == "epoch_end" and e.get("epoch") == last["epoch"] for e in events):
        return f"waiting for the validation of epoch {last['epoch'] + 1} to finish, then last.pt is written"
    pace = ""
    if len(batches) >= 2 and "time" in batches[-1] and "time" in batches[-2]:
        took = batches[-1]["time"] - batches[-2]["time"]
        pace = f" (a batch takes about {took:.0f} s)" if took >= 1.5 else " (under 2 s a batch)"
    nxt = (last["batch"] + 2) if last["batch"] + 1 < last["batches"] else 1
    return f"waiting for batch {nxt}/{last['batches']} to finish{pace}, then last.pt is written"


def checkpoints(project: str = "runs") -> list[str]:
    """Every best.pt under `project`, and last.pt where a run has no best.pt (stopped before an
    epoch was validated), newest first (the model lists of the page)."""
    found = glob.glob(os.path.join(project, "**", "best.pt"), recursive=True)
    found += [p for p in glob.glob(os.path.join(project, "**", "last.pt"), recursive=True)
              if not os.path.exists(os.path.join(os.path.dirname(p), "best.pt"))]
    return sorted(found, key=os.path.getmtime, reverse=True)
