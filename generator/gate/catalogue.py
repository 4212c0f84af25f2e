"""Every rule a drydock report can name: our Rego rules, drydock's built-in checks and Trivy's.

`drydock rules` and `drydock explain` read this, so a Trivy id in a report (`KSV-0118`)
can be explained like one of ours, with the rule of ours it folds into when there is one.

Trivy's titles and severities come from `trivy_checks.json`, generated offline from the
trivy binary drydock runs by `scripts/trivy_checks.py` (see docs/trivy.md).
"""
from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from ..core import Finding, Resource, Severity
from ..errors import Problem

TRIVY_CHECKS = Path(__file__).with_name("trivy_checks.json")

RULE_INPUT = "DD-INPUT-001"
INPUT_TITLE = "Manifest file does not parse"
INPUT_FIX = ("Fix the file at that line (YAML syntax, encoding, a custom tag, a duplicate key, a document that is "
             "not an object); until then nothing in it is checked.")


@dataclass(frozen=True)
class RuleInfo:
    id: str
    severity: str  # LOW..CRITICAL; UNKNOWN for a Trivy check that says so
    title: str
    description: str
    fix: str
    url: str
    origin: str  # "policy" (a Rego rule), "platform" (the platform engine's), "drydock" (built in) or "trivy"
    file: str = ""  # the rule's policy file
    related: tuple[str, ...] = ()  # ours: the Trivy ids folded into it; Trivy's: our rules it folds into

    def to_json(self) -> dict:
        return {"id": self.id, "severity": self.severity, "title": self.title, "origin": self.origin,
                "file": self.file, "related": list(self.related)}


def input_finding(problem: Problem) -> Finding:
    """A manifest file `check` could not read: a blocking finding, and the rest is still gated."""
    fix = INPUT_FIX + (f" ({problem.hint})" if problem.hint else "")
    return Finding(RULE_INPUT, INPUT_TITLE, Severity.CRITICAL, problem.message, "drydock", Resource(),
                   problem.file, problem.line, fix=fix)


def _builtin() -> list[RuleInfo]:
    from .engines.schema import RULES as SCHEMA_RULES

    from .engines.rego.policygate import RULE_UNREADABLE, UNREADABLE_FIX, UNREADABLE_TITLE

    out = [RuleInfo(RULE_INPUT, "CRITICAL", INPUT_TITLE,
                    "drydock check reports a manifest it cannot read and still gates every other file.",
                    INPUT_FIX, "", "drydock"),
           RuleInfo(RULE_UNREADABLE, "CRITICAL", UNREADABLE_TITLE,
                    "An object whose fields have the wrong types (containers as a mapping, volumes as a string) "
                    "makes a Rego rule fail; drydock reports the object and still gates every other one.",
                    UNREADABLE_FIX, "", "drydock")]
    for rid, (title, fix) in sorted(SCHEMA_RULES.items()):
        out.append(RuleInfo(rid, "HIGH", title, "", fix, "", "drydock"))
    return out


@functools.lru_cache(maxsize=1)
def trivy_checks() -> dict[str, dict]:
    try:
        data = json.loads(TRIVY_CHECKS.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return {c["id"]: c for c in data.get("checks", []) if isinstance(c, dict) and c.get("id")}


def all_rules(policy_dirs: Sequence[Path] | None = None) -> list[RuleInfo]:
    """Ours (Rego), the platform engine's, drydock's built-ins, then Trivy's checks, sorted within each."""
    from .engines.rego import load_policies

    bundle = load_policies(policy_dirs)
    ours = [RuleInfo(r.id, r.severity.name, r.title, r.description, r.fix, r.url, "policy", str(r.file), r.trivy_ids)
            for r in sorted(bundle.rules, key=lambda r: r.id)]
    folds: dict[str, list[str]] = {}
    for r in ours:
        for t in r.related:
            folds.setdefault(t, []).append(r.id)
    from ..platform.rules import all_rules as platform_rules

    platform = [RuleInfo(r.id, r.severity.name, r.title, r.description, r.fix, r.url, "platform", r.file)
                for r in platform_rules()]
    trivy = [RuleInfo(c["id"], str(c.get("severity", "UNKNOWN")), c.get("title", ""), c.get("description", ""),
                      c.get("resolution", ""), c.get("url", ""), "trivy", "", tuple(folds.get(c["id"], ())))
             for _, c in sorted(trivy_checks().items())]
    return ours + platform + _builtin() + trivy


def find_rule(rule_id: str, policy_dirs: Sequence[Path] | None = None) -> tuple[RuleInfo | None, list[str]]:
    """(the rule, None) or (None, up to 5 ids that look close) for `drydock explain`."""
    from .engines.trivy import normalize_id

    rules = all_rules(policy_dirs)
    wanted = {rule_id.upper(), normalize_id(rule_id).upper()}
    for r in rules:
        if r.id.upper() in wanted:
            return r, []
    prefix = rule_id.upper().split("-")[:2]
    return None, sorted(r.id for r in rules if r.id.split("-")[:2] == prefix)[:5]
