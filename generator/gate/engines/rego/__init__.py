"""The policy gate: drydock's Rego rules (policies/) over a whole render.

Modules by job:
* `bundle`: `load_policies(dirs)` reads every `*.rego` below the policy folders, parses
  the `# METADATA` block of each rule file into a `Rule` and validates it (id, severity,
  title, unique ids and packages). Test files (`*_test.rego`) are kept apart: they are
  never evaluated by the gate (see `generator.gate.policy_tests`).
* `results`: the input every backend gets, and its answer mapped to `Finding`s.
* `backends` (embedded regorus, default; `opa eval` when `opa` is on PATH) and
  `opa_server` (a running `opa run --server`, through opa-python-client) answer the
  same query, `data.drydock.rules`, over the same input.
* `policygate`: `PolicyGate` / `evaluate` pick a backend and map its answer the same
  way whichever backend spoke.
Fail closed: a policy that does not parse or compile, a runtime error, a rule package
missing from the result, an unreachable server or a timeout is an `EngineError` (exit 2),
never an empty list of findings.

Names are re-exported lazily (PEP 562): the command line reads `BACKENDS` at start-up
without loading regorus or YAML.
"""
from __future__ import annotations

from ....lazy import exports

# The Rego evaluators `--engine` accepts (the registry the command line reads).
BACKENDS: tuple[str, ...] = ("regorus", "opa", "opa-server")
ENGINES = BACKENDS  # older name

_EXPORTS = {
    "RULES_ROOT": "bundle", "QUERY": "bundle", "ENGINE_HINT": "bundle", "Rule": "bundle", "PolicyFile": "bundle",
    "PolicyBundle": "bundle", "default_policy_dir": "bundle", "load_policies": "bundle", "policy_id": "bundle",
    "strip_nulls": "results", "build_input": "results", "engine_error": "results",
    "findings_from_result": "results", "deny_of": "results", "query_value": "results",
    "RegoEngine": "backends", "RegorusEngine": "backends", "OpaCliEngine": "backends",
    "DEFAULT_OPA_TIMEOUT": "backends", "env_timeout": "backends",
    "OpaServerEngine": "opa_server", "DEFAULT_OPA_URL": "opa_server",
    "PolicyGate": "policygate", "evaluate": "policygate", "get_engine": "policygate",
    "clear_engine_cache": "policygate",
}


__getattr__, __dir__ = exports(__name__, _EXPORTS, globals())
