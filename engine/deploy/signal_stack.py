"""Keep this thread's alternate signal stack across OpenVINO's CPU plugin being created.

OpenVINO's CPU plugin, when it is created (the first compile_model of an `ov.Core` on "CPU"), maps a
stack of its own and makes it the calling thread's alternate signal stack (`SigAltStackSetup` in its
plugin, added for AMX in openvinotoolkit/openvino PR 11894). When the plugin is destroyed it unmaps that
stack, but it restores the old one only if it is destroyed on the same thread. A Core released on
another thread (a garbage collection that happens to run there, a server's worker) leaves the first
thread pointing at unmapped memory; the next signal handled on that thread (Python's faulthandler and
SIGINT handlers use the alternate stack) cannot be delivered and the kernel kills the process with
SIGSEGV (si_code SI_KERNEL), with no Python traceback. That is the crash of a long pytest process
after the OpenVINO tests (tests/native/, issue 13).

`keep_signal_stack()` around the call that creates the plugin puts the thread's own stack back (Python's
faulthandler stack is larger than the plugin's, so it also holds the frames of AMX code); the plugin's
stack then belongs to nobody and unmapping it harms nothing. Linux only; elsewhere it does nothing.
"""
from __future__ import annotations

import ctypes
import sys
from contextlib import contextmanager


class _Stack(ctypes.Structure):  # stack_t of <signal.h> on Linux
    _fields_ = [("ss_sp", ctypes.c_void_p), ("ss_flags", ctypes.c_int), ("ss_size", ctypes.c_size_t)]


def _libc():
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.sigaltstack.argtypes = [ctypes.POINTER(_Stack), ctypes.POINTER(_Stack)]
        return libc
    except (OSError, AttributeError):
        return None


_LIBC = _libc()


def current() -> tuple[int, int, int] | None:
    """This thread's alternate signal stack: (address, size, flags), or None where it cannot be read."""
    if _LIBC is None:
        return None
    ss = _Stack()
    if _LIBC.sigaltstack(None, ctypes.byref(ss)) != 0:
        return None
    return int(ss.ss_sp or 0), int(ss.ss_size), int(ss.ss_flags)


@contextmanager
def keep_signal_stack():
    """Run the block, then give this thread back the alternate signal stack it had before it."""
    if _LIBC is None:
        yield
        return
    before = _Stack()
    saved = _LIBC.sigaltstack(None, ctypes.byref(before)) == 0
    try:
        yield
    finally:
        now = current()
        if saved and now is not None and now[:2] != (int(before.ss_sp or 0), int(before.ss_size)):
            before.ss_flags &= ~1  # SS_ONSTACK is reported, never set; SS_DISABLE (2) is kept
            _LIBC.sigaltstack(ctypes.byref(before), None)
