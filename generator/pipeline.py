"""The workflows behind the public API (`generator.api`): synth, check_paths, the policy delta, charts.

Nothing here prints or exits; results and errors come back as values and
exceptions, so tests and other tools can drive drydock without click.
"""
from __future__ import annotations

import functools
import json
import os
import re
import signal
import time
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable, Iterator, Sequence

from .children import stop_all
from .errors import InputError
from .gate import GateContext
from .core import Report, Severity
from .gate.cache import check_cache_dir, default_cache_dir, prune_if_due
from .gate.engines import DEFAULT_ENGINES
from .gate.runner import run_gates
from .gate.waivers import load_repo_waivers, load_waivers
from .model.literals import literal_credentials
from .model.types import Platform
from .render import RenderedEnv, Staleness, compare
from .render_worker import render_envs
from .writer import check_out_root, check_ownership, recover, repo_lock, write_env


def load_project(root: Path) -> Platform:
    from .model.loader import load_project as load  # imported on use: check/validate never need it

    return load(root)


@dataclass(frozen=True)
class GateOptions:
    engines: tuple[str, ...] = DEFAULT_ENGINES
    engine: str = "regorus"
    opa_url: str | None = None
    policy_dirs: tuple[Path, ...] = ()
    waivers_file: Path | None = None
    cache_dir: Path | None = field(default_factory=default_cache_dir)  # None: no cache; same default as the CLI
    threshold: Severity | None = None  # overrides the environment's threshold
    charts: Path | None = None  # Helm chart folder; None: $DRYDOCK_CHARTS, else <repo>/.drydock/charts


@dataclass
class SynthResult:
    rendered: dict[str, RenderedEnv]
    reports: dict[str, Report] = field(default_factory=dict)
    staleness: dict[str, Staleness] = field(default_factory=dict)
    written: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)  # seconds per phase: render, schema, policy, trivy, write
    not_deployed: dict[str, list[str]] = field(default_factory=dict)  # env -> services its versions do not name

    @property
    def blocked(self) -> bool:
        return any(r.blocking() for r in self.reports.values())


def repo_policy_dirs(root: Path, extra: Sequence[Path]) -> tuple[Path, ...]:
    base = root / "policies"
    dirs = ([base] if base.is_dir() else []) + [Path(p) for p in extra]
    if not dirs:
        from .gate.engines.rego import default_policy_dir
        dirs = [default_policy_dir()]
    return tuple(dirs)


def _context(root: Path, env_name: str | None, platform: Platform | None, opts: GateOptions,
             warn: Callable[[str], None]) -> GateContext:
    env = platform.environments[env_name] if platform and env_name else None
    threshold = opts.threshold or (env.threshold if env else Severity.HIGH)
    env_data = env.gate_data(platform.services) if env and platform else {}
    if env and platform:
        # The platform engine judges secret paths against the other envs and IAM roles against this one's.
        env_data = {**env_data, "environments": sorted(platform.environments),
                    "roleArns": _role_arns(Path(root) / env.source.file)}
    return GateContext(
        env=env_name, threshold=threshold, env_data=env_data,
        require_trivy=bool(env and env.require_trivy), repo_root=root, cache_dir=_cache_dir(opts, warn),
        policy_dirs=repo_policy_dirs(root, opts.policy_dirs), engine=opts.engine, opa_url=opts.opa_url, warn=warn,
    )


def _cache_dir(opts: GateOptions, warn: Callable[[str], None]) -> Path | None:
    """The cache folder to use: a configured one inside a git work tree is refused; the default is skipped."""
    if opts.cache_dir is None:
        return None
    reason = _cache_dir_problem(str(Path(opts.cache_dir).absolute()))
    if reason is None:
        return opts.cache_dir
    if Path(opts.cache_dir) == default_cache_dir():
        warn(f"{reason}; running without a cache")
        return None
    raise InputError(reason, file=str(opts.cache_dir),
                     hint="use a folder outside the repository (the default is ~/.cache/drydock), or git-ignore it")


@functools.lru_cache(maxsize=8)
def _cache_dir_problem(path: str) -> str | None:
    """check_cache_dir once per folder and process: it asks git three times (~10 ms each)."""
    return check_cache_dir(Path(path))


_ROLE_ARN = re.compile(r"arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]+")


def _role_arns(env_file: Path) -> list[str]:
    """Every IAM role ARN the environment file names (wherever its schema puts them)."""
    try:
        return sorted(set(_ROLE_ARN.findall(env_file.read_text(encoding="utf-8"))))
    except OSError:
        return []


