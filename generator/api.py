"""drydock's public library API: what the command line calls, for scripts and tests too.

Every function takes the repository folder (`root`, the one with services/ and
environments/), returns a value and raises `DrydockError` (exit 2 material) on bad input
or an engine that cannot run. None of them prints or exits: `progress` and `warn`
callbacks receive what a command line would show. `generator/__init__.py` re-exports
these names lazily, so `import generator` stays cheap.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Callable, Sequence

from .core import Report, Severity
from .errors import DrydockError, Problem

Say = Callable[[str], None]


def _quiet(msg: str) -> None:
    pass


def engine_names() -> tuple[str, ...]:
    """Every gate `--engines` accepts, in run order (from the engine registry)."""
    from .gate.engines import ALL_ENGINES

    return ALL_ENGINES


def default_engines() -> tuple[str, ...]:
    """The gates that run when none are named."""
    from .gate.engines import DEFAULT_ENGINES

    return DEFAULT_ENGINES


def rego_backends() -> tuple[str, ...]:
    """The Rego evaluators `--engine` accepts (embedded regorus, the opa CLI, an OPA server)."""
    from .gate.engines.rego import BACKENDS

    return BACKENDS


def report_formats() -> tuple[str, ...]:
    """The report formats (`--format`), one per module of generator/gate/reporters/."""
    from .gate.reporters import FORMATS

    return FORMATS


def diff_formats() -> tuple[str, ...]:
    """The views `drydock diff --format` offers."""
    from .diff.output import FORMATS

    return FORMATS


def gate_options(engines: str | Sequence[str] | None = None, *, engine: str = "regorus", opa_url: str | None = None,
                 policy_dirs: Sequence[Path] = (), waivers_file: Path | None = None,
                 threshold: str | Severity | None = None, cache: bool = True, cache_dir: Path | None = None,
                 charts: Path | None = None):
    """Checked gate settings for `synth`, `check` and `promote` (a `pipeline.GateOptions`).

    engines: names from `engine_names()`, as a sequence or a comma-separated string; None: the defaults.
    cache=False: no result cache; cache_dir: the cache folder (default ~/.cache/drydock).
    Raises DrydockError for an unknown engine, or opa-server without opa_url.
    """
    from .gate.cache import default_cache_dir
    from .pipeline import GateOptions

    known = engine_names()
    if engines is None:
        chosen = default_engines()
    else:
        parts = engines.split(",") if isinstance(engines, str) else list(engines)
        chosen = tuple(e.strip() for e in parts if e.strip())
    unknown = [e for e in chosen if e not in known]
    if unknown or not chosen:
        raise DrydockError(f"unknown engine(s) in --engines: {', '.join(unknown) or '(none)'}",
                           hint=f"use a comma-separated subset of: {', '.join(known)}")
    if engine not in rego_backends():
        raise DrydockError(f"unknown Rego engine {engine!r}", hint=f"use one of: {', '.join(rego_backends())}")
    if engine == "opa-server" and not opa_url:
        raise DrydockError("--engine opa-server needs --opa-url", hint="e.g. --opa-url http://127.0.0.1:8181")
    if isinstance(threshold, str):
        threshold = Severity.parse(threshold)
    return GateOptions(engines=chosen, engine=engine, opa_url=opa_url, policy_dirs=tuple(policy_dirs),
                       waivers_file=waivers_file, cache_dir=(cache_dir or default_cache_dir()) if cache else None,
                       charts=charts, threshold=threshold)


def synth(root: Path | str = ".", envs: Sequence[str] | None = None, *, gate: bool = True, check: bool = False,
          out: Path | None = None, options=None, progress: Say = _quiet, warn: Say = _quiet):
    """Render `envs` (None: every environment), gate them and write rendered/<env>/ atomically.

    check=True compares a fresh render with the tree on disk instead of writing
    (`result.staleness[env].up_to_date`). A render any gate blocks writes nothing
    (`result.blocked`; the findings are in `result.reports`). Returns a `pipeline.SynthResult`.
    """
    from . import pipeline  # looked up on each call: tests stand doubles in for pipeline.synth

    return pipeline.synth(Path(root), None if envs is None else list(envs), gate=gate, check=check, out=out,
                          opts=options or gate_options(), progress=progress, warn=warn)


def parse_shard(text: str) -> tuple[int, int]:
    """`I/N` -> (i, n) with 1 <= i <= n; DrydockError otherwise."""
    from .gate.runner import parse_shard as parse

    return parse(text)


def check(paths: Sequence[str] | str | None = None, root: Path | str = ".", *, env: str | None = None,
          options=None, shard: str | tuple[int, int] | None = None, stdin: IO[str] | None = None,
          progress: Say = _quiet, warn: Say = _quiet, timings: dict[str, float] | None = None) -> Report:
    """Gate any manifests (files, folders, `-` for stdin; default `root/rendered`) and return the `Report`.

    env: whose settings apply (threshold, registries, waivers); None infers it from
    `rendered/<env>/` paths, else safe defaults. `report.blocking()` is what makes exit 1;
    `report.extras["settings"]` says which settings applied. shard: "i/n" for one CI matrix job.
    """
    from .pipeline import check_paths

    root = Path(root)
    paths = [paths] if isinstance(paths, str) else list(paths or [])
    if isinstance(shard, str):
        shard = parse_shard(shard)
    return check_paths(root, paths or [str(root / "rendered")], env, options or gate_options(),
                       progress=progress, warn=warn, stdin=stdin, shard=shard, timings=timings)


@dataclass
class InputCheck:
    """One drydock input file (services/, environments/, waivers.yaml) checked against its schema."""

    path: str
    kind: str | None
    problems: list[Problem]

    @property
    def ok(self) -> bool:
        return not self.problems


@dataclass
class ValidateResult:
    inputs: list[InputCheck] = field(default_factory=list)
    report: Report | None = None  # None when only input files were named
    documents: int = 0  # manifests validated

    @property
    def failed(self) -> bool:
        return any(not i.ok for i in self.inputs) or bool(self.report and self.report.findings)


def validate(paths: Sequence[str] | str | None = None, root: Path | str = ".", *, strict_kinds: bool = False,
             validator: str = "builtin", stdin: IO[str] | None = None) -> ValidateResult:
    """Schema-check manifests (default `root/rendered`) and drydock's own input files.

    A path that is one of the repo's inputs (apiVersion drydock/v1) is checked as the
    input its kind names; everything else against the vendored Kubernetes and CRD
    schemas (unknown fields are errors). `result.failed` is what makes exit 1.
    """
    from .gate.engines.schema import validate_paths
    from .model.validate import is_input_file, validate_input

    root = Path(root)
    paths = [paths] if isinstance(paths, str) else list(paths or [])
    result = ValidateResult()
    inputs = [p for p in paths if p != "-" and is_input_file(Path(p), root)]
    for p in inputs:
        kind, problems = validate_input(Path(p), root)
        result.inputs.append(InputCheck(p, kind, list(problems)))
    rest = [p for p in paths if p not in inputs]
    if inputs and not rest:
        return result
    findings, skipped, count = validate_paths(rest or [str(root / "rendered")], strict_kinds=strict_kinds,
                                              validator=validator, stdin=stdin)
    if not count and not findings:
        from .pipeline import nothing_to_check

        raise nothing_to_check(rest or [str(root / "rendered")])
    result.report = Report(findings, Severity.LOW, count, skipped=list(skipped))
    result.documents = count
    return result


def diff(root: Path | str = ".", base: str | None = None, head: str | None = None, *, worktree: bool = False,
         env: str | None = None, render: bool = False, policy: bool = True, warn: Say = _quiet):
    """Semantic diff of rendered/ between git refs (no refs: HEAD against the working tree).

    render=True renders both sides from their inputs instead of reading committed rendered/.
    policy=True adds the policy delta (findings introduced and resolved); if the policy
    gate cannot run, `warn` is told and the diff comes back without it. Returns a
    `diff.DiffResult`; `generator.diff.render_diff(result, fmt)` turns it into text.
    """
    from .diff import diff_refs, diff_renders, set_policy_delta
    from .pipeline import GateOptions, policy_findings_at

    root = Path(root)
    result = (diff_renders if render else diff_refs)(root, base, head, worktree=worktree, env=env)
    if policy and not render and result.changes:
        opts = GateOptions(engines=("policy",))
        try:
            before = policy_findings_at(root, result.base, env, opts)
            after = policy_findings_at(root, None if result.head_sha is None else result.head, env, opts)
            set_policy_delta(result, before, after)
        except DrydockError as exc:
            warn(f"policy delta skipped: {exc.problems[0].render()}")
    return result


def promote(root: Path | str = ".", src: str = "", dst: str = "", services: Sequence[str] | None = None, *,
            options=None, digests: Sequence[str] | dict[str, str] | None = None,
            progress: Say = _quiet, warn: Say = _quiet):
    """Copy image versions from environment `src` to `dst`, re-render and gate `dst`, write it.

    digests: {service: "sha256:<hex>"} or `SVC=sha256:<hex>` strings, for a digest-pinned `dst`.
    Returns a `promote.PromoteResult`; `result.blocked` means the gate refused the new render
    and environments/<dst>.yaml was restored.
    """
    from .promote import parse_digests, promote as run

    if digests is not None and not isinstance(digests, dict):
        digests = parse_digests(list(digests))
    return run(Path(root), src, dst, list(services) if services else None, opts=options or gate_options(),
               digests=digests or {}, progress=progress, warn=warn)


def policy_dirs(root: Path | str = ".", extra: Sequence[Path] = ()) -> tuple[Path, ...]:
    """The policy folders a repo uses: its policies/ (else drydock's bundled ones) plus `extra`."""
    from .pipeline import repo_policy_dirs

    return repo_policy_dirs(Path(root), extra)


def rules(root: Path | str = ".", extra_policy_dirs: Sequence[Path] = ()):
    """Every rule a report can name: the repo's Rego rules, the platform checks, built-ins and Trivy's.

    Returns `gate.catalogue.RuleInfo`s sorted by id; `origin` says whose each is.
    """
    from .gate.catalogue import all_rules

    return all_rules(policy_dirs(root, extra_policy_dirs))


def explain(rule_id: str, root: Path | str = ".", extra_policy_dirs: Sequence[Path] = ()):
    """One rule's `RuleInfo` (rationale, fix, related Trivy ids); DrydockError naming close ids if unknown."""
    from .gate.catalogue import find_rule

    found, close = find_rule(rule_id, policy_dirs(root, extra_policy_dirs))
    if found is None:
        raise DrydockError(f"unknown rule id '{rule_id}'",
                           hint=f"did you mean {', '.join(close)}?" if close else "run `drydock rules` to list them")
    return found


def test_policies(root: Path | str = ".", extra_policy_dirs: Sequence[Path] = ()):
    """Run every *_test.rego under the embedded engine; a list of `TestResult` (`.passed`)."""
    from .gate.policy_tests import run_policy_tests

    return run_policy_tests(policy_dirs(root, extra_policy_dirs))


test_policies.__test__ = False  # a library function, not a pytest test


def new_service(root: Path | str, name: str, **kw):
    """Write a commented services/NAME.yaml and deploy it to one env (see `scaffold.new_service`)."""
    from .scaffold import new_service as run

    return run(Path(root), name, **kw)


def chart_pins(root: Path | str = ".", charts: Path | None = None):
    """(chart folder, every add-on chart the render pins with where it is, or None when missing)."""
    from .pipeline import chart_pins as pins

    return pins(Path(root), charts)


def pull_charts(root: Path | str = ".", charts: Path | None = None, progress: Say = _quiet):
    """helm pull every pinned chart missing from the chart folder; returns (folder, pulled refs)."""
    from .pipeline import pull_charts as pull

    return pull(Path(root), charts, progress=progress)


def clear_cache(cache_dir: Path | None = None) -> tuple[Path, bool]:
    """Delete the gate result cache; (folder, whether there was one). Refuses a non-cache folder."""
    from .gate.cache import clear_cache_dir, default_cache_dir

    path = Path(cache_dir) if cache_dir else default_cache_dir()
    try:
        return path, clear_cache_dir(path)
    except ValueError as exc:
        raise DrydockError(str(exc), file=str(path), hint="point --cache-dir at a drydock cache folder") from None


def prune_cache(cache_dir: Path | None = None, *, max_size: int | str | None = None,
                max_days: float | None = None) -> tuple[Path, int, int, int]:
    """Shrink the cache: entries unused for `max_days` go, then the least recently used until
    the rest fit in `max_size` (bytes, or "500M" / "2G"; defaults: 30 days, 1G; a gated run
    does this once a day). Returns (folder, files removed, bytes freed, bytes kept)."""
    from .gate.cache import DEFAULT_MAX_BYTES, DEFAULT_MAX_DAYS, default_cache_dir, prune_cache_dir

    path = Path(cache_dir) if cache_dir else default_cache_dir()
    size = DEFAULT_MAX_BYTES if max_size is None else _bytes(max_size)
    if max_days is not None and not max_days >= 0:
        raise DrydockError(f"--max-age {max_days}: not a number of days", hint="e.g. --max-age 30 (0 keeps nothing)")
    removed, freed, kept = prune_cache_dir(path, size, DEFAULT_MAX_DAYS if max_days is None else max_days)
    return path, removed, freed, kept


def _bytes(size: int | str) -> int:
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([KMG]?)i?B?\s*", str(size), re.I)
    if not m:
        raise DrydockError(f"--max-size {size!r}: not a size", hint="bytes, or a number with K, M or G (e.g. 500M, 2G)")
    return int(float(m.group(1)) * 1024 ** " KMG".index(m.group(2).upper() or " "))


def stop_work() -> None:
    """For a caller about to exit after an interruption: kill the trivy and helm processes still
    running (each in its own session, so Ctrl-C does not reach them, and exit would wait for
    them) and make jsii's exit hook quiet (Ctrl-C killed its Node too)."""
    import sys

    from .children import stop_all

    stop_all(final=True)
    if "jsii" in sys.modules:
        from .cdk8s_runtime import quiet_exit_hook

        quiet_exit_hook()


def format_report(report: Report, fmt: str = "text", *, color: bool = False) -> str:
    """A report as text in one of `report_formats()` (json is the stable contract; the rest are views of it)."""
    from .gate.reporters import render_report

    return render_report(report, fmt, color=color)


def format_diff(result, fmt: str = "markdown") -> list[str]:
    """A diff as a list of parts in one of `diff_formats()` (long markdown is split below GitHub's limit)."""
    from .diff import render_diff

    return render_diff(result, fmt)
