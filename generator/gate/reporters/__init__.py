"""Reporters: one module per output format, all views of the same `Report`.

The registry is this folder: every public module here (no leading `_`) is a format named
after its file, with `render(report, *, color=False, rules=None) -> str`. Add a format =
add a file (and its golden test). Formats are listed without importing them (the command
line builds its choices at start-up); a reporter is imported when it renders.
Reporters never look at which engine produced a finding.
"""
from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Mapping
from typing import Callable, Iterator, Protocol

from ...core import Report

# The default view first, then the stable contract; the rest alphabetically.
_FIRST = ("text", "json")


class Reporter(Protocol):
    def __call__(self, report: Report, *, color: bool = False, rules: dict | None = None) -> str: ...


def _discover() -> tuple[str, ...]:
    names = sorted(m.name for m in pkgutil.iter_modules(__path__) if not m.name.startswith("_"))
    return tuple(n for n in _FIRST if n in names) + tuple(n for n in names if n not in _FIRST)


class _Registry(Mapping):
    """format name -> render function, importing each reporter module on first use."""

    def __init__(self, names: tuple[str, ...]):
        self._names = names

    def __getitem__(self, name: str) -> Callable[..., str]:
        if name not in self._names:
            raise KeyError(name)
        return importlib.import_module(f"{__name__}.{name}").render

    def __iter__(self) -> Iterator[str]:
        return iter(self._names)

    def __len__(self) -> int:
        return len(self._names)


FORMATS: tuple[str, ...] = _discover()
REPORTERS: Mapping[str, Callable[..., str]] = _Registry(FORMATS)


def render_report(report: Report, fmt: str, *, color: bool = False, rules: dict | None = None) -> str:
    """Render `report` in format `fmt` (one of FORMATS).

    `color` only affects `text`. `rules` (rule id -> metadata with title, description,
    severity, fix, url) enriches SARIF rule descriptors; findings fill anything missing.
    Raises ValueError for an unknown format (the CLI restricts choices to FORMATS).
    """
    try:
        reporter = REPORTERS[fmt]
    except KeyError:
        raise ValueError(f"unknown report format {fmt!r}; use one of {', '.join(FORMATS)}") from None
    return reporter(report, color=color, rules=rules)


__all__ = ["FORMATS", "REPORTERS", "Reporter", "render_report"]