def _waivers(root: Path, opts: GateOptions, platform: Platform | None = None):
    envs = list(platform.environments) if platform else None
    if not opts.waivers_file:  # waivers.yaml and the waivers/ folder (docs/waivers.md)
        return load_repo_waivers(root, envs=envs)
    path = opts.waivers_file
    if not path.exists():
        raise InputError(f"waiver file {path} does not exist", hint="check the --waivers path")
    return load_waivers(path, os.path.relpath(path, root) if path.is_absolute() else str(path), envs=envs, root=root)


def synth(root: Path, envs: Sequence[str] | None, *, gate: bool = True, check: bool = False,
          out: Path | None = None, opts: GateOptions = GateOptions(),
          progress: Callable[[str], None] = lambda m: None, warn: Callable[[str], None] = lambda m: None,
          on_written: Callable[[str], None] = lambda env: None) -> SynthResult:
    """Render envs (all when None), gate them, and write (or compare with) rendered/.

    on_written(env) runs right after rendered/<env> is landed, with SIGINT/SIGTERM held back,
    so a caller (promote) can record "done" before any interruption is delivered.
    """
    from .promote import repair_promotion

    root = Path(root)
    repair_promotion(root, warn)  # a promotion cut short by SIGKILL is finished or undone first
    renders = _render_cache(root, _cache_dir(opts, warn))  # hashes the inputs before the loader reads them
    platform = load_project(root)
    names = list(envs) if envs else list(platform.environments)
    problems = []
    for name in names:  # every env checked before any rendering: all or nothing
        try:
            platform.for_env(name)
        except InputError as exc:
            problems += exc.problems
    if problems:
        raise InputError(problems)
    if not check:
        _require_trivy(platform, names, gate, opts, warn)
    result = SynthResult({}, not_deployed={n: platform.not_deployed(n) for n in names})
    started = time.perf_counter()
    cached = {}
    for name in names:
        hit = renders.get(name) if renders else None
        if hit:
            progress(f"render: {name} (unchanged inputs: cached)")
            cached[name] = hit
    # In worker processes when the render is large (generator/render_worker.py): Node's memory
    # then dies with each env instead of accumulating.
    fresh = render_envs(platform, [n for n in names if n not in cached], progress=progress)
    for name in names:
        result.rendered[name] = cached.get(name) or fresh[name]
        if renders and name in fresh:
            renders.put(fresh[name])
    del cached, fresh
    from .k8snames import name_problems  # every name must fit Kubernetes' limits, gate or no gate
    too_long = [p for name in names for p in name_problems(result.rendered[name].documents())]
    if too_long:
        raise InputError(list(dict.fromkeys(too_long)))
    result.timings["render"] = time.perf_counter() - started
    out_root = Path(out) if out else root / "rendered"
    if check:
        for name in names:
            result.staleness[name] = compare(result.rendered[name], out_root / name)
        return result
    if gate:
        docs = {name: result.rendered[name].documents() for name in names}
        contexts = {}
        for name in names:
            ctx = _context(root, name, platform, opts, warn)
            # Lets the policy check that every ArgoCD Application points at a folder we render.
            contexts[name] = replace(ctx, env_data={**ctx.env_data, "existingPaths": _existing_paths(result.rendered[name])})
        # Credentials typed into inputs are findings at the input line, whatever --engines says.
        typed = {name: literal_credentials(platform, name, platform.deployed(name)) for name in names}
        result.reports = gate_envs(root, docs, contexts, platform, opts, _waivers(root, opts, platform), progress,
                                   timings=result.timings, input_findings=typed)
        if result.blocked:
            return result
    started = time.perf_counter()
    if out:
        check_out_root(out_root)  # never write into a folder of someone else's files
    with repo_lock(out_root), signals_deferred():
        recover(out_root)
        for name in names:  # all envs first: a refusal in the last one must not leave the first written
            check_ownership(result.rendered[name], out_root)
        for name in names:
            # An env whose tree already holds exactly this render is left alone: no fsyncs, no swap.
            if _tree_holds(result.rendered[name], out_root / name):
                progress(f"write: {out_root / name} (up to date)")
            else:
                progress(f"write: {out_root / name}")
                write_env(result.rendered[name], out_root)
            result.written.append(name)
            on_written(name)
    result.timings["write"] = time.perf_counter() - started
    return result


def _tree_holds(rendered: RenderedEnv, env_dir: Path) -> bool:
    """rendered/<env> already is this render, as plain files (a symlink is never taken as ours)."""
    if env_dir.is_symlink() or not env_dir.is_dir():
        return False
    paths = {env_dir / f.path for f in rendered.files}
    if any(p.is_symlink() for p in paths | {p.parent for p in paths}):
        return False
    return compare(rendered, env_dir).up_to_date


