"""Human-readable report: findings grouped by resource, then one summary line."""
from __future__ import annotations

from ...core import Finding, Report, Severity
from ._common import blocking_set, is_blocking, location, ordered, summary_line, waiver_text

_RESET = "\033[0m"
_COLORS = {
    Severity.CRITICAL: "\033[1;35m",  # bold magenta
    Severity.HIGH: "\033[1;31m",  # bold red
    Severity.MEDIUM: "\033[33m",  # yellow
    Severity.LOW: "\033[36m",  # cyan
}
_DIM = "\033[2m"
_BOLD = "\033[1m"
_WIDTH = max(len(s.name) for s in Severity)


def _paint(text: str, code: str, color: bool) -> str:
    return f"{code}{text}{_RESET}" if color else text


def _one_line(text: str) -> str:
    # Keep one finding on one line: control characters would break the layout.
    return " ".join(str(text).split())


def _finding(f: Finding, blocking: frozenset, color: bool) -> list[str]:
    sev = f.severity.name.ljust(_WIDTH)
    sev = _paint(sev, _DIM if f.waived else _COLORS[f.severity], color)
    loc = location(f)
    msg = _one_line(f.message)
    head = f"  {sev}  {f.rule_id}  {msg}"
    if loc:
        head += f" ({loc})"
    if f.waived:
        head += "  " + _paint(_one_line(waiver_text(f)), _DIM, color)
    elif is_blocking(f, blocking):
        head += "  " + _paint("[blocking]", _BOLD, color)
    lines = [head]
    if f.fix and not f.waived:
        lines.append(f"      fix: {_one_line(f.fix)}")
    if f.source:
        lines.append(f"      source: {f.source.file}:{f.source.line}")
    return lines


def _waived_line(f: Finding, color: bool) -> str:
    # What is waived, then who owns the exception and why, so a reviewer sees both at once.
    w = f.waived
    where = location(f) or "(no file)"
    return _paint(f"  {f.severity.name.ljust(_WIDTH)}  {f.rule_id}  {f.resource.display()}  {where}"
                  f"  waived by {_one_line(w.owner)} until {w.expires}: {_one_line(w.reason)}", _DIM, color)


def render(report: Report, *, color: bool = False, rules: dict | None = None) -> str:
    blocking = blocking_set(report)
    out: list[str] = []
    group: tuple | None = None
    waived = [f for f in ordered(report) if f.waived]
    for f in (f for f in ordered(report) if not f.waived):
        key = (f.file or "", f.resource)
        if key != group:
            if group is not None:
                out.append("")
            group = key
            where = f.file or "(no file)"
            head = f"{where}  {f.resource.display()}"
            out.append(_paint(head, _BOLD, color))
        out.extend(_finding(f, blocking, color))
    if out:
        out.append("")
    if waived:
        out.append(f"waived ({len(waived)}):")
        out.extend(_waived_line(f, color) for f in waived)
        out.append("")
    for s in report.skipped:
        out.append(f"skipped: {_one_line(s)}")
    settings = report.extras.get("settings") or {}
    if settings.get("from"):
        out.append(f"settings: environment {settings['env']} (from {settings['from']})")
    if settings.get("note"):
        out.append(f"settings: {settings['note']}")
    out.append(summary_line(report))
    return "\n".join(out) + "\n"
