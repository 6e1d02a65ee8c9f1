"""Benchmark: does the server's hardening hold under load, and what does it cost the honest user?

Starts the app as a subprocess (`python launch.py --port P`, 127.0.0.1 only), waits for GET / to
answer 200, and then, from N client threads (gradio_client, one Client per thread):

1. baseline — normal `/info` calls only (the real model yamls of templates/models/, round robin);
2. mixed — normal `/info` calls with one hostile request after every 3 normals, round robin over:
   an alias bomb ("billion laughs", ~400 bytes) and a 5000-deep nested list to /info; a 25 MB text to
   /info (refused by the request guard with 413); a FileData naming /etc/passwd or a planted
   secret.yaml (each also as a `..` climb out of the upload folder) posted raw to the Design tab's private `on_upload` event through Gradio's
   queue API; an /info call with `Host: evil.example`; a cross-origin /info POST with
   `Origin: http://evil.example`.

It records the latency of every normal call (p50 / p95 / max, ms) and its errors per phase; for every
hostile kind: tried, refused (ok False with an error, HTTP 4xx, or a Gradio error event), crashed
(5xx, connection dropped, timeout) and leaked (a response containing text of /etc/passwd or of the
planted yaml); and the
server's RSS (VmRSS of the server process from /proc, plus any children) after the warm-up, its peak
(sampled every 0.2 s) and after a 3 s settle at the end. The goals: no normal call fails, p95 of
normal calls in the mixed phase <= 2x the baseline's, RSS at the end within 100 MiB of the start.

The normal calls repeat the same 10 yamls, so after the warm-up they hit the server's evaluate cache
(that is what a page re-sending a design gets); `--fresh` appends a unique comment to each normal
yaml so every call does the full parse + resolve + count.

Run: python bench/bench_load.py [--port P] [--clients 8] [--calls 200] [--baseline-calls 100]
                                [--fresh] [--out bench/results/load.json]
Stops by itself (a couple of minutes on 2 cores); the server is killed at the end, also on error.
"""
from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import queue
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

import httpx  # noqa: E402

from bench.hostile import CALL_TIMEOUT, KINDS, Hostile  # noqa: E402
from bench.queue_client import config, event  # noqa: E402
from graph.templates import preset_path, presets  # noqa: E402

# ----------------------------------------------------------------------------------------- server

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_mib(pid: int) -> float:
    """VmRSS of the process and of its children (the server spawns none for /info), in MiB."""
    total_kb = 0
    pids = [pid]
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as fh:
                pids += [int(p) for p in fh.read().split()]
    except OSError:
        pass
    for p in pids:
        try:
            with open(f"/proc/{p}/status") as fh:
                for line in fh:
                    if line.startswith("VmRSS:"):
                        total_kb += int(line.split()[1])
        except OSError:
            pass
    return total_kb / 1024


def cpu_s(pid: int) -> float:
    """user + system CPU seconds of a process so far."""
    with open(f"/proc/{pid}/stat") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class RssSampler(threading.Thread):
    def __init__(self, pid: int, every: float = 0.2):
        super().__init__(daemon=True)
        self.pid, self.every, self.peak, self.stop_flag = pid, every, 0.0, threading.Event()

    def run(self):
        while not self.stop_flag.is_set():
            self.peak = max(self.peak, rss_mib(self.pid))
            self.stop_flag.wait(self.every)

    def reset(self) -> None:
        self.peak = rss_mib(self.pid)


def start_server(port: int, log) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "launch.py", "--port", str(port)], cwd=ROOT,
                            stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    url = f"http://127.0.0.1:{port}/"
    deadline = time.time() + 120
    try:
        while time.time() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"the server exited with status {proc.returncode} before answering "
                                   f"(see {log.name})")
            try:
                if httpx.get(url, timeout=5).status_code == 200:
                    return proc
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        raise RuntimeError("the server did not answer GET / with 200 within 120 s")
    except BaseException:
        stop_server(proc)
        raise


def stop_server(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


# ------------------------------------------------------------------------------------------ phases

def percentile(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))]