def _render_cache(root: Path, cache_dir: Path | None):
    from .render_cache import RenderCache

    return RenderCache(root, cache_dir) if cache_dir else None


def gate_envs(root: Path, docs: dict, contexts: dict, platform: Platform | None, opts: GateOptions, waivers,
              progress: Callable[[str], None] = lambda m: None, *, timings: dict[str, float] | None = None,
              shard: tuple[int, int] | None = None, complete_envs=None, input_findings=None) -> dict:
    """Expand the add-ons (platform engine) and run the gates, or take the engines' answer from the
    verdict cache when nothing that feeds them changed (gate/verdicts.py); waivers always apply anew."""
    from .gate.runner import judge, run_engines, start_background
    from .gate.verdicts import VerdictCache, run_key

    timings = {} if timings is None else timings
    first = next(iter(contexts.values()))
    charts = None
    if "platform" in opts.engines:
        from .platform.charts import charts_dir
        charts = charts_dir(opts.charts, root)
    # Add-on findings point at the env file's lines (helm.addon_source): they feed the answer too.
    models = [platform.environments[env] for env in docs if platform and env in platform.environments]
    lines = json.dumps([[m.name, m.source.file, m.source.line, dict(m.lines)] for m in models], sort_keys=True) \
        if "platform" in opts.engines else ""
    started = time.perf_counter()
    key = run_key(docs, contexts, opts.engines, charts, lines) if first.cache_dir and shard is None else None
    verdicts = VerdictCache(first.cache_dir) if key else None
    run = verdicts.get(key, docs) if verdicts else None
    timings["verdict"] = timings.get("verdict", 0.0) + time.perf_counter() - started
    if run is not None:
        progress(f"gate: nothing that feeds the gates changed; engine results from the cache ({sum(run.resources.values())} documents)")
        for message in run.warnings:
            first.warn(message)
        return judge(run, docs, contexts, opts.engines, waivers, None, shard, complete_envs, input_findings)
    warnings: list[str] = []
    recording = {env: replace(ctx, warn=_recorder(ctx.warn, warnings)) for env, ctx in contexts.items()}
    gated, early = docs, None
    if "platform" in opts.engines:
        from .platform.helm import chart_refs, is_application

        if any(is_application(d.obj) and chart_refs(d) for ds in docs.values() for d in ds):
            # Trivy judges the render while helm expands the add-ons; it then gets only their objects.
            early = start_background(docs, recording, opts.engines, progress, timings, shard)
        started = time.perf_counter()
        try:
            gated = expand_addons(root, docs, platform, opts, progress)
        except BaseException:
            if early:  # a failed expansion ends the run: its early Trivy scan must not hold the exit
                stop_all()
            raise
        timings["helm"] = timings.get("helm", 0.0) + time.perf_counter() - started
    run = run_engines(gated, recording, opts.engines, progress, timings, shard, early)
    run.warnings = list(dict.fromkeys(warnings))
    # Stored only if the inputs still hash the same after the run (an edit during it is not ours to keep).
    if verdicts and run_key(docs, contexts, opts.engines, charts, lines) == key:
        verdicts.put(key, run)
    if first.cache_dir:
        prune_if_due(first.cache_dir)  # once a day: entries unused for 30 days, then LRU down to 1 GiB
    return judge(run, docs, contexts, opts.engines, waivers, None, shard, complete_envs, input_findings)


def _recorder(warn: Callable[[str], None], into: list[str]) -> Callable[[str], None]:
    def record(message: str) -> None:
        into.append(message)
        warn(message)
    return record


def expand_addons(root: Path, docs: dict, platform: Platform | None, opts: GateOptions,
                  progress: Callable[[str], None] = lambda m: None) -> dict:
    """Each env's documents plus the objects its Helm Applications expand to (docs/helm.md).

    Added before the gates run, so schema, Rego and Trivy judge add-on objects like our own;
    findings on them carry the env file line of the add-on's values as their source.
    """
    from .platform.charts import charts_dir
    from .platform.helm import Expander, addon_source, expand_applications

    expander = Expander(charts_dir(opts.charts, root), opts.cache_dir)
    out = {}
    for env, env_docs in docs.items():
        model = platform.environments.get(env) if platform and env else None
        progress(f"helm: expanding {env or 'manifests'} add-ons")
        out[env] = list(env_docs) + expand_applications(
            env_docs, expander.folder.root, opts.cache_dir, source_for=addon_source(model) if model else None,
            expander=expander)
    return out


