"""The one check every file path a client sends goes through before anything opens it.

A browser can only give the app files it uploaded (they land in Gradio's upload folder) or pick
files the app itself offered (checkpoints under the runs folder).
Any other path in a request — `/etc/passwd`, `<upload dir>/../../x`, a link out of those folders —
is refused with a one-line message, and nothing of it is read.
"""
from __future__ import annotations

import os

from .settings import current


class PathRefused(ValueError):
    """A client-sent path outside the folders the app serves from; the message is one line."""


def upload_roots() -> list[str]:
    """Where files a client gives the app may lie: Gradio's upload folder, nothing else."""
    from gradio.utils import get_upload_folder

    return [os.path.realpath(get_upload_folder())]


def _inside(path: str, root: str) -> bool:
    try:
        return os.path.commonpath([path, root]) == root
    except ValueError:  # another drive, or a mix of absolute and relative
        return False


def client_file(value, what: str, roots: list[str] | None = None) -> str:
    """The real path of a file a client sent (a str or an object with `.path` / `.name`), if it lies
    inside `roots` (default: the upload folder); PathRefused otherwise."""
    path = value if isinstance(value, str) else getattr(value, "path", None) or getattr(value, "name", None)
    if not isinstance(path, str) or not path or "\x00" in path:
        raise PathRefused(f"{what}: no file was given")
    real = os.path.realpath(path)
    if not any(_inside(real, r) for r in (roots or upload_roots())):
        raise PathRefused(f"{what}: {os.path.basename(path) or path!r} is not a file uploaded to this page")
    if not os.path.isfile(real):
        raise PathRefused(f"{what}: {os.path.basename(path)!r} is not there any more; upload it again")
    return real


def run_file(value, what: str) -> str:
    """A file the app offered from its runs folder (a checkpoint in the model list)."""
    return client_file(value, what, [os.path.realpath(current().runs_dir)])
