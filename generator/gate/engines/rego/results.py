"""What every Rego backend shares: the input document, and its answer mapped to Findings.

The query `data.drydock.rules` answers one `deny` set per rule package; each entry names
the document (`doc`), a message and optionally the judged field (`path`). Anything else,
or a rule missing from the answer, is an `EngineError`: the gate fails closed.
"""
from __future__ import annotations

import json
import re
from typing import Any, Sequence

from ....core import Document, Finding, scope_path, source_for
from ....errors import EngineError, Problem
from ....yamlio import field_span
from .bundle import ENGINE_HINT, QUERY, RULES_ROOT, PolicyBundle, Rule


def strip_nulls(value: Any) -> Any:
    """JSON nulls removed from objects and arrays (regorus iterates them badly)."""
    if isinstance(value, dict):
        return {k: strip_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, (list, tuple)):
        return [strip_nulls(v) for v in value if v is not None]
    return value


def build_input(docs: Sequence[Document], env_data: dict | None) -> dict:
    raw = {
        # `app`: the ArgoCD Application whose Helm chart produced the object (absent for our own)
        "documents": [{"file": d.file, "line": d.line, "object": d.obj, **({"app": d.app} if d.app else {})}
                      for d in docs],
        "env": dict(env_data or {}),
    }
    # strip_nulls walks every value in Python (~0.8 s for 16,000 documents);
    # json.dumps is C. No `null` in the JSON text means no None anywhere (a string
    # such as "/dev/null" only sends us down the slow path, which is still right).
    try:
        if "null" not in json.dumps(raw):
            return raw
    except (TypeError, ValueError):
        pass  # not JSON-serialisable: let strip_nulls and the engine report it as before
    return strip_nulls(raw)


_LOC_RE = re.compile(r"-->\s*(?P<file>[^\n]+?\.rego):(?P<line>\d+)(?::\d+)?")
_LOC2_RE = re.compile(r"(?P<file>[^\s:'\"]+\.rego):(?P<line>\d+)")


def engine_error(engine: str, raw: str, bundle: PolicyBundle | None, what: str = "policy error",
                 hint: str = ENGINE_HINT) -> EngineError:
    """An EngineError from an engine's message, located at the policy file:line it names."""
    text = str(raw).split("Stack backtrace:")[0].strip()
    m = _LOC_RE.search(text) or _LOC2_RE.search(text)
    file = line = None
    if m:
        file, line = m.group("file").strip(), int(m.group("line"))
        mod = bundle.module_for(file) if bundle else None
        if mod is not None:
            file = str(mod.path)
    detail = [ln.strip() for ln in text.splitlines() if ln.strip().startswith("error:")]
    msg = detail[0][len("error:"):].strip() if detail else " ".join(text.split())[:500]
    return EngineError(Problem(f"{engine}: {what}: {msg}", file=file, line=line, hint=hint))


def _check_result(value: Any, bundle: PolicyBundle, engine: str) -> dict:
    if not isinstance(value, dict):
        raise EngineError(f"{engine}: {QUERY} is undefined; the policies were not loaded",
                          hint="check the policy folders, or use --engine regorus")
    return value


def deny_of(value: dict, rule: Rule) -> Any:
    node: Any = value
    for part in rule.package[len(RULES_ROOT) + 1:].split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node.get("deny") if isinstance(node, dict) else None


def _judged_path(item: dict, rule: Rule, engine: str) -> tuple | None:
    """The deny entry's `path` (keys and list indexes of the field the rule judged), if any."""
    raw = item.get("path")
    if raw is None:
        return None
    if not isinstance(raw, list) or not all(isinstance(p, (str, int, float)) and not isinstance(p, bool) for p in raw):
        raise EngineError(Problem(f"{engine}: rule {rule.id} returned path {json.dumps(raw)[:200]}; "
                                  "a deny entry's path must be an array of keys and list indexes",
                                  file=str(rule.file), line=rule.line, hint="fix the rule's deny head"))
    return tuple(int(p) if isinstance(p, float) and p.is_integer() else p for p in raw)


def findings_from_result(value: dict, bundle: PolicyBundle, docs: Sequence[Document], engine: str) -> list[Finding]:
    """Map `data.drydock.rules` to Findings; a rule missing from the result is an EngineError."""
    value = _check_result(value, bundle, engine)
    out: list[tuple[int, str, str, Finding]] = []
    for rule in bundle.rules:
        deny = deny_of(value, rule)
        if deny is None:
            raise EngineError(Problem(f"{engine}: rule {rule.id} ({rule.package}) produced no `deny` set",
                                      file=str(rule.file), line=rule.line,
                                      hint="define `deny contains {\"msg\": msg, \"doc\": i} if {...}` in the rule"))
        if not isinstance(deny, list):
            deny = [deny]
        for item in deny:
            idx = item.get("doc") if isinstance(item, dict) else None
            msg = item.get("msg") if isinstance(item, dict) else None
            if isinstance(idx, float) and idx.is_integer():
                idx = int(idx)
            if not isinstance(idx, int) or isinstance(idx, bool) or not 0 <= idx < len(docs) or not isinstance(msg, str):
                raise EngineError(Problem(f"{engine}: rule {rule.id} returned {json.dumps(item)[:200]}; "
                                          "each deny entry must be {\"msg\": string, \"doc\": index into input.documents}",
                                          file=str(rule.file), line=rule.line, hint="fix the rule's deny head"))
            doc = docs[idx]
            path = _judged_path(item, rule, engine)
            span = field_span(doc, path) if path else None
            line, end_line = span if span else (doc.line, None)
            scope = field_span(doc, scope_path(path))
            out.append((idx, rule.id, msg, Finding(
                rule_id=rule.id, title=rule.title, severity=rule.severity, message=msg, engine=engine,
                resource=doc.resource, file=doc.file, line=line, end_line=end_line if end_line != line else None,
                source=source_for(doc, path), related_ids=rule.trivy_ids, fix=rule.fix_for(doc), url=rule.url, path=path,
                scope=scope,
            )))
    out.sort(key=lambda t: t[:3])
    return [f for *_, f in out]


def query_value(result: dict, engine: str) -> Any:
    rows = result.get("result") or []
    if not rows or not rows[0].get("expressions"):
        return None
    return rows[0]["expressions"][0].get("value")

