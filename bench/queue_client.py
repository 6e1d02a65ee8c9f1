"""A raw client of Gradio's queue API, as an attacker would use it: post any payload to any event
(private ones included, by fn_index) and read every message of the answer. Used by the load
benchmark (bench/bench_load.py) and the hardening tests."""
from __future__ import annotations

import json
import uuid

import httpx


def config(url: str) -> dict:
    return httpx.get(url.rstrip("/") + "/config", timeout=30).json()


def event(cfg: dict, api_name: str) -> dict:
    """The dependency of the handler called `api_name`, with its input components' configs."""
    comps = {c["id"]: c for c in cfg["components"]}
    dep = next(d for d in cfg["dependencies"] if d.get("api_name") == api_name)
    return {**dep, "input_components": [comps[i] for i in dep["inputs"]]}


def default_inputs(dep: dict) -> list:
    return [c.get("props", {}).get("value") for c in dep["input_components"]]


def call(url: str, dep: dict, data: list, timeout: float = 120) -> tuple[int, str, list[dict]]:
    """Post `data` to the event: (HTTP status of the join, all the text the server sent, messages)."""
    base = url.rstrip("/")
    session = uuid.uuid4().hex[:11]
    target = dep["targets"][0][0] if dep["targets"] else None
    with httpx.Client(timeout=timeout) as c:
        r = c.post(f"{base}/gradio_api/queue/join", json={
            "data": data, "event_data": None, "fn_index": dep["id"], "trigger_id": target,
            "session_hash": session})
        text, messages = r.text, []
        if r.status_code != 200:
            return r.status_code, text, messages
        with c.stream("GET", f"{base}/gradio_api/queue/data", params={"session_hash": session}) as s:
            for line in s.iter_lines():
                text += line + "\n"
                if not line.startswith("data:"):
                    continue
                msg = json.loads(line[5:])
                messages.append(msg)
                if msg.get("msg") in ("process_completed", "close_stream", "unexpected_error"):
                    break
    return 200, text, messages


def file_data(path: str, name: str | None = None) -> dict:
    return {"path": path, "orig_name": name or path.rsplit("/", 1)[-1], "meta": {"_type": "gradio.FileData"}}
