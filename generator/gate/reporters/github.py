"""GitHub Actions workflow commands: one annotation per finding.

`::error file=F,line=L,title=RULE-ID title::message` for blocking findings,
`::warning` for findings below the threshold, `::notice` for waived ones.
Escaping follows @actions/core: data escapes `%`, CR, LF; properties also `:` and `,`.
GitHub shows at most 10 error and 10 warning annotations per step in the UI; every
line is still in the log.
"""
from __future__ import annotations

from ...core import Finding, Report
from ._common import blocking_set, is_blocking, ordered, summary_line, waiver_text


def escape_data(text: str) -> str:
    return str(text).replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def _command(f: Finding, blocking: frozenset) -> str:
    if f.waived:
        cmd = "notice"
    elif is_blocking(f, blocking):
        cmd = "error"
    else:
        cmd = "warning"
    props: list[tuple[str, str]] = []
    if f.file:
        props.append(("file", f.file))
        if f.line:
            props.append(("line", str(f.line)))
            if f.end_line and f.end_line > f.line:
                props.append(("endLine", str(f.end_line)))
    elif f.source:
        props.append(("file", f.source.file))
        props.append(("line", str(f.source.line)))
    title = f"{f.rule_id} {f.title}".strip() if f.title else f.rule_id
    props.append(("title", title))
    message = f"{f.severity.name} {f.resource.display()}: {f.message}"
    if f.fix:
        message += f"\nfix: {f.fix}"
    if f.source and f.file:
        message += f"\nsource: {f.source.file}:{f.source.line}"
    if f.waived:
        message += f"\n{waiver_text(f)}"
    prop_text = ",".join(f"{k}={escape_property(v)}" for k, v in props)
    return f"::{cmd} {prop_text}::{escape_data(message)}"


def render(report: Report, *, color: bool = False, rules: dict | None = None) -> str:
    blocking = blocking_set(report)
    lines = [_command(f, blocking) for f in ordered(report)]
    lines.append(escape_data(summary_line(report)))
    return "\n".join(lines) + "\n"
