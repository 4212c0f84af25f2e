"""The policy gate: pick a backend (cached per process and bundle), evaluate, map to Findings."""
from __future__ import annotations

import threading
from pathlib import Path
from typing import Sequence

from ....core import Document, Finding, Severity
from ....errors import EngineError
from . import BACKENDS
from .backends import OpaCliEngine, RegoEngine, RegorusEngine
from .bundle import PolicyBundle, load_policies
from .opa_server import OpaServerEngine
from .results import build_input, findings_from_result

_ENGINE_LOCK = threading.Lock()
_ENGINE_CACHE: dict[tuple[str, str, str], RegoEngine] = {}


def get_engine(kind: str, bundle: PolicyBundle, opa_url: str | None = None) -> RegoEngine:
    """A loaded engine for bundle, reused for the whole process (keyed by bundle digest)."""
    if kind not in BACKENDS:
        raise EngineError(f"unknown policy engine {kind!r}", hint=f"use one of: {', '.join(BACKENDS)}")
    key = (kind, bundle.digest, opa_url or "")
    with _ENGINE_LOCK:
        engine = _ENGINE_CACHE.get(key)
    if engine is not None:
        return engine
    if kind == "regorus":
        engine = RegorusEngine(bundle)
    elif kind == "opa":
        engine = OpaCliEngine(bundle)
    else:
        engine = OpaServerEngine(bundle, opa_url)
    with _ENGINE_LOCK:
        _ENGINE_CACHE[key] = engine
    return engine


def clear_engine_cache() -> None:
    with _ENGINE_LOCK:
        _ENGINE_CACHE.clear()
    with OpaServerEngine._lock:
        OpaServerEngine._pushed.clear()


class PolicyGate:
    """`Gate` for the Rego rules: one evaluation per render, whole render at once."""

    name = "policy"

    def run(self, docs: Sequence[Document], ctx) -> list[Finding]:
        return evaluate(docs, ctx.env_data, engine=ctx.engine or "regorus",
                        policy_dirs=tuple(ctx.policy_dirs) or None, opa_url=ctx.opa_url)


def evaluate(docs: Sequence[Document], env_data: dict | None = None, *, engine: str = "regorus",
             policy_dirs: Sequence[Path] | None = None, opa_url: str | None = None) -> list[Finding]:
    """The policy findings for docs (also the convenience entry for tests and scripts)."""
    bundle = load_policies(policy_dirs)
    eng = get_engine(engine, bundle, opa_url)  # loads (and checks) the policies even for no docs
    if not docs:
        return []
    try:
        return findings_from_result(eng.evaluate(build_input(docs, env_data)), bundle, docs, eng.name)
    except EngineError as err:
        if eng.name != "regorus":  # a server or CLI may fail for reasons retries would only multiply
            raise
        return _isolate(eng, bundle, list(docs), env_data, err)


RULE_UNREADABLE = "DD-INPUT-002"
UNREADABLE_TITLE = "Policies cannot read this object"
UNREADABLE_FIX = ("Fix the object's structure (the schema findings name the fields with the wrong type); until then "
                  "no policy judges it.")


def _isolate(eng: RegoEngine, bundle: PolicyBundle, docs: list[Document], env_data: dict | None,
             err: EngineError) -> list[Finding]:
    """A rule that errs on a malformed object (`containers` a mapping, `volumes` a string) must not
    stop the gate for every other file, nor pass it. The schema-valid objects must evaluate
    cleanly (else the policy is wrong: the original EngineError, exit 2); among the others (invalid
    by their schema, or of a kind without one) a binary search finds, one at a time, the object
    whose arrival makes the evaluation fail. Each is a blocking DD-INPUT-002; everything else is gated as usual."""
    from ..schema import validate_documents

    def fails(idx: list[int]) -> EngineError | None:
        part = [docs[i] for i in sorted(idx)]
        try:
            findings_from_result(eng.evaluate(build_input(part, env_data)), bundle, part, eng.name)
        except EngineError as e:
            return e
        return None

    suspects, valid = [], []
    for i, d in enumerate(docs):
        findings, skipped = validate_documents([d])
        (suspects if findings or skipped else valid).append(i)
    if not suspects or fails(valid):
        raise err  # valid objects break a rule: the policy is wrong, not the input
    bad: dict[int, EngineError] = {}
    while True:
        cur = [i for i in suspects if i not in bad]
        e = fails(valid + cur)
        if e is None:
            break
        # the shortest failing prefix: its last object is the one whose arrival breaks the rules
        lo, hi = 1, len(cur)
        while lo < hi:
            mid = (lo + hi) // 2
            got = fails(valid + cur[:mid])
            if got is None:
                lo = mid + 1
            else:
                hi, e = mid, got
        bad[cur[lo - 1]] = e
    rest = [d for i, d in enumerate(docs) if i not in bad]
    out = findings_from_result(eng.evaluate(build_input(rest, env_data)), bundle, rest, eng.name) if rest else []
    for i, e in sorted(bad.items()):
        d = docs[i]
        reason = str(e).split(": ", 2)[-1].split(" (/")[0].split(" (policies/")[0].strip()[:200]
        out.append(Finding(RULE_UNREADABLE, UNREADABLE_TITLE, Severity.CRITICAL,
                           f"the policy rules cannot evaluate this {d.resource.kind or 'object'}: a field has the wrong "
                           f"type ({reason})", eng.name, d.resource, d.file, d.line, fix=UNREADABLE_FIX))
    return out
