"""drydock's exit codes, named in one place (the command line exits only through these).

OK       0  the command did what was asked (written, up to date, no blocking finding)
BLOCKED  1  a gate blocked, the render is stale, a check found something: the answer is "no"
ERROR    2  bad input or an engine that could not run (never a pass, never a traceback)
128 + n     interrupted by signal n (130 for Ctrl-C), after any edit in flight was undone
"""
from __future__ import annotations

OK = 0
BLOCKED = 1
ERROR = 2
INTERRUPTED_BASE = 128


def interrupted(signum: int) -> int:
    """The exit code of a run stopped by signal `signum` (shell convention: 128 + n)."""
    return INTERRUPTED_BASE + signum


class Blocked(Exception):
    """Raised by a command to end with exit 1 (BLOCKED), optionally with an error and a fix line.

    Only the command line raises it; the library answers "blocked" as a value (e.g. `Report.blocking()`).
    """

    exit_code = BLOCKED

    def __init__(self, message: str | None = None, fix: str | None = None):
        self.message, self.fix = message, fix
        super().__init__(message or "blocked")
