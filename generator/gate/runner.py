"""Run the gates over one or more environments' documents and build one Report per env.

Per-document engines (schema, Trivy) run once over the union of all documents,
so `synth --all` pays Trivy's start-up once. The policy engine runs once per
environment, because its input carries that environment's settings and its
cross-resource rules look at one render as a whole.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import time
from dataclasses import replace
from pathlib import Path
from typing import Callable, Sequence

from ..errors import DrydockError
from . import GateContext
from ..core import Document, Finding, Report
from .waivers import Waiver, apply_waivers, fold_duplicates
from ..model.literals import RULES as INPUT_RULES

ALL_ENGINES = ("schema", "policy", "trivy")


def _gate(name: str):
    if name == "schema":
        from .engines.schema import SchemaGate
        return SchemaGate()
    if name == "policy":
        from .engines.rego import PolicyGate
        return PolicyGate()
    if name == "trivy":
        from .engines.trivy import TrivyGate
        return TrivyGate()
    raise ValueError(name)


def known_rule_ids(policy_dirs: Sequence[Path]) -> set[str]:
    from .engines.rego import load_policies
    return {r.id for r in load_policies(policy_dirs).rules}


def run_gates(
    docs_by_env: dict[str | None, list[Document]],
    contexts: dict[str | None, GateContext],
    engines: Sequence[str] = ALL_ENGINES,
    waivers: Sequence[Waiver] = (),
    progress: Callable[[str], None] = lambda msg: None,
    today: dt.date | None = None,
    timings: dict[str, float] | None = None,
    shard: tuple[int, int] | None = None,
    input_findings: dict[str | None, list[Finding]] | None = None,
) -> dict[str | None, Report]:
    """Gate each env's documents; contexts[env] carries its threshold and policy settings.

    With shard=(i, n) only the apps of shard i (1-based) are gated: the per-document engines
    see only their documents, while Rego still evaluates the whole render (its cross-resource
    rules need it, and it is cheap) and keeps only the shard's findings. Together the n shards
    report exactly what one unsharded run reports, except unused waivers, which no shard can judge.
    input_findings: findings about the inputs themselves (model.literals), judged and waived like the rest.
    """
    findings: dict[str | None, list[Finding]] = {env: [] for env in docs_by_env}
    env_of_file = {d.file: env for env, docs in docs_by_env.items() for d in docs}
    in_shard = {d.file for docs in docs_by_env.values() for d in docs if shard is None or shard_of(d.file, shard[1]) == shard[0]}
    all_docs = [d for docs in docs_by_env.values() for d in docs if d.file in in_shard]
    first_ctx = next(iter(contexts.values()))
    cached = 0
    skipped: list[str] = []
    for name in ("schema", "trivy"):
        if name not in engines:
            continue
        progress(f"{name}: {len(all_docs)} documents")
        started = time.perf_counter()
        # One run for all envs: trust every env's registries, require trivy if any env does.
        registries = sorted({r for c in contexts.values() for r in c.env_data.get("allowedRegistries", [])})
        shared_ctx = replace(first_ctx, require_trivy=any(c.require_trivy for c in contexts.values()),
                             env_data={**first_ctx.env_data, "allowedRegistries": registries})
        gate = _gate(name)
        for f in gate.run(all_docs, shared_ctx):
            findings[env_of_file.get(f.file, next(iter(findings)))].append(f)
        cached += getattr(gate, "cache_hits", 0)
        skipped += getattr(gate, "skipped", [])
        _add(timings, name, started)
    if "policy" in engines:
        started = time.perf_counter()
        for env, docs in docs_by_env.items():
            progress(f"policy: {env or 'manifests'} ({len(docs)} documents)")
            findings[env] += [f for f in _gate("policy").run(docs, contexts[env]) if f.file in in_shard]
        _add(timings, "policy", started)
    for env, fs in ((input_findings or {}) if shard is None or shard[0] == 1 else {}).items():  # once across shards
        findings.setdefault(env, []).extend(fs)
    folded = {env: fold_duplicates(fs) for env, fs in findings.items()}
    known = (known_rule_ids(first_ctx.policy_dirs) | set(INPUT_RULES)) if waivers else set()
    waived = apply_waivers(folded, waivers, known, today, () if shard else engines)
    return {
        env: Report(sorted(fs, key=Finding.sort_key), contexts[env].threshold,
                    sum(1 for d in docs_by_env[env] if d.file in in_shard), cached, list(skipped),
                    engines=tuple(e for e in ALL_ENGINES if e in engines))
        for env, fs in waived.items()
    }


def shard_of(file: str, n: int) -> int:
    """1-based shard of a document: by its app folder, so an app is never split across shards."""
    app = file.rsplit("/", 1)[0] if "/" in file else file
    return int(hashlib.sha256(app.encode()).hexdigest(), 16) % n + 1


def parse_shard(text: str) -> tuple[int, int]:
    try:
        i, n = (int(x) for x in text.split("/"))
        if not 1 <= i <= n:
            raise ValueError
    except ValueError:
        raise DrydockError(f"--shard {text!r} is not i/n with 1 <= i <= n", hint="e.g. --shard 1/3") from None
    return i, n


def _add(timings: dict[str, float] | None, name: str, started: float) -> None:
    if timings is not None:
        timings[name] = timings.get(name, 0.0) + time.perf_counter() - started
