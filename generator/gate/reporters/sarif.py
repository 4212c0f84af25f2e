"""SARIF 2.1.0 for GitHub code scanning (and any SARIF viewer).

- one run, tool.driver "drydock", one reportingDescriptor per rule with
  `properties.security-severity` (9.5 / 8.0 / 5.5 / 2.0) so GitHub ranks alerts;
- results carry `level` (error CRITICAL/HIGH, warning MEDIUM, note LOW), a relative
  `artifactLocation.uri` + `region.startLine`, the services/ line as a related location,
  a stable `partialFingerprints` entry (rule + resource + message, no line, so an alert
  survives edits that move the resource), and `suppressions` for waived findings.
"""
from __future__ import annotations

import hashlib
import json as _json
from importlib import metadata as _metadata

from ...core import Finding, Report, Severity
from ._common import RuleMeta, blocking_set, is_blocking, ordered, rule_catalog

SCHEMA_URI = "https://json.schemastore.org/sarif-2.1.0.json"


def _tool_version() -> str:
    try:
        return _metadata.version("drydock")
    except _metadata.PackageNotFoundError:
        return "0.0.0"


_version = _tool_version()

SECURITY_SEVERITY = {
    Severity.CRITICAL: "9.5",
    Severity.HIGH: "8.0",
    Severity.MEDIUM: "5.5",
    Severity.LOW: "2.0",
}
LEVEL = {
    Severity.CRITICAL: "error",
    Severity.HIGH: "error",
    Severity.MEDIUM: "warning",
    Severity.LOW: "note",
}


def _descriptor(meta: RuleMeta) -> dict:
    help_text = meta.description
    help_md = f"**{meta.title}**\n\n{meta.description}"
    if meta.fix:
        help_text += f"\n\nFix: {meta.fix}"
        help_md += f"\n\n**Fix:** {meta.fix}"
    d: dict = {
        "id": meta.id,
        "name": meta.id,
        "shortDescription": {"text": meta.title},
        "fullDescription": {"text": meta.description},
        "help": {"text": help_text, "markdown": help_md},
        "defaultConfiguration": {"level": LEVEL[meta.severity]},
        "properties": {
            "security-severity": SECURITY_SEVERITY[meta.severity],
            "severity": meta.severity.name,
            "tags": ["security", "kubernetes"],
            "precision": "high",
            "problem.severity": {"error": "error", "warning": "warning", "note": "recommendation"}[
                LEVEL[meta.severity]
            ],
        },
    }
    if meta.url:
        d["helpUri"] = meta.url
    return d


def _fingerprint(f: Finding) -> str:
    r = f.resource
    raw = "\x1f".join([f.rule_id, f.file or "", r.api_version, r.kind, r.namespace, r.name, f.message])
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()[:32]


def _physical(uri: str, line: int | None, end_line: int | None = None) -> dict:
    loc: dict = {"artifactLocation": {"uri": uri, "uriBaseId": "%SRCROOT%"}}
    if line and line > 0:
        loc["region"] = {"startLine": int(line)}
        if end_line and end_line > line:
            loc["region"]["endLine"] = int(end_line)
    return loc


def _result(f: Finding, blocking: frozenset, rule_index: int) -> dict:
    text = f.message
    if f.resource.kind:
        text = f"{f.resource.display()}: {text}"
    if f.fix:
        text += f" Fix: {f.fix}"
    res: dict = {
        "ruleId": f.rule_id,
        "ruleIndex": rule_index,
        "level": LEVEL[f.severity],
        "message": {"text": text},
    }
    # GitHub wants at least one location; the rendered file, else the source line.
    if f.file:
        res["locations"] = [{"physicalLocation": _physical(f.file, f.line, f.end_line)}]
    elif f.source:
        res["locations"] = [{"physicalLocation": _physical(f.source.file, f.source.line)}]
    if f.source and f.file:
        res["relatedLocations"] = [
            {
                "id": 1,
                "physicalLocation": _physical(f.source.file, f.source.line),
                "message": {"text": "the services/ or environments/ line that produced this resource"},
            }
        ]
    res["partialFingerprints"] = {"drydockFinding/v1": _fingerprint(f)}
    props: dict = {
        "severity": f.severity.name,
        "blocking": is_blocking(f, blocking),
        "engine": f.engine,
        "resource": f.resource.to_json(),
    }
    if f.related_ids:
        props["relatedIds"] = list(f.related_ids)
    res["properties"] = props
    if f.waived:
        w = f.waived
        res["suppressions"] = [
            {
                "kind": "external",
                "status": "accepted",
                "justification": f"{w.reason} (owner: {w.owner}, expires: {w.expires})",
            }
        ]
    return res


def to_sarif(report: Report, rules: dict | None = None) -> dict:
    catalog = rule_catalog(report, rules)
    ids = list(catalog)
    index = {rid: i for i, rid in enumerate(ids)}
    blocking = blocking_set(report)
    return {
        "$schema": SCHEMA_URI,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "drydock",
                        "version": _version,
                        "semanticVersion": _version,
                        "rules": [_descriptor(catalog[rid]) for rid in ids],
                    }
                },
                "columnKind": "unicodeCodePoints",
                "results": [_result(f, blocking, index[f.rule_id]) for f in ordered(report)],
                "properties": {"summary": report.summary()},
            }
        ],
    }


def render(report: Report, *, color: bool = False, rules: dict | None = None) -> str:
    return _json.dumps(to_sarif(report, rules), indent=2, ensure_ascii=False) + "\n"
