"""drydock as a library: render, gate, diff and promote a GitOps repo from Python.

    import generator as drydock

    result = drydock.synth("path/to/repo", ["dev"])           # render + gate + write rendered/dev
    report = drydock.check(["rendered/prod"], "path/to/repo")  # a Report; report.blocking() -> exit 1

Functions (all in `generator.api`; each returns a value and raises `DrydockError`, never
prints or exits):
  synth(root, envs, *, gate, check, out, options)   render, gate, write or compare rendered/
  check(paths, root, *, env, options, shard)        gate any manifests -> Report
  validate(paths, root, *, strict_kinds)            schema-check manifests and input files
  diff(root, base, head, *, worktree, env, policy)  semantic diff of rendered/ -> DiffResult
  promote(root, src, dst, services, *, digests)     copy image versions forward, re-render, gate
  explain(rule_id, root) / rules(root)              one rule's rationale and fix / every rule
  gate_options(engines, *, engine, threshold, ...)  checked settings for synth/check/promote
  format_report(report, fmt) / format_diff(result, fmt)   text in any registered format
Types (from `generator.core`): Document, SourceRef, Severity, Finding, Resource, Report;
errors (from `generator.errors`): DrydockError, InputError, EngineError.

Everything is imported on first use (PEP 562), so `import generator.cli` and friends do
not pay for cdk8s, YAML or the gates until a command needs them.
"""
from __future__ import annotations

from .lazy import exports

_API = ("synth", "check", "validate", "diff", "promote", "explain", "rules", "test_policies", "gate_options",
        "format_report", "format_diff", "new_service", "engine_names", "report_formats", "diff_formats")
_CORE = ("Document", "SourceRef", "Severity", "Finding", "Resource", "Report")
_ERRORS = ("DrydockError", "InputError", "EngineError", "Problem")
_EXPORTS = {**{n: "api" for n in _API}, **{n: "core" for n in _CORE}, **{n: "errors" for n in _ERRORS}}

# Also submodules: they are callable (generator/callmodule.py), so the name means one thing.
_SUBMODULES = ("diff", "promote")

__all__ = sorted(_EXPORTS)


__getattr__, __dir__ = exports(__name__, _EXPORTS, globals(), submodules=_SUBMODULES)
