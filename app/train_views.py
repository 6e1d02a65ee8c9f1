"""What the Train tab shows, as HTML / SVG strings made from a run's events (plain data, no Gradio):
the progress box (state, bar, epoch / batch / ETA, what a stop under way waits for, an epoch a stop
cut short), the loss chart (per-batch losses faint, an EMA-smoothed line across epochs, epoch
boundaries marked), the mAP chart, and the quiet check of the number fields."""
from __future__ import annotations

from html import escape

from .charts import line_chart

LIMITS = {"Epochs": (1, 1000, 1), "Train image size": (32, 1280, 32), "Batch": (1, 512, 1)}
COLOURS = {"running": "#2563eb", "stopping": "#d97706", "finished": "#059669", "stopped": "#d97706",
           "crashed": "#dc2626", "incomplete": "#7c3aed"}


def number_problem(label: str, value, lo: int, hi: int, multiple: int = 1) -> str:
    """'' if `value` is a whole number in [lo, hi] (and a multiple of `multiple`), else one line."""
    what = f"a whole number from {lo} to {hi}" + (f", a multiple of {multiple}" if multiple > 1 else "")
    try:
        v = float(value)
    except (TypeError, ValueError):
        return f"{label}: enter {what}."
    if v != v or v != int(v) or not lo <= v <= hi or int(v) % multiple:
        shown = f"{v:g}" if v == v else "nan"
        return f"{label} {shown} is out of range: use {what}."
    return ""


def settings_problems(epochs, imgsz, batch) -> list[str]:
    return [p for p in (number_problem(k, v, *LIMITS[k]) for k, v in
                        zip(LIMITS, (epochs, imgsz, batch))) if p]


def field_note(problems: list[str], elem: str = "train-settings-msg") -> str:
    """The message under a group of number fields: each problem, or nothing (a quiet check: no toast)."""
    if not problems:
        return f'<div id="{elem}" class="yld-field-ok"></div>'
    return (f'<div id="{elem}" class="yld-field-msg" role="status">'
            + "".join(f"<div>{escape(p)}</div>" for p in problems) + "</div>")


def loss_series(events: list[dict]) -> tuple[dict, dict, list[float]]:
    """(smoothed, raw, epoch boundaries) of each loss term per batch, x = epochs (fractional). The raw
    loss of a batch is recovered from the running epoch means the trainer reports; the smoothed line
    is an exponential moving average over all batches (bias-corrected, never reset at an epoch)."""
    raw: dict[str, list] = {}
    prev: dict[str, float] = {}
    last_key = None
    for e in events:
        if e.get("event") == "fit_start":  # a resume: drop what the resumed epochs repeat
            start = e.get("start_epoch", 0)
            raw = {k: [p for p in pts if p[0] <= start] for k, pts in raw.items()}
            last_key = None
        if e.get("event") != "batch_end":
            continue
        i, ep = e["batch"], e["epoch"]
        x = ep + (i + 1) / e["batches"]
        contiguous = last_key == (ep, i - 1)
        for k, mean in e["loss"].items():
            value = (i + 1) * mean - i * prev[k] if contiguous and k in prev else mean if i == 0 else None
            prev[k] = mean
            if value is not None:
                raw.setdefault(k, []).append((x, max(value, 0.0)))
        last_key = (ep, i)
    batches_per_epoch = max((e["batches"] for e in events if e.get("event") == "batch_end"), default=1)
    beta = 1 - 2 / (min(max(batches_per_epoch / 2, 3), 50) + 1)
    smooth = {}
    for k, pts in raw.items():
        s, out = 0.0, []
        for t, (x, v) in enumerate(pts, 1):
            s = beta * s + (1 - beta) * v
            out.append((x, s / (1 - beta ** t)))
        smooth[k] = out
    top = max((p[0] for pts in raw.values() for p in pts), default=0)
    return smooth, raw, [float(m) for m in range(1, int(top) + 1)]


