"""Run the gates over one or more environments' documents and build one Report per env.

The engines and their order come from the registry in `engines/__init__.py`.
Per-document engines (schema, Trivy) run once over the union of all documents,
so `synth --all` pays Trivy's start-up once. Whole-render engines (policy,
platform) run once per environment, because their input carries that
environment's settings and their cross-resource checks look at one render as a whole.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable, Sequence

from ..errors import DrydockError
from . import GateContext
from ..core import Document, Finding, Report
from .engines import ALL_ENGINES, DEFAULT_ENGINES, ENGINES
from .waivers import Waiver, apply_waivers, fold_duplicates



def known_rule_ids(policy_dirs: Sequence[Path]) -> set[str]:
    from ..platform.rules import all_rules
    from .engines.rego import load_policies
    return {r.id for r in load_policies(policy_dirs).rules} | {r.id for r in all_rules()}


@dataclass
class EngineRun:
    """What the engines answered for each env, before waivers: the part of a run the verdict
    cache (verdicts.py) may store, because waivers, thresholds and dates are applied after it."""

    findings: dict[str | None, list[Finding]]
    extras: dict[str | None, dict]
    resources: dict[str | None, int]  # documents gated per env (expanded add-on objects included)
    cached: int = 0  # documents answered from a cache
    skipped: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)  # what the engines warned, replayed on a cache hit


def shared_related_ids(policy_dirs: Sequence[Path]) -> set[str]:
    """Other engines' ids (Trivy's) that more than one of our rules folds in."""
    from .engines.rego import load_policies
    seen: dict[str, int] = {}
    for r in load_policies(policy_dirs).rules:
        for t in set(r.trivy_ids):
            seen[t] = seen.get(t, 0) + 1
    return {t for t, n in seen.items() if n > 1}


def run_gates(
    docs_by_env: dict[str | None, list[Document]],
    contexts: dict[str | None, GateContext],
    engines: Sequence[str] = DEFAULT_ENGINES,
    waivers: Sequence[Waiver] = (),
    progress: Callable[[str], None] = lambda msg: None,
    today: dt.date | None = None,
    timings: dict[str, float] | None = None,
    shard: tuple[int, int] | None = None,
    complete_envs: Sequence[str | None] | None = None,
    input_findings: dict[str | None, list[Finding]] | None = None,
) -> dict[str | None, Report]:
    """Gate each env's documents; contexts[env] carries its threshold and policy settings.

    With shard=(i, n) only the apps of shard i (1-based) are gated: the per-document engines
    see only their documents, while Rego still evaluates the whole render (its cross-resource
    rules need it, and it is cheap) and keeps only the shard's findings. Together the n shards
    report exactly what one unsharded run reports, except unused waivers, which no shard can judge.
    complete_envs: the envs whose whole render is gated here (None: all); only they judge unused waivers.
    input_findings: findings about the inputs themselves (model.literals), judged and waived like the rest.
    """
    run = run_engines(docs_by_env, contexts, engines, progress, timings, shard)
    return judge(run, docs_by_env, contexts, engines, waivers, today, shard, complete_envs, input_findings)


def run_engines(
    docs_by_env: dict[str | None, list[Document]],
    contexts: dict[str | None, GateContext],
    engines: Sequence[str] = DEFAULT_ENGINES,
    progress: Callable[[str], None] = lambda msg: None,
    timings: dict[str, float] | None = None,
    shard: tuple[int, int] | None = None,
    early: dict[str, Started] | None = None,
) -> EngineRun:
    """Run the chosen engines over every env's documents (see run_gates); no waivers yet.

    early: background engines already running on part of these documents (start_background);
    they get only the rest, and both answers are merged.
    """
    findings: dict[str | None, list[Finding]] = {env: [] for env in docs_by_env}
    env_of_file = {d.file: env for env, docs in docs_by_env.items() for d in docs}
    all_docs = _in_shard(docs_by_env, shard)
    in_shard = {d.file for d in all_docs}
    first_ctx = next(iter(contexts.values()))
    cached = 0
    skipped: list[str] = []
    extras: dict[str | None, dict] = {env: {} for env in docs_by_env}
    chosen = [n for n in ALL_ENGINES if n in engines]
    # Engines that wait on an external process (Trivy: ~0.65 s of start-up alone) start first
    # in a thread and overlap with the in-process engines; their results merge at the end
    # (reports sort findings, so the merge order does not show).
    early = {n: s for n, s in (early or {}).items() if n in chosen}
    background = {n: [s.future] for n, s in early.items()}
    ids = {id(d) for d in all_docs}
    for n in _background_names(chosen):
        done = early[n].ids() if n in early else set()
        if not done <= ids:  # an early answer about documents not gated here would land in the wrong env
            raise DrydockError(f"internal: {n} started on documents this run does not gate",
                               hint="report this; run with --no-cache to rule the caches out")
        rest = [d for d in all_docs if id(d) not in done]
        if rest or n not in early:
            background.setdefault(n, []).append(
                _start_background(n, rest, contexts, timings, progress, "added since" if n in early else "").future)
    for name in chosen:
        engine = ENGINES[name]
        started = time.perf_counter()
        if name in background:
            continue
        if engine.per_env:
            for env, docs in docs_by_env.items():
                progress(f"{name}: {env or 'manifests'} ({len(docs)} documents)")
                result = engine.run(docs, contexts[env])
                # Whole-render engines see every document and keep only the shard's findings.
                findings[env] += [f for f in result.findings if f.file in in_shard]
                extras[env].update(result.extras)
                cached += result.cache_hits
                skipped += result.skipped
        else:
            progress(f"{name}: {len(all_docs)} documents")
            result = engine.run(all_docs, _shared_context(first_ctx, contexts))
            for f in result.findings:
                findings[env_of_file.get(f.file, next(iter(findings)))].append(f)
            cached += result.cache_hits
            skipped += result.skipped
        _add(timings, name, started)
    for name, futures in background.items():
        for future in futures:
            result = future.result()  # re-raises the engine's error: fail closed
            for f in result.findings:
                findings[env_of_file.get(f.file, next(iter(findings)))].append(f)
            cached += result.cache_hits
            skipped += result.skipped
    resources = {env: sum(1 for d in docs if d.file in in_shard) for env, docs in docs_by_env.items()}
    return EngineRun(findings, extras, resources, cached, skipped)


def judge(
    run: EngineRun,
    docs_by_env: dict[str | None, list[Document]],
    contexts: dict[str | None, GateContext],
    engines: Sequence[str] = DEFAULT_ENGINES,
    waivers: Sequence[Waiver] = (),
    today: dt.date | None = None,
    shard: tuple[int, int] | None = None,
    complete_envs: Sequence[str | None] | None = None,
    input_findings: dict[str | None, list[Finding]] | None = None,
) -> dict[str | None, Report]:
    """The engines' answer plus input findings, folded, waived and thresholded: one Report per env.

    docs_by_env: the documents before add-on expansion (only read when the platform engine did
    not run, to tell which waivers a run without the expansion could not judge).
    """
    findings = {env: list(fs) for env, fs in run.findings.items()}
    first_ctx = next(iter(contexts.values()))
    for env, fs in ((input_findings or {}) if shard is None or shard[0] == 1 else {}).items():  # once across shards
        findings.setdefault(env, []).extend(fs)
    folded = {env: fold_duplicates(fs) for env, fs in findings.items()}
    known = known_rule_ids(first_ctx.policy_dirs) if waivers else set()
    gated = {env: _unexpanded(docs_by_env[env]) for env in folded if env in docs_by_env} \
        if waivers and "platform" not in engines else None
    shared = shared_related_ids(first_ctx.policy_dirs) if waivers else set()
    waived = apply_waivers(folded, waivers, known, today, engines, () if shard else complete_envs, gated, shared)
    return {
        env: Report(sorted(fs, key=Finding.sort_key), contexts[env].threshold, run.resources.get(env, 0),
                    run.cached, list(run.skipped), engines=tuple(e for e in ALL_ENGINES if e in engines),
                    extras=dict(run.extras.get(env, {})))
        for env, fs in waived.items()
    }


def _unexpanded(docs) -> tuple[set[tuple], set[str]]:
    """What a run without the platform engine gated ((kind, namespace, name) of each object) and
    the namespaces of the Helm Applications it did not expand (their objects were never seen)."""
    gated = {(d.resource.kind, d.resource.namespace, d.resource.name) for d in docs}
    helm_ns = set()
    for d in docs:
        spec = d.obj.get("spec") if d.obj.get("kind") == "Application" else None
        if isinstance(spec, dict):
            sources = [spec.get("source")] + list(spec.get("sources") or [])
            if any(isinstance(src, dict) and src.get("chart") for src in sources):
                helm_ns.add(str((spec.get("destination") or {}).get("namespace") or ""))
    return gated, helm_ns


def _shared_context(first_ctx: GateContext, contexts: dict) -> GateContext:
    """One run for all envs: trust every env's registries, require trivy if any env does."""
    registries = sorted({r for c in contexts.values() for r in c.env_data.get("allowedRegistries", [])})
    addon_images = {a: p for c in contexts.values() for a, p in c.env_data.get("addonImages", {}).items()}
    host_paths = {a: p for c in contexts.values() for a, p in c.env_data.get("addonHostPaths", {}).items()}
    return replace(first_ctx, require_trivy=any(c.require_trivy for c in contexts.values()),
                   env_data={**first_ctx.env_data, "allowedRegistries": registries, "addonImages": addon_images,
                             "addonHostPaths": host_paths})


