"""Exceptions as data: waivers.yaml names rule, resource, env, reason, owner and expiry.

A waived finding stays in the report, marked waived. A waiver that has expired,
matches nothing, or names a rule no engine knows fails the gate: exceptions must
not outlive their reason.
"""
from __future__ import annotations

import datetime as dt
import fnmatch
import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Iterable

from ..errors import InputError, Problem
from ..model.yamlload import format_path, load_document, read_text
from ..core import Finding, Resource, Severity, WaiverRef

_KNOWN_EXTERNAL = re.compile(r"^(KSV-?\d{3,4}|AVD-KSV-\d{4}|DD-SCHEMA-\d{3})$")
_FIELDS = {"rule", "resource", "env", "reason", "owner", "expires"}


@dataclass(frozen=True)
class Waiver:
    rule: str
    kind: str
    namespace: str
    name: str
    env: str
    reason: str
    owner: str
    expires: dt.date
    file: str
    line: int

    def matches(self, finding: Finding, env: str | None) -> bool:
        ids = (finding.rule_id, *finding.related_ids)
        r = finding.resource
        return (
            any(fnmatch.fnmatchcase(i, self.rule) for i in ids)
            and fnmatch.fnmatchcase(env or "", self.env)
            and fnmatch.fnmatchcase(r.kind, self.kind)
            and fnmatch.fnmatchcase(r.namespace, self.namespace)
            and fnmatch.fnmatchcase(r.name, self.name)
        )

    def ref(self) -> WaiverRef:
        return WaiverRef(self.reason, self.owner, self.expires.isoformat())


def load_waivers(path: Path, display: str | None = None) -> list[Waiver]:
    display = display or str(path)
    if not path.exists():
        return []
    data, lines = load_document(read_text(path, display), display)
    problems: list[Problem] = []

    def bad(p: tuple, msg: str, hint: str) -> None:
        line, col = lines.get(p, (None, None))
        problems.append(Problem(msg, display, line, col, format_path(p), hint))

    if not isinstance(data, dict) or data.get("apiVersion") != "drydock/v1" or data.get("kind") != "WaiverList":
        bad((), "not a waiver list", "start the file with apiVersion: drydock/v1, kind: WaiverList, waivers: [...]")
        raise InputError(problems)
    items = data.get("waivers") or []
    if not isinstance(items, list):
        bad(("waivers",), "waivers must be a list", "write each waiver as a '- rule: ...' entry")
        raise InputError(problems)
    out = []
    for i, w in enumerate(items):
        p = ("waivers", i)
        if not isinstance(w, dict):
            bad(p, "a waiver must be a mapping", "see docs/waivers.md")
            continue
        for key in sorted(set(w) - _FIELDS):
            bad(p + (key,), f"unknown key '{key}'", f"allowed keys: {', '.join(sorted(_FIELDS))}")
        for key in ("rule", "reason", "owner", "expires"):
            if not w.get(key):
                bad(p, f"'{key}' is required", "every waiver needs rule, reason, owner and expires")
        res = w.get("resource") or {}
        if not isinstance(res, dict) or set(res) - {"kind", "namespace", "name"}:
            bad(p + ("resource",), "resource must have only kind, namespace, name", "globs like 'legacy-*' are allowed")
            res = {}
        try:
            expires = dt.date.fromisoformat(str(w.get("expires", "")))
        except ValueError:
            bad(p + ("expires",), f"expires {w.get('expires')!r} is not a date", "write it as YYYY-MM-DD")
            continue
        if problems:
            continue
        out.append(Waiver(str(w["rule"]), str(res.get("kind", "*")), str(res.get("namespace", "*")),
                          str(res.get("name", "*")), str(w.get("env", "*")), str(w["reason"]), str(w["owner"]),
                          expires, display, lines[p][0]))
    if problems:
        raise InputError(problems)
    return out


