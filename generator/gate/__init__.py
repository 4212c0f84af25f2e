"""Gates: engines that look at rendered documents and return Findings.

Engines are listed in the registry `engines/__init__.py`; each answers an `EngineResult`
(findings, skipped kinds, cache hits, extras) for the documents and the `GateContext` below.
An engine that cannot do its job raises `EngineError` (exit 2): gates fail closed.
`run_gates` merges the engines' findings, folds duplicates, applies waivers
and builds the one `Report` every reporter renders.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Protocol, Sequence

from ..core import Document, Finding, Severity


@dataclass(frozen=True)
class GateContext:
    env: str | None = None  # environment name, None for arbitrary manifests
    threshold: Severity = Severity.HIGH  # findings at or above block
    env_data: dict = field(default_factory=dict)  # passed to Rego as input.env
    require_trivy: bool = False  # missing trivy is an error (prod) instead of a warning
    repo_root: Path = Path(".")
    cache_dir: Path | None = None  # None disables the result cache
    policy_dirs: tuple[Path, ...] = ()
    engine: str = "regorus"  # regorus | opa | opa-server
    opa_url: str | None = None
    warn: Callable[[str], None] = lambda msg: None  # warnings go to stderr via the CLI
    cores: int | None = None  # cores an engine may keep busy (None: all); fewer while other work runs beside it


class Gate(Protocol):
    name: str

    def run(self, docs: Sequence[Document], ctx: GateContext) -> list[Finding]: ...
