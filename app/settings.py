"""The server's settings: who may reach it and how much of the machine it may use.

One small object, filled from `launch.py`'s flags (sane defaults for a local design tool), read by
the request guard (app/security.py), the path check (app/paths.py), the Train tab (job limit), and
the housekeeping thread (disk quota, cache age). `configure()` replaces it; `current()` reads it.
"""
from __future__ import annotations

import atexit
import dataclasses
import ipaddress
import os
import re
import secrets
import shutil
import tempfile
from dataclasses import dataclass, field

LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)i?b?\s*$", re.IGNORECASE)


def parse_size(text: str | int) -> int:
    """'10G', '200MB', '512k', 1000 -> bytes; ValueError naming the text otherwise."""
    if isinstance(text, int):
        return text
    m = _SIZE.match(str(text))
    if not m:
        raise ValueError(f"not a size: {text!r} (write it like 200M or 10G)")
    return int(float(m.group(1)) * 1024 ** "_kmgt".index((m.group(2) or "_").lower()))


def is_loopback(host: str) -> bool:
    name = host.strip("[]").lower()
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def default_max_jobs() -> int:
    """One training at a time on a CPU machine; one per GPU."""
    try:
        import torch

        return max(1, torch.cuda.device_count())
    except Exception:  # noqa: BLE001 - no torch / no driver: the CPU default
        return 1


@dataclass
class Settings:
    host: str = "127.0.0.1"
    port: int = 7860
    token: str | None = None          # required on every request when set (non-loopback hosts)
    allowed_hosts: tuple[str, ...] = ()  # Host headers accepted besides the bound host and loopback names
    max_jobs: int = field(default_factory=default_max_jobs)  # concurrent trainings, whole server
    disk_quota: int = 10 * 2**30      # runs/ + the app's temp folder together
    max_file_size: int = 200 * 2**20  # one upload
    max_body: int = 1 * 2**20         # any other request body (a model yaml is a few KB)
    cache_ttl_s: int = 6 * 3600       # temp files (downloads, uploads) older than this are removed
    runs_dir: str = field(default_factory=lambda: os.path.abspath(os.environ.get("YLD_RUNS", "runs")))
    data_roots: tuple[str, ...] = ()  # folders a "data.yaml on the server" may come from
    temp_root: str | None = None      # the app's private temp folder (set by prepare_temp)

    @property
    def local(self) -> bool:
        return is_loopback(self.host)

    def host_allowed(self, header: str) -> bool:
        """Is a request's Host header one this server was started for (DNS rebinding guard)?"""
        name = _host_name(header)
        if not name:
            return False
        if name in self.allowed_hosts:
            return True
        if self.host in ("0.0.0.0", "::"):  # every interface: any name reaches it (the token guards)
            return True
        return name == self.host.strip("[]").lower() or (self.local and name in LOOPBACK_NAMES)

    def data_path_allowed(self, path: str) -> bool:
        """A server-side data.yaml: anywhere for a local server, inside --data-root otherwise."""
        if self.local and not self.data_roots:
            return True
        real = os.path.realpath(path)
        return any(_inside(real, os.path.realpath(r)) for r in self.data_roots)


def _host_name(header: str) -> str:
    header = header.strip().lower()
    if header.startswith("["):
        return header[1:header.find("]")] if "]" in header else ""
    return header.rsplit(":", 1)[0] if header.count(":") == 1 else header


def _inside(path: str, root: str) -> bool:
    try:
        return os.path.commonpath([path, root]) == root
    except ValueError:
        return False


_current = Settings()


def current() -> Settings:
    return _current


def configure(**changes) -> Settings:
    """Replace the settings (unknown names are a TypeError); a token is made when a non-loopback
    host is given without one and auth was not turned off (`token=""` turns it off)."""
    global _current
    new = dataclasses.replace(_current, **changes)
    if new.token is None and not new.local:
        new.token = secrets.token_urlsafe(24)
    if new.token == "":
        new.token = None
    _current = new
    return new


def prepare_temp() -> str:
    """One private (0700) temp folder for everything the app and Gradio write: Gradio's upload
    cache, downloads, exports. Set as the process's temp dir (and TMPDIR for its children);
    removed when the process exits."""
    s = current()
    if s.temp_root and os.path.isdir(s.temp_root):
        return s.temp_root
    root = tempfile.mkdtemp(prefix="yld-server-")  # mode 0700
    atexit.register(shutil.rmtree, root, True)  # a stopped server leaves no temp files behind
    os.environ["GRADIO_TEMP_DIR"] = os.path.join(root, "gradio")
    os.makedirs(os.environ["GRADIO_TEMP_DIR"], mode=0o700, exist_ok=True)
    os.environ["TMPDIR"] = root
    tempfile.tempdir = root
    s.temp_root = root
    return root
