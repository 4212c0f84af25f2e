"""Metadata of the platform engine's Python rules (DD-ARGO-*, DD-ID-*, DD-NET-*, ...).

Rego rules carry their METADATA in the .rego file; the platform checks are Python, so
each check module declares its rules here with `rule(...)`, and `drydock rules` /
`drydock explain` list them next to the Rego rules (`all_rules`, `lookup`).
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Iterable

from ..core import Document, Finding, Resource, Severity

# Modules that declare platform rules; imported by all_rules() so the list is complete.
RULE_MODULES = ("generator.platform.argo", "generator.platform.identity", "generator.platform.network",
                "generator.model.literals")


@dataclass(frozen=True)
class PlatformRule:
    id: str
    title: str
    severity: Severity
    fix: str
    description: str
    module: str  # the Python module that checks it (shown by `drydock explain`)
    url: str = ""

    # Same shape as the Rego Rule where the command line reads it.
    @property
    def file(self) -> str:
        return self.module.replace(".", "/") + ".py"

    @property
    def trivy_ids(self) -> tuple[str, ...]:
        return ()


_RULES: dict[str, PlatformRule] = {}


def rule(id: str, severity: str, title: str, fix: str, description: str, module: str, url: str = "") -> PlatformRule:
    """Declare one rule (at import time of its check module)."""
    r = PlatformRule(id, title, Severity.parse(severity), fix, description, module, url)
    if _RULES.get(id, r) != r:
        raise ValueError(f"platform rule {id} declared twice")
    _RULES[id] = r
    return r


def all_rules() -> list[PlatformRule]:
    for name in RULE_MODULES:
        try:
            importlib.import_module(name)
        except ModuleNotFoundError as e:
            if e.name != name:  # a module that exists but fails to import is a bug, not an absence
                raise
    return sorted(_RULES.values(), key=lambda r: r.id)


def lookup(rule_id: str) -> PlatformRule | None:
    return {r.id: r for r in all_rules()}.get(rule_id.upper())


def finding(r: PlatformRule, doc: Document | None, message: str, path: Iterable[str | int] = (),
            fix: str | None = None) -> Finding:
    """A finding of rule r on doc, pointing at the field at `path` when the text is known."""
    from ..yamlio import field_line

    if doc is None:
        return Finding(r.id, r.title, r.severity, message, "platform", Resource(), fix=fix or r.fix, url=r.url)
    path = list(path)
    line = (field_line(doc, path) if path else None) or doc.line
    return Finding(r.id, r.title, r.severity, message, "platform", doc.resource, doc.file, line, doc.source,
                   fix=fix or r.fix, url=r.url)