def chart_pins(root: Path, charts: Path | None = None):
    """(chart folder, every chart the render of every env pins, present or not)."""
    from .platform.charts import ChartFolder, charts_dir, pinned

    root = Path(root)
    platform = load_project(root)
    folder = ChartFolder(charts_dir(charts, root))
    docs = {name: r.documents() for name, r in render_envs(platform, list(platform.environments)).items()}
    return folder, pinned(docs, folder)


def pull_charts(root: Path, charts: Path | None = None, progress: Callable[[str], None] = lambda m: None):
    """`drydock charts pull`: helm pull every pinned chart missing from the folder; returns (folder, pulled)."""
    from .platform.charts import pull
    from .platform.helm import Expander

    folder, pins = chart_pins(root, charts)
    return folder, pull(pins, folder, Expander(folder.root), progress)


def _require_trivy(platform: Platform, names: Sequence[str], gate: bool, opts: GateOptions,
                   warn: Callable[[str], None]) -> None:
    """An env with gate.requireTrivy is never written without the Trivy gate, except by an explicit --no-gate."""
    strict = [n for n in names if platform.environments[n].require_trivy]
    if not strict or (gate and "trivy" in opts.engines):
        return
    if not gate:
        for n in strict:
            warn(f"--no-gate: environment '{n}' sets gate.requireTrivy, but this render of {n} was not gated")
        return
    env = platform.environments[strict[0]]
    raise InputError(f"environment '{env.name}' sets gate.requireTrivy, but --engines {','.join(opts.engines)} leaves Trivy out",
                     file=env.source.file, line=env.lines.get("spec.gate.requireTrivy", env.source.line),
                     hint="add trivy to --engines (or drop --engines) to write it; --no-gate skips every gate explicitly")


@contextmanager
def signals_deferred() -> Iterator[None]:
    """Hold SIGINT/SIGTERM until the block ends: the writes it does land together or not at all."""
    held = {signal.SIGINT, signal.SIGTERM}
    old = signal.pthread_sigmask(signal.SIG_BLOCK, held)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


def _existing_paths(rendered: RenderedEnv) -> list[str]:
    return sorted({f"{rendered.env}/{f.path.split('/', 1)[0]}" for f in rendered.files})


def nothing_to_check(paths: Sequence[str]) -> InputError:
    """`helm template ... | drydock check -` with a failed helm pipes nothing: that is never a pass."""
    shown = [("<stdin>" if p == "-" else p) for p in paths]
    return InputError(f"no Kubernetes documents in {', '.join(shown)}: nothing was checked", file=shown[0],
                      hint="if a command writes them (helm template ... | drydock check -), check that it "
                           "succeeded (`set -o pipefail`); an empty input is never a pass")


