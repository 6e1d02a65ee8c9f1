"""BENCHMARKS.md's "Deploy: fp32 vs INT8, onnxruntime and OpenVINO" section, from the deploy benchmark's
results (bench/bench_inference.py with its deploy targets, bench/deploy_targets.py): per preset and size
each target's median / p90 / size and its speed against fp32 onnxruntime timed in the same run; per
short-trained checkpoint each target's size, latency and mAP50 / mAP50-95 (engine/deploy/targets.deploy).
Where the results file does not record its date or command, the section says what it shows instead.
"""
from __future__ import annotations

import datetime
import os
import subprocess

# the deploy benchmark's file: deploy.json (bench_inference.py --out bench/results/deploy.json), else the
# default inference.json when that run had the deploy targets
FILES = ("deploy.json", "inference.json")
# (label, column prefix in a row, size key in a row): the targets of a latency row, fp32 onnxruntime first
TARGETS = (("ONNX fp32 (onnxruntime)", "onnx", "onnx_bytes"), ("ONNX int8 (onnxruntime)", "onnx_int8", "int8_bytes"),
           ("OpenVINO fp32", "openvino_fp32", None), ("OpenVINO int8", "openvino_int8", None),
           ("PyTorch eager (fused)", "torch", None))


def has_targets(d: dict | None) -> bool:
    return bool(d) and (any("onnx_int8_ms_median" in r for r in d.get("rows", [])) or bool(d.get("map")))


def pick(load) -> tuple[str, dict] | tuple[None, None]:
    """(file name, results) of the first of FILES that holds deploy targets; `load(name)` reads one."""
    for name in FILES:
        d = load(name)
        if has_targets(d):
            return name, d
    return None, None


def _mb(nbytes) -> str:
    return f"{nbytes / 2**20:.2f}" if nbytes else "-"


def _ms(v) -> str:
    return f"{v:.2f}" if v is not None else "-"


