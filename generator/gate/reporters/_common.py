"""Helpers shared by the reporters: ordering, rule metadata, locations.

Reporters read only `Report`/`Finding`; nothing here knows which engine spoke.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable

from ...core import Finding, Report, Severity


@dataclass(frozen=True)
class RuleMeta:
    """What a reporter knows about one rule id (from the rule catalog or its findings)."""

    id: str
    title: str
    description: str
    severity: Severity
    fix: str
    url: str


def ordered(report: Report) -> list[Finding]:
    """Findings in the report's stable order (the same order as the JSON report)."""
    return sorted(report.findings, key=Finding.sort_key)


def blocking_set(report: Report) -> frozenset:
    """The findings that block, as the report decides (a combined report keeps each env's threshold)."""
    return frozenset(report.blocking())


def is_blocking(f: Finding, blocking: frozenset) -> bool:
    return f in blocking


def location(f: Finding) -> str:
    if not f.file:
        return ""
    return f"{f.file}:{f.line}" if f.line else f.file


def _get(meta: Any, key: str, default: Any = None) -> Any:
    if isinstance(meta, dict):
        return meta.get(key, default)
    return getattr(meta, key, default)


def rule_catalog(report: Report, rules: dict | None = None) -> dict[str, RuleMeta]:
    """Merge the optional rule catalog with what the findings say about their rules.

    `rules` maps a rule id to a dict (or any object with attributes) that may have
    `title`, `description`, `severity`, `fix`, `url`. Findings fill anything missing.
    Every rule in `rules` is listed, plus every rule a finding mentions.
    """
    by_id: dict[str, list[Finding]] = {}
    for f in report.findings:
        by_id.setdefault(f.rule_id, []).append(f)
    out: dict[str, RuleMeta] = {}
    for rule_id in sorted(set(by_id) | set(rules or {})):
        meta = (rules or {}).get(rule_id)
        found = sorted(by_id.get(rule_id, []), key=Finding.sort_key)
        first = found[0] if found else None
        sev: Any = _get(meta, "severity") if meta is not None else None
        if sev is None:
            severity = max((f.severity for f in found), default=Severity.MEDIUM)
        elif isinstance(sev, Severity):
            severity = sev
        else:
            try:
                severity = Severity.parse(getattr(sev, "name", sev))
            except ValueError:
                severity = max((f.severity for f in found), default=Severity.MEDIUM)
        title = str(_get(meta, "title") or (first.title if first else "") or rule_id)
        description = str(_get(meta, "description") or title)
        fix = str(_get(meta, "fix") or next((f.fix for f in found if f.fix), ""))
        url = str(_get(meta, "url") or next((f.url for f in found if f.url), ""))
        out[rule_id] = RuleMeta(rule_id, title, description, severity, fix, url)
    return out


def summary_line(report: Report) -> str:
    """`3 findings (1 blocking at HIGH+, 2 waived) in 180 resources`."""
    s = report.summary()
    n = len(report.findings)
    noun = "finding" if n == 1 else "findings"
    rnoun = "resource" if report.resources == 1 else "resources"
    return (
        f"{n} {noun} ({s['blocking']} blocking at {report.threshold.name}+, {s['waived']} waived)"
        f" in {report.resources} {rnoun}"
    )


def waiver_text(f: Finding) -> str:
    w = f.waived
    if w is None:
        return ""
    return f"waived ({w.owner}, expires {w.expires}: {w.reason})"


def unique(items: Iterable[str]) -> list[str]:
    seen: dict[str, None] = {}
    for i in items:
        seen.setdefault(i, None)
    return list(seen)