def check_paths(root: Path, paths: Sequence[str], env: str | None, opts: GateOptions,
                progress: Callable[[str], None] = lambda m: None,
                warn: Callable[[str], None] = lambda m: None, stdin=None,
                shard: tuple[int, int] | None = None, timings: dict[str, float] | None = None) -> Report:
    """Gate arbitrary manifests (files, dirs, '-' for stdin) with an env's settings or safe defaults.

    Whose settings apply:
    * `--env ENV`: that environment's (registries, threshold, ...) and the repo's waivers;
    * else a file under `rendered/<env>/` of this repo implies that env (the report says so);
    * else foreign defaults: no environment settings and no repo waivers (unless --waivers);
      files of this repo's rendered/ tree keep the repo's waivers even without their env file.
    A file that does not parse is a blocking DD-INPUT-001 finding; every other file is still gated.
    """
    from .gate.catalogue import input_finding
    from .gate.runner import shard_of
    from .yamlio import read_manifests_tolerant

    root = Path(root)
    started = time.perf_counter()
    docs, problems = read_manifests_tolerant(paths, stdin=stdin)
    if not docs and not problems:
        raise nothing_to_check(paths)
    if timings is not None:
        timings["read"] = time.perf_counter() - started
    # A `# Source:` header only helps where that input file exists: elsewhere (a rendered file
    # copied out of its repo) fixes must name the manifest's own fields.
    docs = [d if d.source is None or (root / d.source.file).is_file() else replace(d, source=None) for d in docs]
    by_env: dict[str | None, list] = {}
    inferred: dict[str, str] = {}
    if env:
        by_env[env] = docs
    else:
        for d in docs:
            implied = implied_env(root, d.file)
            by_env.setdefault(implied, []).append(d)
            if implied:
                inferred[implied] = f"rendered/{implied}/"
    named = [e for e in by_env if e]
    platform = load_project(root) if named else None
    for e in named:
        platform.environment(e)
    waivers = _waivers(root, opts, platform)  # read (and refused if broken) even when they do not apply
    reports = []
    if named:
        contexts = {e: _context(root, e, platform, opts, warn) for e in named}
        complete = [e for e in named if covers_env(root, paths, e)]
        got = gate_envs(root, {e: by_env[e] for e in named}, contexts, platform, opts, waivers, progress,
                        timings=timings, shard=shard, complete_envs=complete)
        reports += [got[e] for e in named]
    if None in by_env or not named:
        foreign = by_env.get(None, [])
        # The repo's own rendered/ tree is not foreign, even for an env with no file here.
        own = bool(foreign) and all(in_rendered(root, d.file) for d in foreign)
        waivers = waivers if opts.waivers_file or own else []
        reports.append(gate_envs(root, {None: foreign}, {None: _context(root, None, None, opts, warn)}, platform,
                                 opts, waivers, progress, timings=timings, shard=shard)[None])
    report = Report.combine(reports) if len(reports) > 1 else reports[0]
    bad = [input_finding(p) for p in problems if shard is None or shard_of(p.file or "", shard[1]) == shard[0]]
    if bad:
        report.findings = sorted(report.findings + bad, key=lambda f: f.sort_key())
        if report.combined_blocking is not None:
            report.combined_blocking += bad
    report.extras["settings"] = {
        "env": env or (", ".join(sorted(named)) if named else None),
        "from": "--env" if env else (f"paths under {', '.join(inferred[e] for e in sorted(inferred))}" if inferred else None),
        "foreign_files": len({d.file for d in by_env.get(None, [])}) if not env else 0,
        "note": ("files outside rendered/<env>/ are checked with default settings: no environment registries or "
                 "thresholds, no repository waivers" if not env and any(not in_rendered(root, d.file) for d in by_env.get(None, []))
                 else ""),
    }
    return report


def _rendered_rel(root: Path, file: str) -> Path | None:
    if file in ("-", "<stdin>"):
        return None
    try:
        rel = Path(os.path.abspath(file)).relative_to(Path(os.path.abspath(root)) / "rendered")
    except ValueError:
        return None
    return rel if len(rel.parts) >= 2 else None


def in_rendered(root: Path, file: str) -> bool:
    """The file lies in this repo's rendered/<env>/ tree."""
    return _rendered_rel(root, file) is not None


def implied_env(root: Path, file: str) -> str | None:
    """The environment a manifest belongs to: `rendered/<env>/...` of this repo, when that env exists."""
    rel = _rendered_rel(root, file)
    if rel is None:
        return None
    name = rel.parts[0]
    return name if (root / "environments" / f"{name}.yaml").is_file() else None


def covers_env(root: Path, paths: Sequence[str], env: str) -> bool:
    """Whether the paths hold the whole committed render of env (rendered/ or rendered/<env>).

    Only such a run can say a waiver of that env matches nothing: a check of one file, or of
    staged files in a pre-commit hook, sees a part of the env and must not judge the rest.
    """
    rendered = (Path(root) / "rendered").resolve()
    for p in paths:
        if p == "-":
            continue
        target = Path(p).resolve()  # paths are as typed, relative to the working directory
        if target in (rendered, rendered / env):
            return True
    return False


def policy_findings_at(root: Path, ref: str | None, env: str | None, opts: GateOptions) -> list:
    """Policy findings for rendered/ at a git ref (None: working tree), each env with its own settings.

    Used for the policy delta of `drydock diff`. Only the Rego gate runs: it is what a reviewer
    needs to compare, and it is fast enough to run twice per diff.
    """
    from .diff import read_rendered
    from .core import Document
    from .yamlio import parse_manifests

    platform = load_project(root)
    by_env: dict[str, list[Document]] = {}
    for path, data in sorted(read_rendered(root, ref, env).items()):
        parts = path.split("/")
        if len(parts) < 4 or parts[1] not in platform.environments:
            continue
        try:
            by_env.setdefault(parts[1], []).extend(parse_manifests(data.decode("utf-8", "replace"), path))
        except InputError:
            continue  # the diff itself reports files that do not parse
    if not by_env:
        return []
    contexts = {e: _context(root, e, platform, opts, lambda m: None) for e in by_env}
    reports = run_gates(by_env, contexts, ("policy",))
    return [f for r in reports.values() for f in r.findings]
