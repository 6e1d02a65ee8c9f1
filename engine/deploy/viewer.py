"""Netron's bundled viewer, served by the app itself (app/server.py adds the routes), so the graph of
an export shows offline and for a browser on another machine.

Each export lives in its own private folder, known by a random token; the viewer can reach only the
files of the netron package and the model of a live token — nothing else on disk. Releasing a token
deletes its folder. Netron's viewer refuses to run 180 days after its build: `status()` says plainly
when it cannot show a model.

Nothing leaves the machine (DESIGN.md, rules of the house). Netron's browser build looks the visitor up
at ipinfo.io, asks a cookie question and then reports page views, with the page's URL (and so the
export token), and errors to Google Analytics. What we serve has those parts cut out (`patched_script`),
and every viewer response carries a Content-Security-Policy (`HEADERS`) under which the browser itself
refuses any request off the app's origin, should a newer netron call out some other way.
"""
from __future__ import annotations

import datetime as dt
import functools
import logging
import os
import re
import secrets
import shutil
import tempfile
import threading
from html import escape

MAX_AGE_DAYS = 180

# The viewer reaches its own origin only: scripts, workers, fetches, styles and fonts from the app;
# images also as data: / blob: (its PNG / SVG export); no frames, forms or plugins; embedded only by
# the app's page; no Referer (the page URL holds the export token).
CSP = ("default-src 'none'; script-src 'self'; worker-src 'self'; connect-src 'self'; "
       "img-src 'self' data: blob:; style-src 'self' 'unsafe-inline'; font-src 'self' data:; "
       "manifest-src 'self'; frame-src 'none'; object-src 'none'; base-uri 'none'; form-action 'none'; "
       "frame-ancestors 'self'")
HEADERS = {"Content-Security-Policy": CSP, "Referrer-Policy": "no-referrer"}

# Netron's telemetry, cut out of the scripts we serve: each pattern must match exactly once (a test
# checks it against the installed netron; a netron that no longer matches is served as it is, logged,
# and still held to the CSP above).
#   browser.js `consent`:   GET https://ipinfo.io/json, then "This app uses cookies ..." [Accept]
#   browser.js `telemetry`: starts Google Analytics (G-848W2NVWVH): page_view with the page URL, errors
#   base.js `send`:         navigator.sendBeacon to https://analytics.google.com/g/collect
_PATCHES = {
    "browser.js": [
        (r"\n( *)const consent = async \(\) => \{\n.*?\n\1\};\n",
         "\n\\1const consent = async () => {}; // yolo-lite-designer: no IP lookup, no cookie question\n"),
        (r"\n( *)const telemetry = async \(\) => \{\n.*?\n\1\};\n",
         "\n\\1const telemetry = async () => {}; // yolo-lite-designer: no analytics\n"),
    ],
    "base.js": [
        (r"\n( *)send\(name, params\) \{\n.*?\n\1\}\n",
         "\n\\1send() { // yolo-lite-designer: telemetry sends nothing\n\\1}\n"),
    ],
}
TELEMETRY_HOSTS = ("ipinfo.io", "analytics.google.com", "google-analytics.com", "googletagmanager.com")  # none left in what we serve


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
        self._root = root  # made on first use, inside whatever temp folder the server set up by then
        self._live: dict[str, str] = {}
        self._lock = threading.Lock()

    @property
    def root(self) -> str:
        with self._lock:
            if self._root is None:
                self._root = tempfile.mkdtemp(prefix="yld-exports-")
            return self._root

    def folders(self) -> list[str]:
        """The folders of the live exports (a disk clean-up must leave them)."""
        with self._lock:
            return list(self._live.values())

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


def _patch(name: str, text: str) -> tuple[str, list[str]]:
    """`text` with the telemetry patches of file `name` applied; the patterns that did not match once."""
    missed = []
    for pattern, replacement in _PATCHES.get(name, ()):
        text, n = re.subn(pattern, replacement, text, flags=re.S)
        if n != 1:
            missed.append(pattern)
    return text, missed


@functools.lru_cache(maxsize=8)
def _patched(path: str, mtime: float) -> str:
    with open(path, encoding="utf-8") as fh:
        text, missed = _patch(os.path.basename(path), fh.read())
    left = [host for host in TELEMETRY_HOSTS if host in text]
    if missed or left:
        logging.getLogger(__name__).warning("netron's %s changed: telemetry patterns not found %s, hosts still "
                                            "named %s (the CSP keeps its requests on this machine)",
                                            path, missed, left)
    return text


def patched_script(name: str) -> str | None:
    """The text of netron's `name` with its telemetry cut out, for the files that have any; else None
    (serve the file as it is)."""
    path = static_file(name) if name in _PATCHES else None
    return _patched(path, os.path.getmtime(path)) if path else None


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
