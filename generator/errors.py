"""Errors that end a command with exit code 2.

Every error says what is wrong, where (file:line when known) and how to fix it.
The CLI prints `error: <what> (<file>:<line>)` then `  fix: <hint>`; it never
prints a traceback unless --debug is given.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the inputs, located as precisely as we can."""

    message: str
    file: str | None = None
    line: int | None = None
    column: int | None = None
    field: str | None = None  # dotted path inside the document, e.g. spec.ports[0].port
    hint: str | None = None

    def location(self) -> str:
        if not self.file:
            return ""
        loc = self.file
        if self.line:
            loc += f":{self.line}"
            if self.column:
                loc += f":{self.column}"
        return loc

    def render(self) -> str:
        head = self.message
        if self.field:
            head = f"{self.field}: {head}"
        loc = self.location()
        return f"{head} ({loc})" if loc else head


class DrydockError(Exception):
    """Bad input or an engine failure: exit code 2. Holds one or more problems."""

    exit_code = 2

    def __init__(self, problems: Problem | list[Problem] | str, hint: str | None = None, file: str | None = None, line: int | None = None):
        if isinstance(problems, str):
            problems = [Problem(problems, file=file, line=line, hint=hint)]
        elif isinstance(problems, Problem):
            problems = [problems]
        self.problems: list[Problem] = list(problems)
        super().__init__("; ".join(p.render() for p in self.problems))


class InputError(DrydockError):
    """The user's services/, environments/, waivers or manifests are wrong."""


class EngineError(DrydockError):
    """A gate engine could not run (bad policy, unreachable server, crash, timeout).

    Gates fail closed: an engine error is never a pass.
    """


class Interrupted(BaseException):
    """SIGINT/SIGTERM while an edit is in flight (BaseException: no `except Exception` swallows it).

    Raised by the handlers promote installs; the CLI exits 128 + signum after the edit is undone.
    """

    def __init__(self, signum: int):
        self.signum = signum
        super().__init__(f"interrupted by signal {signum}")
