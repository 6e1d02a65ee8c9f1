"""Deploy work run in a child process, so that a native crash cannot take the server down.

The page's deploy actions (the Design tab's Measure, the Export tab's "Export and measure") load
onnxruntime, onnxslim, its quantisation and OpenVINO, native code that has crashed a long-lived Python
process before (signal_stack.py: the one found; a SIGSEGV kills every session of a server).
`run_isolated` runs one such job in a fresh interpreter (`python -m engine.deploy.isolated [MODULE ...]`,
the modules imported first; the job, its arguments and where to write its result as JSON on stdin) and
returns the result as plain data (JSON), one job of a kind at a time, within a timeout. When the child
dies — a signal, a non-zero exit, an unexpected exception, the timeout (then its whole process group is
killed) — `IsolatedError` carries one line for the user naming what happened; the parent goes on.

A job is a module-level function `module:function` of keyword arguments that JSON can carry, returning
a dict JSON can carry (numpy scalars and arrays become numbers and lists). The cost is one interpreter
start plus the job's imports (torch, onnx, onnxruntime: about 2.5 s on the 2-core test machine). A kind
of job that names `preload` modules keeps one spare child of them, started after each job, its imports
done, waiting on its stdin; the next job of that kind takes it (unless the environment or the working
folder changed since), so only the first pays (bench/bench_isolated.py, bench/results/
isolated_overhead.json). A spare not taken within SPARE_IDLE_S is stopped (its ~270 MB given back); spares
are killed at exit, and leave by themselves when their parent goes.
The CLI stays in-process: a command is a one-shot process already.
"""
from __future__ import annotations

import atexit
import importlib
import json
import logging
import os
import signal
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SPARE_IDLE_S = 600.0  # a spare child not taken this long after its job is stopped
TAIL_LINES = 20  # of the child's output, logged when it dies
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Job:
    """How the user hears of one kind of job: '{title} stopped: {process} crashed (SIGSEGV) — ...; {advice}'."""
    title: str  # "Measuring"
    process: str  # "the measuring process"
    advice: str  # "try again or pick another backend"
    timeout_s: float
    preload: tuple[str, ...] = ()  # modules a spare child imports while it waits for its job (module doc)


class IsolatedError(RuntimeError):
    """The child came back without a result; str() is the one line for the user, `how` a short tag
    (crashed, exited, failed, timeout)."""

    def __init__(self, message: str, how: str):
        super().__init__(message)
        self.how = how


_locks: dict[str, threading.Lock] = {}
_spares: dict[str, tuple[subprocess.Popen, tuple]] = {}  # job title -> (a started child, its _context())
_locks_guard = threading.Lock()


def _lock(name: str) -> threading.Lock:
    with _locks_guard:
        return _locks.setdefault(name, threading.Lock())


def _signal_name(num: int) -> str:
    try:
        return signal.Signals(num).name
    except ValueError:
        return f"signal {num}"


def _stopped(job: Job, what: str, how: str) -> IsolatedError:
    return IsolatedError(f"{job.title} stopped: {job.process} {what} — nothing else was affected; {job.advice}", how)


def run_isolated(target: str, kwargs: dict, job: Job) -> dict:
    """Run `target` ("module:function") with `kwargs` in a child process; -> its result dict.
    Jobs of the same title run one at a time. IsolatedError when the child gives no result."""
    with _lock(job.title), tempfile.TemporaryDirectory(prefix="yld-isolated-") as tmp:
        result_path = os.path.join(tmp, "result.json")
        request = json.dumps({"target": target, "kwargs": kwargs, "result": result_path}, default=_plain)
        child = _take(job)
        try:
            return _finish(child, request, result_path, job)
        finally:
            if job.preload:  # the next job of this kind finds its interpreter started and its imports done
                try:
                    spare = _spares[job.title] = (_start(job), _context())
                    timer = threading.Timer(SPARE_IDLE_S, _expire, (job.title, spare[0]))
                    timer.daemon = True
                    timer.start()
                except OSError:  # no process to spare now: the next job starts its own
                    pass


def _expire(title: str, child: subprocess.Popen) -> None:
    """The spare `child` of jobs `title`, not taken within SPARE_IDLE_S: stopped, unless a job took it."""
    with _lock(title):
        if _spares.get(title, (None,))[0] is child:
            _discard(_spares.pop(title)[0])