def lat_stats(ms: list[float]) -> dict:
    if not ms:
        return {"n": 0}
    return {"n": len(ms), "p50_ms": round(statistics.median(ms), 1), "p95_ms": round(percentile(ms, 0.95), 1),
            "max_ms": round(max(ms), 1), "mean_ms": round(statistics.fmean(ms), 1)}


def run_phase(clients: list, tasks: list, normal_yamls: list[str], hostile: Hostile | None, fresh: bool,
              server_pid: int) -> dict:
    """Work through `tasks` ("normal" or a hostile kind) from len(clients) threads."""
    work: queue.Queue = queue.Queue()
    for i, t in enumerate(tasks):
        work.put((i, t))
    normal_ms, normal_spans, normal_errors, hostile_rows, lock = [], [], [], [], threading.Lock()

    def worker(client):
        while True:
            try:
                i, task = work.get_nowait()
            except queue.Empty:
                return
            if task == "normal":
                text = normal_yamls[i % len(normal_yamls)]
                if fresh:
                    text += f"\n# load bench call {uuid.uuid4().hex}\n"
                t0 = time.perf_counter()
                try:
                    r = client.submit(text, 640, api_name="/info").result(timeout=CALL_TIMEOUT)
                    err = None if isinstance(r, dict) and r.get("ok") else f"not ok: {str(r)[:200]}"
                except Exception as e:  # noqa: BLE001 - every failure of a normal call is counted
                    err = repr(e)[:200]
                t1 = time.perf_counter()
                ms = (t1 - t0) * 1000
                with lock:
                    normal_ms.append(ms)
                    normal_spans.append((t0, t1, ms))
                    if err:
                        normal_errors.append(err)
            else:
                row = hostile.run(task, client)
                with lock:
                    hostile_rows.append(row)

    t0, server0, bench0 = time.perf_counter(), cpu_s(server_pid), cpu_s(os.getpid())
    threads = [threading.Thread(target=worker, args=(c,)) for c in clients]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return {"wall_s": time.perf_counter() - t0, "normal_ms": normal_ms, "normal_spans": normal_spans,
            "normal_errors": normal_errors,
            "hostile": hostile_rows, "server_cpu_s": cpu_s(server_pid) - server0,
            "bench_cpu_s": cpu_s(os.getpid()) - bench0}


def hostile_table(rows: list[dict]) -> dict:
    table = {}
    for kind in KINDS:
        mine = [r for r in rows if r["kind"] == kind]
        table[kind] = {"tried": len(mine), "refused": sum(r["outcome"] == "refused" for r in mine),
                       "crashed": sum(r["outcome"] == "crashed" for r in mine),
                       "accepted": sum(r["outcome"] == "accepted" for r in mine),
                       "leaked": sum(r["leaked"] for r in mine),
                       "median_ms": round(statistics.median([r["ms"] for r in mine]), 1) if mine else None,
                       "example": mine[0]["note"] if mine else None}
    return table


def overlap_table(normal_spans: list[tuple], rows: list[dict]) -> dict:
    """p50 / p95 of the normal calls that overlapped a hostile request of each kind, and of those that
    overlapped none: which hostile input (if any) slows the honest user."""
    def overlaps(span, kind_rows):
        return any(span[0] < r["span"][1] and r["span"][0] < span[1] for r in kind_rows)

    out = {}
    for kind in (*KINDS, None):
        mine = [r for r in rows if r["kind"] == kind] if kind else rows
        ms = [s[2] for s in normal_spans if overlaps(s, mine) == bool(kind)]
        out[kind or "none"] = {"n": len(ms), "p50_ms": round(statistics.median(ms), 1) if ms else None,
                               "p95_ms": round(percentile(ms, 0.95), 1) if ms else None}
    return out


