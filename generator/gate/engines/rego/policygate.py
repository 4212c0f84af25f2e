"""The policy gate: pick a backend (cached per process and bundle), evaluate, map to Findings."""
from __future__ import annotations

import threading
from pathlib import Path
from typing import Sequence

from ....core import Document, Finding
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
    return findings_from_result(eng.evaluate(build_input(docs, env_data)), bundle, docs, eng.name)