def _finish(child: subprocess.Popen, request: str, result_path: str, job: Job) -> dict:
    try:
        output, _ = child.communicate(request.encode(), timeout=job.timeout_s)
    except subprocess.TimeoutExpired:
        _kill_group(child)
        output, _ = child.communicate()
        _log_tail(job, "timed out", output)
        raise _stopped(job, f"took longer than {job.timeout_s:g} s and was stopped", "timeout") from None
    finally:
        if child.poll() is None:  # interrupted some other way (KeyboardInterrupt): leave no child behind
            _kill_group(child)
            child.wait()
    rc = child.returncode
    if rc < 0:
        _log_tail(job, f"died of {_signal_name(-rc)}", output)
        raise _stopped(job, f"crashed ({_signal_name(-rc)})", "crashed")
    try:
        with open(result_path, encoding="utf-8") as fh:
            reply = json.load(fh)
    except (OSError, ValueError):
        reply = None
    if rc != 0 or not isinstance(reply, dict):
        _log_tail(job, f"exited with status {rc}", output)
        raise _stopped(job, f"exited with status {rc} without a result", "exited")
    if "failed" in reply:
        _log_tail(job, "failed", output)
        raise _stopped(job, f"failed ({reply['failed']})", "failed")
    return reply["result"]


def _context() -> tuple:
    """What a started child inherited: a spare started under another environment or folder is not used."""
    return tuple(sorted(os.environ.items())), os.getcwd()


def _start(job: Job) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (ROOT, os.environ.get("PYTHONPATH")) if p)}
    return subprocess.Popen([sys.executable, "-X", "faulthandler", "-m", "engine.deploy.isolated", *job.preload],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env,
                            start_new_session=True)  # its own process group: a timeout kills all of it


def _take(job: Job) -> subprocess.Popen:
    """The spare child of this kind when it is alive and of this context, else a new one."""
    child, context = _spares.pop(job.title, (None, None))
    if child is not None and child.poll() is None and context == _context():
        return child
    if child is not None:
        _discard(child)
    return _start(job)


def _discard(child: subprocess.Popen) -> None:
    _kill_group(child)
    child.communicate()


@atexit.register
def _discard_spares() -> None:
    while _spares:
        _discard(_spares.popitem()[1][0])


def _kill_group(child: subprocess.Popen) -> None:
    try:
        os.killpg(child.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _log_tail(job: Job, what: str, output: bytes | None) -> None:
    tail = (output or b"").decode("utf-8", "replace").splitlines()[-TAIL_LINES:]
    log.warning("%s: the child process %s; its last output:\n%s", job.title, what, "\n".join(tail))


def _plain(value):
    """JSON for what json cannot write itself: numpy scalars and arrays, tuples of them, sets."""
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, (set, frozenset)):
        return sorted(value)
    raise TypeError(f"{type(value).__name__} cannot go to or from a child process")


def _resolve(target: str):
    module, _, name = target.partition(":")
    if not module or not name:
        raise ValueError(f"a job is 'module:function', not {target!r}")
    return getattr(importlib.import_module(module), name)


def child_main(preload: list[str]) -> int:
    """The child: import `preload`, read the request from stdin (it may wait there as a spare), run it,
    write {"result": ...} or {"failed": "Type: why"} where the request says."""
    for name in preload:
        importlib.import_module(name)
    text = sys.stdin.read()
    if not text.strip():  # a spare whose server went away: nothing to do
        return 0
    request = json.loads(text)
    try:
        reply = {"result": _resolve(request["target"])(**request["kwargs"])}
        text = json.dumps(reply, default=_plain)
    except Exception as err:  # noqa: BLE001 — reported to the parent as one line, like a crash
        first = str(err).strip().splitlines()[0][:300] if str(err).strip() else ""
        text = json.dumps({"failed": f"{type(err).__name__}: {first}" if first else type(err).__name__})
    with open(request["result"], "w", encoding="utf-8") as fh:
        fh.write(text)
    return 0


if __name__ == "__main__":
    code = child_main(sys.argv[1:])
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)  # the result is written: skip the native runtimes' teardown at interpreter exit
