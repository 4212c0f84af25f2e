"""The registry of gate engines: one place names them, orders them and says how each runs.

Add an engine = write its module, then add one `Engine` line to `ENGINES`. The runner
and the command line read the names from here; nothing else keeps a list.

Every engine answers with an `EngineResult` (findings plus what is not a finding), so the
runner never guesses at attributes. Engines are imported on first use: `import
generator.gate.engines` stays cheap.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Sequence

from ...core import Document, Finding


@dataclass
class EngineResult:
    findings: list[Finding] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # e.g. kinds without a schema
    cache_hits: int = 0  # documents answered from the result cache
    extras: dict = field(default_factory=dict)  # non-finding results, top-level keys of the JSON report


@dataclass(frozen=True)
class Engine:
    name: str
    run: Callable[[Sequence[Document], object], EngineResult]  # (docs, GateContext) -> EngineResult
    per_env: bool  # True: judges one env's whole render; False: per document, once over all envs
    doc: str
    default: bool = True  # runs without --engines
    overlap: bool = False  # waits on an external process: runs in a thread beside the others


def _schema(docs, ctx) -> EngineResult:
    from .schema import SchemaGate

    gate = SchemaGate()
    findings = gate.run(docs, ctx)
    return EngineResult(findings, skipped=list(gate.skipped))


def _policy(docs, ctx) -> EngineResult:
    from .rego import PolicyGate

    return EngineResult(PolicyGate().run(docs, ctx))


def _trivy(docs, ctx) -> EngineResult:
    from .trivy import TrivyGate

    gate = TrivyGate()
    findings = gate.run(docs, ctx)
    return EngineResult(findings, cache_hits=gate.cached)


def _platform(docs, ctx) -> EngineResult:
    from .platform import PlatformGate

    return PlatformGate().run(docs, ctx)


# In run order: the order of `summary.engines` in a report.
ENGINES: dict[str, Engine] = {e.name: e for e in (
    Engine("schema", _schema, False, "Kubernetes and CRD JSON Schemas"),
    Engine("policy", _policy, True, "drydock's Rego rules over one env's whole render"),
    Engine("trivy", _trivy, False, "Trivy's embedded Kubernetes misconfiguration checks", overlap=True),
    Engine("platform", _platform, True, "ArgoCD sync simulation, identity and reachability of one env"),
)}

ALL_ENGINES: tuple[str, ...] = tuple(ENGINES)
DEFAULT_ENGINES: tuple[str, ...] = tuple(n for n, e in ENGINES.items() if e.default)

