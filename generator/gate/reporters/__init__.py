"""Reporters: one module per output format, all views of the same `Report`.

Add a format = add a module with `render(report, *, color=False, rules=None) -> str`
and list it in `REPORTERS`. Reporters never look at which engine produced a finding.
"""
from __future__ import annotations

from typing import Callable, Protocol

from ...core import Report
from . import github, junit, sarif, text
from . import json as json_reporter


class Reporter(Protocol):
    def __call__(self, report: Report, *, color: bool = False, rules: dict | None = None) -> str: ...


REPORTERS: dict[str, Callable[..., str]] = {
    "text": text.render,
    "json": json_reporter.render,
    "sarif": sarif.render,
    "junit": junit.render,
    "github": github.render,
}

FORMATS: tuple[str, ...] = tuple(REPORTERS)


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