def machine() -> dict:
    import gradio
    import gradio_client
    import torch

    return {"platform": platform.platform(), "cpus": os.cpu_count(), "python": platform.python_version(),
            "torch": torch.__version__, "gradio": gradio.__version__, "gradio_client": gradio_client.__version__}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--port", type=int, help="port for the server (default: a free one)")
    ap.add_argument("--clients", type=int, default=8, help="client threads (default 8)")
    ap.add_argument("--calls", type=int, default=200, help="normal /info calls in the mixed phase (default 200)")
    ap.add_argument("--baseline-calls", dest="baseline_calls", type=int, default=100,
                    help="normal /info calls in the baseline phase (default 100)")
    ap.add_argument("--hostile-every", dest="hostile_every", type=int, default=3,
                    help="one hostile request after this many normal calls (default 3)")
    ap.add_argument("--fresh", action="store_true", help="make every normal yaml unique (no server cache hits)")
    ap.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "results", "load.json"))
    a = ap.parse_args()

    from gradio_client import Client

    port = a.port or free_port()
    url = f"http://127.0.0.1:{port}/"
    normal_yamls = []
    for name in presets():
        with open(preset_path(name), encoding="utf-8") as fh:
            normal_yamls.append(fh.read())
    log = tempfile.NamedTemporaryFile("w+", prefix="bench-load-server-", suffix=".log", delete=False)
    proc, sampler, clients, temp_root = None, None, [], None
    t_start = time.perf_counter()
    try:
        proc = start_server(port, log)  # on failure it stops the server itself
        print(f"server pid {proc.pid} on {url} (log {log.name}), up in {time.perf_counter() - t_start:.1f} s")
        log.flush()
        with open(log.name) as fh:
            m = re.search(r"(/\S*yld-server-\S+)", fh.read())
        temp_root = m.group(1) if m else None
        clients = [Client(url, verbose=False, analytics_enabled=False, download_files=False)
                   for _ in range(a.clients)]
        for i, text in enumerate(normal_yamls):  # warm-up: imports, dispatch set-up, the evaluate cache
            clients[i % len(clients)].predict(text, 640, api_name="/info")
        for c in clients:
            c.predict(normal_yamls[0], 640, api_name="/info")
        hostile = Hostile(url, event(config(url), "on_upload"), temp_root, normal_yamls[0])
        time.sleep(1.0)
        rss_start = rss_mib(proc.pid)
        sampler = RssSampler(proc.pid)
        sampler.start()

        print(f"baseline: {a.baseline_calls} normal /info calls from {a.clients} threads ...")
        sampler.reset()
        base = run_phase(clients, ["normal"] * a.baseline_calls, normal_yamls, None, a.fresh, proc.pid)
        peak_base = sampler.peak

        tasks, kinds = [], itertools.cycle(KINDS)
        for i in range(a.calls):
            tasks.append("normal")
            if (i + 1) % a.hostile_every == 0:
                tasks.append(next(kinds))
        n_hostile = len(tasks) - a.calls
        print(f"mixed: {a.calls} normal /info calls + {n_hostile} hostile requests from {a.clients} threads ...")
        sampler.reset()
        mixed = run_phase(clients, tasks, normal_yamls, hostile, a.fresh, proc.pid)
        peak_mixed = sampler.peak
        time.sleep(3.0)  # settle
        rss_end = rss_mib(proc.pid)
        alive = proc.poll() is None
        sampler.stop_flag.set()
    finally:
        if sampler:
            sampler.stop_flag.set()
        for c in clients:
            try:
                c.close()
            except Exception:  # noqa: BLE001 - closing a client is best effort
                pass
        if proc:
            stop_server(proc)
        if temp_root is None:  # e.g. the server failed before its temp folder was read from the log
            log.flush()
            with open(log.name) as fh:
                m = re.search(r"(/\S*yld-server-\S+)", fh.read())
            temp_root = m.group(1) if m else None
        if temp_root and os.path.basename(temp_root).startswith("yld-server-"):
            shutil.rmtree(temp_root, ignore_errors=True)  # the server's private temp folder outlives it
        log.close()

    b, mx = lat_stats(base["normal_ms"]), lat_stats(mixed["normal_ms"])
    table = hostile_table(mixed["hostile"])
    rss = {"start_mib": round(rss_start, 1), "peak_baseline_mib": round(peak_base, 1),
           "peak_mixed_mib": round(peak_mixed, 1), "peak_mib": round(max(peak_base, peak_mixed), 1),
           "end_mib": round(rss_end, 1), "end_minus_start_mib": round(rss_end - rss_start, 1)}
    ratio = {"p50": round(mx["p50_ms"] / b["p50_ms"], 2), "p95": round(mx["p95_ms"] / b["p95_ms"], 2)}
    goals = {"no_normal_error": not base["normal_errors"] and not mixed["normal_errors"],
             "p95_mixed_within_2x_baseline": mx["p95_ms"] <= 2 * b["p95_ms"],
             "rss_end_within_100_mib_of_start": abs(rss_end - rss_start) <= 100,
             "no_hostile_crash": all(r["crashed"] == 0 for r in table.values()),
             "no_leak": all(r["leaked"] == 0 for r in table.values()),
             "server_alive_at_end": alive}
    result = {
        "benchmark": "server hardening under load: normal /info latency with hostile requests mixed in, RSS",
        "command": " ".join(["python", "bench/bench_load.py", *sys.argv[1:]]),
        "machine": machine(),
        "settings": {"clients": a.clients, "baseline_calls": a.baseline_calls, "mixed_calls": a.calls,
                     "hostile_every": a.hostile_every, "hostile_requests": n_hostile, "fresh": a.fresh,
                     "normal_yamls": list(presets()), "imgsz": 640, "call_timeout_s": CALL_TIMEOUT},
        "baseline": {**b, "errors": len(base["normal_errors"]), "error_examples": base["normal_errors"][:3],
                     "wall_s": round(base["wall_s"], 1), "calls_per_s": round(b["n"] / base["wall_s"], 1),
                     "server_cpu_s": round(base["server_cpu_s"], 1), "bench_cpu_s": round(base["bench_cpu_s"], 1)},
        "mixed": {**mx, "errors": len(mixed["normal_errors"]), "error_examples": mixed["normal_errors"][:3],
                  "wall_s": round(mixed["wall_s"], 1), "normal_calls_per_s": round(mx["n"] / mixed["wall_s"], 1),
                  "server_cpu_s": round(mixed["server_cpu_s"], 1), "bench_cpu_s": round(mixed["bench_cpu_s"], 1)},
        "ratio_mixed_over_baseline": ratio,
        "hostile": table,
        "normal_latency_by_overlapping_hostile_kind": overlap_table(mixed["normal_spans"], mixed["hostile"]),
        "rss": rss,
        "goals": goals,
        "all_goals_hold": all(goals.values()),
        "total_s": round(time.perf_counter() - t_start, 1),
    }
    os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
    with open(a.out, "w") as fh:
        json.dump(result, fh, indent=1)

    print(f"baseline normal /info: p50 {b['p50_ms']} ms, p95 {b['p95_ms']} ms, max {b['max_ms']} ms, "
          f"errors {len(base['normal_errors'])}")
    print(f"mixed    normal /info: p50 {mx['p50_ms']} ms, p95 {mx['p95_ms']} ms, max {mx['max_ms']} ms, "
          f"errors {len(mixed['normal_errors'])}  (p50 x{ratio['p50']}, p95 x{ratio['p95']})")
    for name, ph in (("baseline", base), ("mixed", mixed)):
        print(f"{name}: wall {ph['wall_s']:.1f} s, server CPU {ph['server_cpu_s']:.1f} s, "
              f"bench (clients) CPU {ph['bench_cpu_s']:.1f} s")
    print(f"{'hostile kind':<16} tried refused crashed accepted leaked  median ms")
    for kind, r in table.items():
        print(f"{kind:<16} {r['tried']:>5} {r['refused']:>7} {r['crashed']:>7} {r['accepted']:>8} {r['leaked']:>6}"
              f"  {r['median_ms']}")
    print(f"server RSS: start {rss['start_mib']} MiB, peak {rss['peak_mib']} MiB, end {rss['end_mib']} MiB "
          f"({rss['end_minus_start_mib']:+} MiB)")
    for goal, ok in goals.items():
        print(f"  {'ok  ' if ok else 'FAIL'} {goal}")
    print(f"wrote {a.out} ({result['total_s']} s)")
    if os.path.exists(log.name) and result["all_goals_hold"]:
        os.remove(log.name)


if __name__ == "__main__":
    main()
