"""The hostile requests of the load benchmark (bench/bench_load.py), one method per kind: an alias
bomb and a 5000-deep list to /info, a 25 MB text to /info, a FileData naming /etc/passwd or a planted
secret.yaml (also as a `..` climb out of the upload folder) posted raw to the upload event, a foreign
Host header and a cross-origin POST. Each call says refused / crashed / accepted, and whether any
text of the named files came back."""
from __future__ import annotations

import itertools
import json
import os
import re
import tempfile
import time

import httpx

from bench.queue_client import call as queue_call
from bench.queue_client import file_data

PASSWD_MARKERS = ("root:x:0:0", "/bin/bash", "/usr/sbin/nologin", "daemon:x:")
SECRET_MARKER = "BENCH-PLANTED-SECRET-5d1c"
KINDS = ("alias_bomb", "deep_nesting", "huge_text_25mb", "path_traversal", "bad_host", "cross_origin")
CALL_TIMEOUT = 60.0


def alias_bomb() -> str:
    """10 levels of 10 aliases to the level below: ~400 bytes that expand to 10**10 scalars."""
    names = "abcdefghij"
    lines = [f"{names[0]}: &{names[0]} [" + ",".join(["lol"] * 10) + "]"]
    for prev, name in zip(names, names[1:]):
        lines.append(f"{name}: &{name} [" + ",".join([f"*{prev}"] * 10) + "]")
    return "\n".join(lines) + "\n"


DEEP = "backbone: " + "[" * 5000 + "]" * 5000
HUGE = "# " + "x" * (25 * 2**20)


def leaked(text: str) -> bool:
    return any(m in text for m in PASSWD_MARKERS + (SECRET_MARKER,))


def planted_yaml() -> str:
    """A model yaml with a marker line in a fresh folder of the bench's own (not the server's)."""
    folder = tempfile.mkdtemp(prefix="bench-load-secret-")
    path = os.path.join(folder, "secret.yaml")
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(f"# {SECRET_MARKER}\nnc: 80\nbackbone: [[-1, 1, Conv, [16, 3, 2]]]\nhead: []\n")
    return path


class Hostile:
    """One hostile request of each kind -> (outcome, ms, note); outcome is refused | crashed | accepted."""

    def __init__(self, url: str, upload_dep: dict, temp_root: str | None, normal_yaml: str):
        self.url, self.dep, self.normal_yaml = url, upload_dep, normal_yaml
        self.bomb = alias_bomb()
        secret = planted_yaml()  # a .yaml, the type the upload button takes, outside every served folder
        self.paths = ["/etc/passwd", secret]
        if temp_root:  # climb out of Gradio's upload folder (the app's private temp folder)
            up = os.path.join(temp_root, "gradio", *[".."] * (temp_root.count("/") + 1))
            self.paths += [os.path.join(up, "etc", "passwd"), os.path.join(up, secret.lstrip("/"))]
        self.n_traversal = itertools.count()

    def run(self, kind: str, client) -> dict:
        t0 = time.perf_counter()
        try:
            outcome, text = getattr(self, kind)(client)
        except (httpx.TimeoutException, TimeoutError) as err:
            outcome, text = "crashed", f"timeout: {err!r}"
        except (httpx.TransportError, ConnectionError) as err:
            outcome, text = "crashed", f"connection dropped: {err!r}"
        except httpx.HTTPStatusError as err:  # gradio_client raises it on a 4xx / 5xx answer
            text = f"HTTP {err.response.status_code}: {err.response.text[:150]}"
            outcome = "refused" if 400 <= err.response.status_code < 500 else "crashed"
        except Exception as err:  # noqa: BLE001 - e.g. gradio_client's AppError for a Gradio error event
            text = repr(err)
            outcome = "refused" if type(err).__name__ == "AppError" else "crashed"
        t1 = time.perf_counter()
        ms = (t1 - t0) * 1000
        error = re.search(r'"error":\s*"((?:[^"\\]|\\.)*)"', text)  # a Gradio error event's or ok False's text
        note = error.group(1) if error else text.strip()[:200]
        return {"kind": kind, "outcome": outcome, "ms": ms, "leaked": leaked(text), "note": note[:200],
                "span": (t0, t1)}

    def _info(self, client, text: str) -> tuple[str, str]:
        r = client.submit(text, 640, api_name="/info").result(timeout=CALL_TIMEOUT)
        body = json.dumps(r)
        return ("refused" if isinstance(r, dict) and r.get("ok") is False and r.get("error") else "accepted"), body

    def alias_bomb(self, client):
        return self._info(client, self.bomb)

    def deep_nesting(self, client):
        return self._info(client, DEEP)

    def huge_text_25mb(self, client):
        return self._info(client, HUGE)  # the guard answers 413: gradio_client raises HTTPStatusError

    def path_traversal(self, client):
        data = [c.get("props", {}).get("value") for c in self.dep["input_components"]]
        data[0] = file_data(self.paths[next(self.n_traversal) % len(self.paths)])
        status, text, messages = queue_call(self.url, self.dep, data)
        return self._classify_raw(status, text, messages)

    def _raw_info(self, headers: dict) -> tuple[str, str]:
        r = httpx.post(self.url + "gradio_api/call/info", json={"data": [self.normal_yaml, 640]}, headers=headers,
                       timeout=CALL_TIMEOUT)
        return self._classify_raw(r.status_code, r.text, [])

    def bad_host(self, client):
        return self._raw_info({"Host": "evil.example"})

    def cross_origin(self, client):
        return self._raw_info({"Origin": "http://evil.example"})

    @staticmethod
    def _classify_raw(status: int, text: str, messages: list[dict]) -> tuple[str, str]:
        if status >= 500:
            return "crashed", text
        if 400 <= status < 500:
            return "refused", text
        end = messages[-1] if messages else {}
        if end.get("msg") == "unexpected_error":
            return "crashed", text
        if end.get("msg") == "process_completed" and end.get("success") is False:
            return "refused", text  # a Gradio error event
        if end.get("msg") == "process_completed" and ("not a file uploaded" in text or "not there" in text):
            return "refused", text  # the handler's own refusal, shown as an error on the page
        if not messages and status == 200:
            return "accepted", text
        return ("crashed" if not end else "accepted"), text