def _date(d: dict, path: str) -> str:
    """The run's date: recorded in the file, else the commit that holds the file unchanged (a checkout's
    file dates are the checkout's), else the file's date."""
    if d.get("date"):
        return str(d["date"])
    if not os.path.exists(path):
        return "not recorded"
    git = ["git", "-C", os.path.dirname(path)]
    try:
        changed = subprocess.run([*git, "status", "--porcelain", "--", path], capture_output=True, text=True,
                                 timeout=10).stdout.strip()
        day = "" if changed else subprocess.run([*git, "log", "-1", "--format=%cs", "--", path],
                                                capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        day = ""
    if day:
        return f"{day} (the commit of the file; it records no date)"
    day = datetime.datetime.fromtimestamp(os.path.getmtime(path), datetime.timezone.utc).strftime("%Y-%m-%d")
    return f"{day} (the file's date; it records none)"


def _command(d: dict, name: str) -> str:
    if d.get("command"):
        return f"`{d['command']}`"
    m, rows = d.get("method", {}), d.get("rows", [])
    presets = ",".join(dict.fromkeys(r["preset"] for r in rows))
    sizes = ",".join(str(s) for s in dict.fromkeys(r["imgsz"] for r in rows))
    flags = [f"--presets {presets}" if presets else "", f"--sizes {sizes}" if sizes else "",
             *(f"--{k.replace('_', '-')} {m[k]}" for k in ("runs_320", "runs_640", "repeats") if k in m)]
    if d.get("map"):
        flags.append("--map-checkpoints " + ",".join(c["checkpoint"] for c in d["map"]))
    cmd = " ".join(["python bench/bench_inference.py", *[f for f in flags if f], f"--out bench/results/{name}"])
    return f"`{cmd}` (the file records no command: these are its recorded settings)"


def _machine(d: dict) -> str:
    m = d.get("machine", {})
    parts = [m.get("cpu"), f"{m['cpus']} CPUs" if m.get("cpus") else None, m.get("platform"),
             f"Python {m['python']}" if m.get("python") else None, f"torch {m['torch']}" if m.get("torch") else None,
             f"onnxruntime {m['onnxruntime']}" if m.get("onnxruntime") else None,
             f"OpenVINO {m['openvino']}" if m.get("openvino") else None]
    return ", ".join(p for p in parts if p)


def _threads(d: dict) -> str:
    m = d.get("machine", {})
    ort = m.get("onnxruntime_intra_op_threads")
    ort_text = ("onnxruntime's default (one per physical core)" if ort == 0 else f"{ort}") if ort is not None else "-"
    return (f"PyTorch {m.get('torch_threads', '-')} thread(s), onnxruntime intra-op threads: {ort_text}, "
            "OpenVINO one per core; the checkpoints' rows: " +
            (", ".join(sorted({str(c.get("threads", "-")) for c in d.get("map", [])})) or "-") + " thread(s)")


def latency_rows(d: dict) -> list[str]:
    out = ["| preset | size | target | median ms | p90 ms | size MB | speed vs fp32 onnxruntime |",
           "|---|---:|---|---:|---:|---:|---:|"]
    for r in d.get("rows", []):
        if "onnx_int8_ms_median" not in r:
            continue
        base = r["onnx_ms_median"]
        for label, key, size in TARGETS:
            med = r.get(f"{key}_ms_median")
            if med is None:
                continue
            preset = r["preset"] + (" (disturbed)" if r.get("disturbed") else "")
            out.append(f"| {preset} | {r['imgsz']} | {label} | {_ms(med)} | {_ms(r.get(f'{key}_ms_p90'))} | "
                       f"{_mb(r.get(size)) if size else '-'} | {base / med:.2f}x |")
    return out if len(out) > 2 else []


def map_rows(d: dict) -> list[str]:
    out = []
    for c in d.get("map", []):
        t0 = c["targets"][0]
        out += ["", f"`{c['checkpoint']}` at {c['imgsz']} px, {c.get('threads', '-')} thread(s); mAP on "
                f"{c.get('accuracy_data', {}).get('images', '-')} val images of "
                f"{c.get('accuracy_data', {}).get('data', '-')}, int8 calibrated on "
                f"{c.get('calibration', {}).get('images', '-')} train images:", "",
                "| target | median ms | p90 ms | size MB | speed vs fp32 onnxruntime | mAP50 | mAP50-95 | "
                "mAP50 vs fp32 |", "|---|---:|---:|---:|---:|---:|---:|---:|"]
        for t in c["targets"]:
            speed = f"{t0['median_ms'] / t['median_ms']:.2f}x" if t.get("median_ms") and t0.get("median_ms") else "-"
            m50, m5095 = t.get("mAP50"), t.get("mAP50-95")
            delta = (f"{100 * (m50 - t0['mAP50']):+.2f} pt" if m50 is not None and t0.get("mAP50") is not None
                     else "-")
            out.append(f"| {t['label']} | {_ms(t.get('median_ms'))} | {_ms(t.get('p90_ms'))} | {_mb(t.get('bytes'))} | "
                       f"{speed} | {'-' if m50 is None else f'{m50:.3f}'} | "
                       f"{'-' if m5095 is None else f'{m5095:.3f}'} | {delta} |")
    return out


def deploy_section(d: dict, name: str, path: str) -> list[str]:
    """The section's lines for the results `d` read from `path` (named `name` in bench/results/)."""
    m = d.get("method", {})
    out = ["## Deploy: fp32 vs INT8, onnxruntime and OpenVINO — `python bench/bench_inference.py`", "",
           f"The deploy (fused) model's forward on this machine, fp32 and static INT8 (QDQ) on onnxruntime and "
           f"OpenVINO's CPU plugin, PyTorch eager beside them, all timed in the same run (`results/{name}`). "
           "Speed = fp32 onnxruntime's median / the target's (above 1: faster).", "",
           f"- Machine: {_machine(d) or 'not recorded'}", f"- Threads: {_threads(d)}", f"- Date: {_date(d, path)}",
           f"- Command: {_command(d, name)}"]
    if m.get("timing"):
        out.append(f"- Timing: {m['timing']}")
    if m.get("targets"):
        out.append(f"- Targets: {m['targets']}")
    lat = latency_rows(d)
    if lat:
        out += ["", "Untrained presets (latency does not depend on the weights):", "", *lat]
    maps = map_rows(d)
    if maps:
        out += ["", "Short-trained checkpoints, every target exported, timed and scored by `launch.py export --int8 "
                "--format openvino`'s own code (engine/deploy/targets.deploy):", *maps]
    goal = goal_line(d)
    return out + (["", goal] if goal else []) + [""]


def goal_line(d: dict) -> str:
    """Issue 13's goal read off the results: INT8 at least 2x fp32 onnxruntime on YOLOv8n at 640, at most
    one point of mAP50 lost ('' when the run has no such row)."""
    row = next((r for r in d.get("rows", []) if r["preset"] == "yolov8n" and r["imgsz"] == 640
                and "onnx_int8_ms_median" in r), None)
    if not row:
        return ""
    speeds = {label: row["onnx_ms_median"] / row[f"{key}_ms_median"] for label, key, _ in TARGETS[1:4:2]
              if row.get(f"{key}_ms_median")}
    losses = [100 * (c["targets"][0]["mAP50"] - t["mAP50"]) for c in d.get("map", []) for t in c["targets"]
              if "int8" in t["label"] and t.get("mAP50") is not None and c["targets"][0].get("mAP50") is not None]
    fast = max(speeds.values()) >= 2.0
    text = (f"Issue 13's goal, INT8 at least 2x fp32 onnxruntime on YOLOv8n at 640 with at most 1 point of mAP50 "
            f"lost: speed {'met' if fast else 'NOT met'} in this run ("
            + ", ".join(f"{label} {v:.2f}x" for label, v in speeds.items()) + ")")
    if losses:
        text += (f"; mAP50 lost by the int8 targets of the checkpoints above at most {max(losses):.2f} points "
                 f"({'met' if max(losses) <= 1.0 else 'NOT met'})")
    return text + "."
