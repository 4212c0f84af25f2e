"""Policy delta: findings a change introduces and findings it resolves."""
from __future__ import annotations

from dataclasses import replace
from typing import Iterable

from ..core import Finding
from ..credentials import find_in_text, replace_spans
from .model import DiffResult, PolicyDelta
from .reading import split_path
from .redaction import REDACTED

def _scrub(f: Finding) -> Finding:
    """A rule's message may quote the offending value: hide credentials in it."""
    spans = find_in_text(f.message)
    return replace(f, message=replace_spans(f.message, spans, REDACTED)) if spans else f


def _finding_key(f: Finding) -> tuple:
    env, _ = split_path(f.file or "")
    return (f.rule_id, env, f.resource)


def set_policy_delta(result: DiffResult, base_findings: Iterable[Finding], head_findings: Iterable[Finding]) -> DiffResult:
    """Fill result.policy_delta with findings new at head and findings gone since base.

    Findings are matched by (rule_id, env taken from the rendered path, resource), so a
    line shift or a reworded message is not a new finding.
    """
    base_list, head_list = list(base_findings), list(head_findings)
    base_keys = {_finding_key(f) for f in base_list}
    head_keys = {_finding_key(f) for f in head_list}

    def uniq(fs: list[Finding], other: set) -> list[Finding]:
        seen: set = set()
        out = []
        for f in sorted(fs, key=lambda f: (-int(f.severity), _finding_key(f), f.message)):
            k = _finding_key(f)
            if k not in other and k not in seen:
                seen.add(k)
                out.append(f)
        return out

    result.policy_delta = PolicyDelta(introduced=[_scrub(f) for f in uniq(head_list, base_keys)],
                                      resolved=[_scrub(f) for f in uniq(base_list, head_keys)])
    return result

