"""The types every layer shares: documents, where they came from, findings and reports.

Nothing here imports another drydock module, so the loader, the constructs, the
renderer, the gates and the reporters can all describe a YAML document the same way.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from enum import IntEnum
from typing import Any


class Severity(IntEnum):
    LOW = 1
    MEDIUM = 2
    HIGH = 3
    CRITICAL = 4

    @classmethod
    def parse(cls, value: str) -> "Severity":
        try:
            return cls[str(value).strip().upper()]
        except KeyError:
            raise ValueError(f"unknown severity {value!r}; use one of LOW, MEDIUM, HIGH, CRITICAL") from None


@dataclass(frozen=True, order=True)
class Resource:
    api_version: str = ""
    kind: str = ""
    namespace: str = ""
    name: str = ""

    @classmethod
    def of(cls, obj: Any) -> "Resource":
        if not isinstance(obj, dict):
            return cls()
        meta = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
        return cls(
            str(obj.get("apiVersion") or ""),
            str(obj.get("kind") or ""),
            str(meta.get("namespace") or ""),
            str(meta.get("name") or ""),
        )

    def display(self) -> str:
        ns = f"{self.namespace}/" if self.namespace else ""
        return f"{self.kind}/{ns}{self.name}" if self.kind else "(unknown resource)"

    def to_json(self) -> dict:
        return {"apiVersion": self.api_version, "kind": self.kind, "namespace": self.namespace, "name": self.name}


@dataclass(frozen=True, order=True)
class SourceRef:
    """Where in services/ or environments/ a rendered resource came from."""

    file: str
    line: int

    def to_json(self) -> dict:
        return {"file": self.file, "line": self.line}


@dataclass(frozen=True)
class WaiverRef:
    reason: str
    owner: str
    expires: str

    def to_json(self) -> dict:
        return {"reason": self.reason, "owner": self.owner, "expires": self.expires}


@dataclass(frozen=True)
class Finding:
    rule_id: str
    title: str
    severity: Severity
    message: str
    engine: str  # schema | regorus | opa | opa-server | trivy | drydock
    resource: Resource = field(default_factory=Resource)
    file: str | None = None
    line: int | None = None
    source: SourceRef | None = None
    waived: WaiverRef | None = None
    related_ids: tuple[str, ...] = ()  # ids of the same defect reported by other engines
    fix: str = ""
    url: str = ""
    end_line: int | None = None  # last line of the offending field when it spans several
    path: tuple[str | int, ...] | None = None  # JSON path of the field the rule judged
    # Lines of the part the defect belongs to (its container, volume, or the whole
    # resource): another engine's report of the same defect falls inside them.
    scope: tuple[int, int] | None = None

    def sort_key(self) -> tuple:
        return (self.file or "", self.line or 0, self.resource, -int(self.severity), self.rule_id, self.message)

    def with_waiver(self, waiver: WaiverRef) -> "Finding":
        return replace(self, waived=waiver)

    def to_json(self) -> dict:
        return {
            "rule_id": self.rule_id,
            "title": self.title,
            "severity": self.severity.name,
            "message": self.message,
            "engine": self.engine,
            "resource": self.resource.to_json(),
            "file": self.file,
            "line": self.line,
            "end_line": self.end_line,
            "source": self.source.to_json() if self.source else None,
            "waived": self.waived.to_json() if self.waived else None,
            "related_ids": list(self.related_ids),
            "fix": self.fix,
            "url": self.url,
        }


@dataclass(frozen=True)
class Document:
    """One Kubernetes object to gate: where it lives and what it is."""

    file: str  # path shown to users (relative to the repo when possible)
    line: int  # first line of the document in that file (1-based)
    obj: dict
    source: SourceRef | None = None
    text: str | None = None  # exact YAML text when known (rendered output, read files)
    app: str | None = None  # for objects expanded from a Helm chart: the ArgoCD Application that applies them
    # Per-field input lines (synth): JSON path -> the services/ or environments/ line that set it.
    # Kept beside the object, so the rendered YAML bytes never change.
    field_sources: dict[tuple, SourceRef] | None = field(default=None, compare=False, hash=False)
    # Keys `obj` has but `text` leaves out (kind/apiVersion of a typed List's items), for scanners of the text.
    implied_keys: dict[str, str] | None = field(default=None, compare=False, hash=False)

    @property
    def resource(self) -> Resource:
        return Resource.of(self.obj)


_PARTS = ("containers", "initContainers", "ephemeralContainers", "volumes")


def scope_path(path: "tuple | None") -> tuple:
    """The container or volume a JSON path lies in (its path), else () for the whole resource."""
    path = tuple(path or ())
    for k in range(len(path) - 2, -1, -1):
        if path[k] in _PARTS and isinstance(path[k + 1], int):
            return path[:k + 2]
    return ()


def source_for(doc: Document, path: "tuple | None") -> SourceRef | None:
    """The input line behind the field at `path`: the longest recorded prefix, else the document's source."""
    if path and doc.field_sources:
        for n in range(len(path), 0, -1):
            ref = doc.field_sources.get(tuple(path[:n]))
            if ref is not None:
                return ref
    return doc.source


@dataclass
class Report:
    findings: list[Finding]
    threshold: Severity
    resources: int
    cached: int = 0  # documents whose per-document results came from the cache
    skipped: list[str] = field(default_factory=list)  # e.g. schema: unknown kinds
    combined_blocking: list[Finding] | None = None  # set by combine(): each env kept its own threshold
    engines: tuple[str, ...] = ()  # the gates that ran, in order
    extras: dict = field(default_factory=dict)  # engine results that are not findings (e.g. a reachability matrix)

    def blocking(self) -> list[Finding]:
        if self.combined_blocking is not None:
            return self.combined_blocking
        return [f for f in self.findings if f.waived is None and f.severity >= self.threshold]

    @classmethod
    def combine(cls, reports: "list[Report]") -> "Report":
        """One report over several environments, each finding judged by its own env's threshold."""
        if len(reports) == 1:
            return reports[0]
        findings = sorted((f for r in reports for f in r.findings), key=Finding.sort_key)
        blocking = [f for r in reports for f in r.blocking()]
        engines = tuple(dict.fromkeys(e for r in reports for e in r.engines))
        extras: dict = {}
        for r in reports:
            for key, value in r.extras.items():
                extras.setdefault(key, {}).update(value if isinstance(value, dict) else {})
        return cls(findings, min(r.threshold for r in reports), sum(r.resources for r in reports),
                   sum(r.cached for r in reports), sorted({s for r in reports for s in r.skipped}), blocking,
                   engines, extras)

    def summary(self) -> dict:
        by_sev = {s.name: 0 for s in sorted(Severity, reverse=True)}
        waived_by_sev = dict(by_sev)
        for f in self.findings:
            (by_sev if f.waived is None else waived_by_sev)[f.severity.name] += 1
        return {
            "by_severity": by_sev,
            "blocking": len(self.blocking()),
            "waived": sum(waived_by_sev.values()),
            "waived_by_severity": waived_by_sev,
            "resources": self.resources,
            "threshold": self.threshold.name,
            "cached": self.cached,
            "skipped": len(self.skipped),
            "engines": list(self.engines),
        }

    def to_json(self) -> dict:
        out = {
            "version": 1,
            "findings": [f.to_json() for f in sorted(self.findings, key=Finding.sort_key)],
            "summary": self.summary(),
        }
        out.update({k: v for k, v in sorted(self.extras.items()) if k not in out})
        return out
