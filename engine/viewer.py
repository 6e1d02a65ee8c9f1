"""Netron's bundled viewer, served by the app itself (app/server.py adds the routes), so the graph of
an export shows offline and for a browser on another machine.

Each export lives in its own private folder, known by a random token; the viewer can reach only the
files of the netron package and the model of a live token — nothing else on disk. Releasing a token
deletes its folder. Netron's viewer refuses to run 180 days after its build and asks once for a
cookie consent (its own telemetry question): `status()` says plainly when it cannot show a model.
"""
from __future__ import annotations

import datetime as dt
import os
import re
import secrets
import shutil
import tempfile
import threading
from html import escape

MAX_AGE_DAYS = 180


def netron_dir() -> str | None:
    try:
        import netron
    except ImportError:
        return None
    return os.path.dirname(os.path.abspath(netron.__file__))


def netron_build() -> tuple[str | None, dt.datetime | None]:
    """(version, build date) from the bundled index.html."""
    folder = netron_dir()
    if not folder:
        return None, None
    with open(os.path.join(folder, "index.html"), encoding="utf-8") as fh:
        head = fh.read(4096)
    version = re.search(r'<meta name="version" content="([^"]*)"', head)
    date = re.search(r'<meta name="date" content="([^"]*)"', head)
    when = None
    if date:
        try:
            when = dt.datetime.strptime(date.group(1), "%Y-%m-%d %H:%M:%S")
        except ValueError:
            when = None
    return (version.group(1) if version else None), when


def status(now: dt.datetime | None = None) -> tuple[bool, str]:
    """(usable, message) for the bundled viewer."""
    version, built = netron_build()
    if version is None:
        return False, "Netron is not installed (pip install netron); the ONNX file is still offered for download."
    if built is not None:
        age = ((now or dt.datetime.utcnow()) - built).days
        if age > MAX_AGE_DAYS:
            return False, (f"The bundled Netron {version} was built {built:%Y-%m-%d}, {age} days ago; it refuses to "
                           f"run after {MAX_AGE_DAYS} days. Upgrade it (pip install -U netron) — the ONNX file is "
                           f"still offered for download.")
    return True, f"Netron {version}"


class ExportStore:
    """Private folders for exports, one per token; thread-safe."""

    def __init__(self, root: str | None = None):
        self.root = root or tempfile.mkdtemp(prefix="yld-exports-")
        self._live: dict[str, str] = {}
        self._lock = threading.Lock()

    def new(self) -> tuple[str, str]:
        token = secrets.token_urlsafe(16)
        folder = os.path.join(self.root, token)
        os.makedirs(folder, mode=0o700)
        with self._lock:
            self._live[token] = folder
        return token, folder

    def release(self, token: str | None) -> None:
        with self._lock:
            folder = self._live.pop(token, None) if token else None
        if folder:
            shutil.rmtree(folder, ignore_errors=True)

    def live(self) -> int:
        with self._lock:
            return len(self._live)

    def model_file(self, token: str, name: str) -> str | None:
        """The path of `name` in the folder of `token`, or None: never a path outside it."""
        with self._lock:
            folder = self._live.get(token)
        if not folder or name != os.path.basename(name) or name.startswith(".") or not name.endswith(".onnx"):
            return None
        path = os.path.join(folder, name)
        return path if os.path.isfile(path) else None


def static_file(name: str) -> str | None:
    """A file of the netron package by its bare name, or None."""
    folder = netron_dir()
    if not folder or name != os.path.basename(name) or name.startswith(".") or name.endswith(".py"):
        return None
    path = os.path.join(folder, name)
    return path if os.path.isfile(path) else None


def viewer_page(model_url: str, title: str) -> str:
    """Netron's index.html set up to open `model_url` (as netron's own server does it); served from
    the folder of the package's files so its scripts load beside it."""
    with open(os.path.join(netron_dir(), "index.html"), encoding="utf-8") as fh:
        html = fh.read()
    version, _ = netron_build()
    meta = "\n".join(['<meta name="type" content="Python">',
                      f'<meta name="version" content="{escape(version or "0.0.0")}">',
                      f'<meta name="file" content="{escape(model_url)}">',
                      f'<meta name="name" content="{escape(title)}">'])
    return re.sub(r'<meta name="version" content="[^"]*">', lambda _: meta, html, count=1)