def _gate_finding(w: Waiver, rule_id: str, title: str, message: str, fix: str) -> Finding:
    return Finding(rule_id, title, Severity.CRITICAL, message, "drydock", Resource(), w.file, w.line, fix=fix)


def engine_of(rule: str) -> str:
    """Which gate produces a rule id: a waiver is only 'unused' if that gate ran."""
    if rule.upper().startswith(("KSV", "AVD-")):
        return "trivy"
    if rule.upper().startswith("DD-SCHEMA"):
        return "schema"
    if rule.upper().startswith(("DD-ARGO", "DD-ID", "DD-NET", "DD-HELM")):
        return "platform"
    return "policy"


def apply_waivers(findings_by_env: dict[str | None, list[Finding]], waivers: Iterable[Waiver],
                  known_rules: set[str], today: dt.date | None = None,
                  engines_run: Iterable[str] = ("schema", "policy", "trivy")) -> dict[str | None, list[Finding]]:
    """Mark waived findings; add blocking findings for expired, unused or unknown-rule waivers.

    The waiver problems are reported under each env they apply to (or under None).
    """
    engines_run = set(engines_run)
    today = today or dt.date.today()
    waivers = list(waivers)
    used: set[int] = set()
    out: dict[str | None, list[Finding]] = {}
    for env, findings in findings_by_env.items():
        marked = []
        for f in findings:
            for i, w in enumerate(waivers):
                if w.expires >= today and w.matches(f, env):
                    f = f.with_waiver(w.ref())
                    used.add(i)
                    break
            marked.append(f)
        out[env] = marked
    envs = list(findings_by_env)
    for i, w in enumerate(waivers):
        targets = [e for e in envs if fnmatch.fnmatchcase(e or "", w.env)]
        if not targets:
            continue  # the waiver is for an environment not gated in this run
        problem = None
        if not any(fnmatch.fnmatchcase(r, w.rule) for r in known_rules) and not _KNOWN_EXTERNAL.match(w.rule):
            problem = _gate_finding(w, "DD-WAIVER-003", "Waiver names an unknown rule",
                                    f"waiver for unknown rule '{w.rule}'", "fix the rule id (drydock rules lists them) or delete the waiver")
        elif w.expires < today:
            problem = _gate_finding(w, "DD-WAIVER-001", "Waiver expired",
                                    f"waiver for {w.rule} on {w.kind}/{w.name} expired on {w.expires.isoformat()} (owner {w.owner})",
                                    "fix the finding, or renew the waiver with a new expiry and a reason")
        elif i not in used and engine_of(w.rule) in engines_run:
            problem = _gate_finding(w, "DD-WAIVER-002", "Waiver matches nothing",
                                    f"waiver for {w.rule} on {w.kind}/{w.name} in env '{w.env}' matches no finding",
                                    "delete the waiver: the finding it covered is gone")
        if problem:
            for e in targets:
                out[e].append(problem)
    return out


def fold_duplicates(findings: list[Finding]) -> list[Finding]:
    """Two engines reporting one defect on one resource become one finding with both ids."""
    by_key: dict[tuple, Finding] = {}
    claimed: dict[tuple, tuple] = {}  # (resource, other id) -> key of the finding that lists it
    out: list[Finding] = []
    for f in sorted(findings, key=lambda f: (f.engine == "trivy", f.sort_key())):
        key = (f.file, f.resource, f.rule_id, f.message)
        if key in by_key:
            continue
        owner = claimed.get((f.file, f.resource, f.rule_id))
        if owner is not None:
            first = by_key[owner]
            if f.rule_id not in first.related_ids or first.severity < f.severity:
                merged = replace(first, severity=max(first.severity, f.severity),
                                 related_ids=tuple(sorted(set(first.related_ids) | {f.rule_id})))
                by_key[owner] = merged
            continue
        by_key[key] = f
        out.append(key)  # type: ignore[arg-type]
        for other in f.related_ids:
            claimed.setdefault((f.file, f.resource, other), key)
    return [by_key[k] for k in out]  # type: ignore[index]
