"""The external processes a run has in flight (trivy, helm), so an interrupted or failed run can
end them instead of waiting for them.

Both run in a session of their own (a wrapper's children are killed with the group at a
deadline), so a terminal's Ctrl-C never reaches them, and each runs in a worker thread that
interpreter exit would wait for. `stop_all()` kills every live group: the threads' exchanges
then end at once (as engine errors nobody reads) and the exit is not held.
"""
from __future__ import annotations

import os
import signal
import subprocess
import threading
from contextlib import contextmanager
from typing import Iterator

_LIVE: set[subprocess.Popen] = set()
_LOCK = threading.Lock()
_closed = False  # stop_all(final=True) was called: this process is on its way out


@contextmanager
def tracked(proc: subprocess.Popen) -> Iterator[subprocess.Popen]:
    """Register `proc` while the caller talks to it (killed at once if the process is closing:
    a thread that started it just after stop_all must not hold the exit either)."""
    with _LOCK:
        _LIVE.add(proc)
        if _closed:
            kill_group(proc)
    try:
        yield proc
    finally:
        with _LOCK:
            _LIVE.discard(proc)


def kill_group(proc: subprocess.Popen) -> None:
    """SIGKILL the process group `proc` leads (it was started with start_new_session=True)."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def exchange(proc: subprocess.Popen, timeout: float):
    """`proc.communicate(timeout)` for a process started with start_new_session=True: tracked
    while it runs, and its group killed however the exchange ends (answered, timed out, Ctrl-C),
    so nothing it started outlives it. A timeout raises TimeoutExpired once the group is dead."""
    with tracked(proc):
        try:
            return proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            kill_group(proc)
            proc.communicate()  # reaps it; the pipes close with the group
            raise
        finally:
            kill_group(proc)


def stop_all(final: bool = False) -> None:
    """Kill every process group still in flight; `final` (the process is about to exit): also
    every one started from now on."""
    global _closed
    with _LOCK:
        _closed = _closed or final
        live = list(_LIVE)
    for proc in live:
        kill_group(proc)