def curves(events: list[dict]) -> tuple[str, str]:
    """(loss chart, mAP chart) as SVG."""
    smooth, raw, marks = loss_series(events)
    span = max((p[0] for pts in raw.values() for p in pts), default=0)
    loss = line_chart(smooth, "Loss per batch (line: smoothed)", "epoch", "loss-chart", faint=raw, marks=marks,
                      y_label="loss", x_min=0, x_integer=span >= 3, y_min_top=0.1)
    maps: dict[str, list] = {"mAP50": [], "mAP50-95": []}
    for e in events:
        if e.get("event") in ("epoch_end", "epoch_partial") and e.get("metrics"):
            x = e["epoch"] + 1 if e["event"] == "epoch_end" else e["epoch"] + e["batch"] / e["batches"]
            for k in maps:
                maps[k].append((x, e["metrics"][k]))
    empty = "no validated epoch yet" if any(e.get("event") == "batch_end" for e in events) else "no data yet"
    chart = line_chart({k: v for k, v in maps.items() if v}, "Validation mAP", "epoch", "map-chart", y_max=1.0,
                       y_label="mAP", x_min=0, x_integer=True, dots=True, empty=empty, y_min_top=0.01)
    return loss, chart


def _clock(s: float) -> str:
    s = int(s)
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60}:{s % 60:02d}"


def progress_html(events: list[dict], state: str, message: str = "", stopping: str = "") -> str:
    """The progress box. `message`: why a run crashed; `stopping`: what a stop under way waits for."""
    events = [e for e in events if isinstance(e, dict)]
    last = next((e for e in reversed(events) if e.get("event") == "batch_end"), None)
    epochs = [e for e in events if e.get("event") == "epoch_end"]
    end = next((e for e in reversed(events) if e.get("event") == "fit_end"), None)
    partial = (end or {}).get("partial") or next(
        ({k: e[k] for k in ("epoch", "batch", "batches")} for e in reversed(events) if e.get("event") == "epoch_partial"),
        None)
    part_ev = next((e for e in reversed(events) if e.get("event") == "epoch_partial"), None)
    shown = "stopping" if stopping and state == "running" else state
    lines, frac = [], 0.0
    if last is None:
        lines.append("starting: loading the model and the data…" if state == "running" else "")
    else:
        done = last["epoch"] * last["batches"] + last["batch"] + 1
        frac = min(done / max(last["epochs"] * last["batches"], 1), 1.0)
        if state == "running":
            eta = last["eta_s"]
            lines.append(f"epoch {last['epoch'] + 1}/{last['epochs']} · batch {last['batch'] + 1}/{last['batches']} · "
                         f"{last['images_per_s']:.1f} img/s · ETA {_clock(eta)}"
                         + (" (validation included)" if epochs else ""))
    if partial and state != "running":
        lines.append(f"stopped during epoch {partial['epoch'] + 1} (batch {partial['batch']}/{partial['batches']}): "
                     "a partial epoch, not counted")
        m = (part_ev or {}).get("metrics")
        lines.append(f"partial epoch validated as asked: mAP50 {m['mAP50']:.3f}, mAP50-95 {m['mAP50-95']:.3f}" if m
                     else "the partial epoch was not validated (no mAP for it)")
    if state != "running" and last is not None:
        total = (end or {}).get("seconds")
        lines.append(f"{len(epochs)} complete epoch{'s' if len(epochs) != 1 else ''}"
                     + (f" in {_clock(total)}" if total is not None else ""))
    if epochs:
        m = epochs[-1]["metrics"]
        lines.append(f"last mAP50 {m['mAP50']:.3f}, mAP50-95 {m['mAP50-95']:.3f} (epoch {epochs[-1]['epoch'] + 1})")
    colour = COLOURS.get(shown, "#64748b")
    note = f'<div class="yld-error">{escape(message)}</div>' if message else ""
    wait = f'<div class="yld-stopping" id="train-stopping">Stopping: {escape(stopping)}</div>' if shown == "stopping" else ""
    body = "".join(f'<div class="yld-note">{escape(line)}</div>' for line in lines if line)
    attrs = f' data-epochs="{len(epochs)}"' + (
        f' data-partial="{partial["epoch"] + 1}:{partial["batch"]}/{partial["batches"]}"' if partial else "")
    return (f'<div id="train-progress" data-state="{state}"{attrs}>'
            f'<div style="font-weight:600;color:{colour}" id="train-state">{shown}</div>'
            f'<div style="background:#e2e8f0;border-radius:6px;height:10px;margin:6px 0">'
            f'<div style="width:{frac * 100:.1f}%;background:{colour};height:10px;border-radius:6px"></div></div>'
            f'{body}{wait}{note}</div>')