@dataclass(frozen=True)
class Started:
    """A background engine running on some documents: its future and the ids of those documents."""

    future: Future
    documents: tuple[Document, ...]  # held, so their ids stay theirs

    def ids(self) -> set[int]:
        return {id(d) for d in self.documents}


def start_background(
    docs_by_env: dict[str | None, list[Document]],
    contexts: dict[str | None, GateContext],
    engines: Sequence[str] = DEFAULT_ENGINES,
    progress: Callable[[str], None] = lambda msg: None,
    timings: dict[str, float] | None = None,
    shard: tuple[int, int] | None = None,
) -> dict[str, Started]:
    """Start the per-document engines that wait on an external process (Trivy) on the documents
    known so far, so that they run while more documents are made (the add-ons expand); hand the
    result to run_engines(early=...). Per-document engines judge each document on its own, so two
    runs over two parts answer exactly what one run over the whole does."""
    docs = _in_shard(docs_by_env, shard)
    # One core: the work that makes the rest of the documents (helm) keeps the others busy.
    return {n: _start_background(n, docs, contexts, timings, progress, cores=1)
            for n in _background_names([n for n in ALL_ENGINES if n in engines])}


def _background_names(chosen: Sequence[str]) -> list[str]:
    return [n for n in chosen if ENGINES[n].overlap and not ENGINES[n].per_env]


def _start_background(name: str, docs: list[Document], contexts: dict, timings, progress, what: str = "",
                      cores: int | None = None) -> Started:
    progress(f"{name}: {len(docs)} documents{' ' + what if what else ''} (started in the background)")
    ctx = replace(_shared_context(next(iter(contexts.values())), contexts), cores=cores)
    return Started(_start(ENGINES[name], docs, ctx, timings), tuple(docs))


def _start(engine, docs: list[Document], ctx: GateContext, timings: dict[str, float] | None) -> Future:
    def run():
        started = time.perf_counter()
        try:
            return engine.run(docs, ctx)
        finally:
            _add(timings, engine.name, started)

    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"drydock-{engine.name}")
    future = pool.submit(run)
    pool.shutdown(wait=False)
    return future


def _in_shard(docs_by_env: dict[str | None, list[Document]], shard: tuple[int, int] | None) -> list[Document]:
    return [d for docs in docs_by_env.values() for d in docs if shard is None or shard_of(d.file, shard[1]) == shard[0]]


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
