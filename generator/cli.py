"""drydock's command line: parse arguments, call the library API (`generator.api`), print.

Exit codes are named in `generator.exitcodes` and leave through `main()` only: a command
returns normally (OK), raises `Blocked` (BLOCKED, 1) or lets a `DrydockError` through
(ERROR, 2; no traceback unless --debug). Choices (formats, engines) come from the registries.
"""
from __future__ import annotations

import os
import signal
import sys
import traceback
import warnings
from pathlib import Path

import click

from . import api
from .errors import DrydockError, Interrupted
from .exitcodes import ERROR, OK, Blocked, interrupted


class State:
    def __init__(self, verbosity: int, color: str, debug: bool, repo: Path):
        self.verbosity, self.debug, self.repo = verbosity, debug, repo
        self.color = color == "always" or (color == "auto" and sys.stdout.isatty() and not os.environ.get("NO_COLOR"))

    def progress(self, msg: str) -> None:
        # On a terminal, long runs say what they are doing; in CI logs only with -v.
        if self.verbosity > 0 or (self.verbosity == 0 and sys.stderr.isatty()):
            click.echo(f"drydock: {msg}", err=True)

    def info(self, msg: str) -> None:
        if self.verbosity >= 0:
            click.echo(msg, err=True)

    def timings(self, phases: dict[str, float]) -> None:
        """-v: one line with the seconds each phase took."""
        if self.verbosity > 0 and phases:
            click.echo("drydock: timings: " + ", ".join(f"{k} {v:.2f}s" for k, v in phases.items()), err=True)

    def warn(self, msg: str) -> None:
        if self.verbosity >= 0:
            click.echo(f"warning: {msg}", err=True)


def _print_error(exc: DrydockError) -> None:
    for p in exc.problems:
        click.echo(f"error: {p.render()}", err=True)
        if p.hint:
            click.echo(f"  fix: {p.hint}", err=True)
    if len(exc.problems) > 1:
        click.echo(f"{len(exc.problems)} errors", err=True)


GLOBAL_FLAGS = {"-v", "-vv", "-vvv", "--verbose", "-q", "--quiet", "--debug"}


def _hoist_global_flags(argv: list[str]) -> list[str]:
    """Let -v/-q/--debug/--color stand anywhere (`drydock synth --all -v`), as users type them."""
    if "--" in argv:
        return argv
    flags, rest, i = [], [], 0
    while i < len(argv):
        a = argv[i]
        if a in GLOBAL_FLAGS or a.startswith("--color="):
            flags.append(a)
        elif a == "--color" and i + 1 < len(argv):
            flags += argv[i:i + 2]
            i += 1
        else:
            rest.append(a)
        i += 1
    return flags + rest


def _warning_printer(quiet: bool):
    """Library warnings (e.g. a deprecated input apiVersion) in the CLI's own `warning:` form."""
    def show(message, category, filename, lineno, file=None, line=None) -> None:
        if not quiet:
            click.echo(f"warning: {message}", err=True)
    return show


def main(argv: list[str] | None = None) -> None:
    argv = _hoist_global_flags(list(sys.argv[1:] if argv is None else argv))
    debug = "--debug" in argv
    warnings.showwarning = _warning_printer(quiet="-q" in argv or "--quiet" in argv)
    try:
        rc = cli.main(args=argv, prog_name="drydock", standalone_mode=False)
    except Blocked as exc:
        if exc.message:
            click.echo(f"error: {exc.message}", err=True)
        if exc.fix:
            click.echo(f"  fix: {exc.fix}", err=True)
        rc = exc.exit_code
    except click.exceptions.Abort:
        api.stop_work()
        click.echo("error: interrupted", err=True)
        rc = interrupted(signal.SIGINT)
    except Interrupted as exc:  # promote undid its edit before getting here
        api.stop_work()
        click.echo(f"error: interrupted by signal {exc.signum}; the edit in progress was undone", err=True)
        click.echo("  fix: run the command again", err=True)
        rc = interrupted(exc.signum)
    except click.exceptions.NoArgsIsHelpError as exc:
        exc.show()
        rc = ERROR
    except click.ClickException as exc:
        # Same shape as every other exit 2: `error: <what>` and a `fix:` line.
        ctx = getattr(exc, "ctx", None)
        if ctx is not None:
            click.echo(ctx.get_usage(), err=True)
        click.echo(f"error: {exc.format_message()}", err=True)
        click.echo(f"  fix: see `{ctx.command_path if ctx else 'drydock'} --help`", err=True)
        rc = ERROR
    except DrydockError as exc:
        if debug:
            traceback.print_exc()
        _print_error(exc)
        rc = exc.exit_code
    except Exception as exc:  # a bug in drydock: say so briefly, details with --debug
        if debug:
            traceback.print_exc()
        click.echo(f"error: internal error: {type(exc).__name__}: {exc}", err=True)
        click.echo("  fix: this is a drydock bug; rerun with --debug and report the traceback", err=True)
        rc = ERROR
    sys.exit(rc or OK)  # the one exit of the command line


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option("-v", "--verbose", count=True, help="Show progress (repeat for more).")
@click.option("-q", "--quiet", is_flag=True, help="Only errors and the report.")
@click.option("--color", type=click.Choice(["auto", "always", "never"]), default="auto", show_default=True)
@click.option("--debug", is_flag=True, help="Show tracebacks (for bug reports).")
@click.option("-C", "--repo", type=click.Path(file_okay=False, path_type=Path), default=".",
              help="Run as if started in this folder (the repo with services/ and environments/).")
@click.version_option(package_name="drydock")
@click.pass_context
def cli(ctx: click.Context, verbose: int, quiet: bool, color: str, debug: bool, repo: Path) -> None:
    """drydock renders Kubernetes manifests from services/ and environments/ with cdk8s,
    gates them (JSON Schema, Rego policies, Trivy) and writes rendered/<env>/ only when
    every gate passes.

    \b
    Typical loop:
      drydock synth --env dev --no-gate   # fast inner loop
      drydock synth --all                 # render + gate + write every env
      drydock synth --all --check         # CI: is rendered/ up to date?
      drydock check rendered/prod --env prod
      drydock diff --base origin/main     # PR review

    Exit codes: 0 ok, 1 gate blocked or render stale, 2 bad input or engine error.
    """
    ctx.obj = State(-1 if quiet else verbose, color, debug, repo)


def gate_options(f):
    f = click.option("--engines", default=",".join(api.default_engines()), show_default=True,
                     help=f"Comma-separated gates to run: {', '.join(api.engine_names())}.")(f)
    f = click.option("--charts", type=click.Path(file_okay=False, path_type=Path), default=None,
                     help="Helm chart folder for the platform engine (default: $DRYDOCK_CHARTS, else .drydock/charts).")(f)
    f = click.option("--engine", type=click.Choice(api.rego_backends()), default="regorus", show_default=True,
                     help="Rego engine: embedded regorus, the opa CLI, or an OPA server.")(f)
    f = click.option("--opa-url", metavar="URL", help="OPA server URL for --engine opa-server (e.g. http://127.0.0.1:8181).")(f)
    f = click.option("--policy", "policy_dirs", multiple=True, type=click.Path(exists=True, file_okay=False, path_type=Path),
                     help="Extra policy folder (repeatable); policies/ is always used.")(f)
    f = click.option("--waivers", "waivers_file", type=click.Path(dir_okay=False, path_type=Path),
                     help="Waiver file (default: waivers.yaml and waivers/*.yaml when present).")(f)
    f = click.option("--threshold", type=click.Choice(["LOW", "MEDIUM", "HIGH", "CRITICAL"], case_sensitive=False),
                     help="Block at this severity and above (default: from the environment file; HIGH without one).")(f)
    f = click.option("--no-cache", is_flag=True, help="Do not read or write the result cache.")(f)
    f = click.option("--cache-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
                     help="Result cache folder (default: $XDG_CACHE_HOME/drydock or ~/.cache/drydock).")(f)
    f = click.option("--format", "fmt", type=click.Choice(api.report_formats()), default="text", show_default=True,
                     help="Report format.")(f)
    f = click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
                     help="Write the report to this file instead of stdout.")(f)
    return f


def _gate_opts(state: State, engines: str, engine: str, opa_url: str | None, policy_dirs, waivers_file,
               threshold: str | None, no_cache: bool, cache_dir: Path | None, charts: Path | None = None):
    return api.gate_options(engines, engine=engine, opa_url=opa_url, policy_dirs=policy_dirs,
                            waivers_file=waivers_file, threshold=threshold, cache=not no_cache,
                            cache_dir=cache_dir, charts=charts)


def _emit_report(state: State, report, fmt: str, output: Path | None) -> None:
    text = api.format_report(report, fmt, color=state.color and output is None and fmt == "text")
    if output:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(text, encoding="utf-8")
        state.info(f"report written to {output}")
    elif fmt != "text" or state.verbosity >= 0 or report.blocking():  # -q: silent on success
        click.echo(text, nl=not text.endswith("\n"), color=state.color)  # click strips ANSI on a pipe otherwise


@cli.command()
@click.option("--env", "envs", multiple=True, metavar="ENV", help="Environment to render (repeatable).")
@click.option("--all", "all_envs", is_flag=True, help="Render every environment in environments/.")
@click.option("--check", is_flag=True, help="Do not write: exit 1 if rendered/ differs from a fresh render.")
@click.option("--no-gate", is_flag=True, help="Skip the gates (fast inner loop). Never use in CI.")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), help="Write here instead of rendered/.")
@gate_options
@click.pass_obj
def synth(state: State, envs, all_envs, check, no_gate, out, fmt, output, **gate_kw) -> None:
    """Render, gate, then write rendered/ENV atomically.

    A render that any gate blocks writes nothing (exit 1). --check compares a
    fresh render with the committed tree and lists stale, missing and extra
    files (exit 1 when anything differs).

    \b
    Examples:
      drydock synth --env prod
      drydock synth --all --check
      drydock synth --env dev --no-gate --out /tmp/render
    """
    from .core import Report

    if not envs and not all_envs:
        raise DrydockError("say which environments to render", hint="use --env ENV (repeatable) or --all")
    if envs and all_envs:
        raise DrydockError("--env and --all together are ambiguous", hint="use one of them")
    opts = _gate_opts(state, **gate_kw)
    result = api.synth(state.repo, None if all_envs else list(envs), gate=not no_gate, check=check, out=out,
                       options=opts, progress=state.progress, warn=state.warn)
    for env, names in result.not_deployed.items():
        if names:
            state.info(f"{env}: not deployed (not in environments/{env}.yaml images.versions): {', '.join(names)}")
    state.timings(result.timings)
    if check:
        stale = False
        for env, s in result.staleness.items():
            for label, paths in (("stale", s.stale), ("missing", s.missing), ("extra", s.extra)):
                for p in paths:
                    click.echo(f"{label}: {(out or Path('rendered')) / env / p}")
                    stale = True
        if stale:
            raise Blocked("rendered/ is out of date with services/ and environments/",
                          "run `drydock synth --all` and commit rendered/")
        state.info(f"rendered/ is up to date ({', '.join(result.staleness)})")
        return
    if result.reports:
        _emit_report(state, Report.combine(list(result.reports.values())), fmt, output)
    if result.blocked:
        raise Blocked("the gate blocked the render; nothing was written",
                      "fix the blocking findings above (each says how), or waive one in waivers.yaml")
    files = sum(len(result.rendered[e].files) for e in result.written)
    state.info(f"wrote {files} files for {', '.join(result.written)} to {out or 'rendered'}/")


@cli.command()
@click.argument("paths", nargs=-1)
@click.option("--env", metavar="ENV", help="Use this environment's threshold, registries and rules settings.")
@click.option("--shard", metavar="I/N", help="Gate only shard I of N (apps split deterministically), for CI matrices.")
@gate_options
@click.pass_obj
def check(state: State, paths, env, shard, fmt, output, **gate_kw) -> None:
    """Run the policy, Trivy and schema gates on any manifests.

    PATHS are files, folders (searched for *.yaml/*.yml) or - for stdin;
    default rendered/. Without --env, findings of HIGH and above block.

    \b
    Examples:
      drydock check rendered/prod --env prod
      drydock check deploy.yaml --engines policy --format sarif -o drydock.sarif
      kubectl get deploy -o yaml | drydock check -
      drydock check rendered/ --shard 2/4      # one job of a 4-way CI matrix
    """
    opts = _gate_opts(state, **gate_kw)
    timings: dict[str, float] = {}
    report = api.check(list(paths), state.repo, env=env, options=opts, shard=shard, stdin=sys.stdin,
                       progress=state.progress, warn=state.warn, timings=timings)
    settings = report.extras.get("settings") or {}
    if env is None and settings.get("env"):
        state.info(f"using --env {settings['env']} ({settings['from']})")
    state.timings(timings)
    _emit_report(state, report, fmt, output)
    if report.blocking():
        raise Blocked()


@cli.command()
@click.argument("paths", nargs=-1)
@click.option("--strict-kinds", is_flag=True, help="Kinds without a schema are errors instead of skipped.")
@click.option("--validator", type=click.Choice(["builtin", "kubeconform"]), default="builtin", show_default=True,
              help="kubeconform must be on PATH to use it.")
@click.option("--format", "fmt", type=click.Choice(api.report_formats()), default="text", show_default=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path))
@click.pass_obj
def validate(state: State, paths, strict_kinds, validator, fmt, output) -> None:
    """Validate manifests against the vendored Kubernetes and CRD JSON Schemas,
    and drydock's own inputs (services/, environments/, waivers.yaml) against theirs.

    PATHS default to rendered/. Unknown fields are errors (strict schemas). A file
    whose apiVersion is drydock/v1 is checked as the input its kind names.

    \b
    Examples:
      drydock validate
      drydock validate rendered/prod --strict-kinds
      drydock validate services/cart.yaml environments/dev.yaml waivers.yaml
    """
    result = api.validate(list(paths), state.repo, strict_kinds=strict_kinds, validator=validator, stdin=sys.stdin)
    for item in result.inputs:
        if item.problems:
            _print_error(DrydockError(item.problems))
        else:
            state.info(f"{item.path}: valid {item.kind}")
    if result.report is None:
        if result.failed:
            raise Blocked()
        return
    for s in result.report.skipped:
        state.info(f"skipped: {s}")
    _emit_report(state, result.report, fmt, output)
    if result.failed:
        raise Blocked()
    state.info(f"{result.documents} documents valid")


@cli.command()
@click.option("--policy", "policy_dirs", multiple=True, type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.pass_obj
def rules(state: State, policy_dirs, fmt) -> None:
    """List the rules a report can name: ours (policies/), drydock's built-ins and Trivy's checks.

    Trivy ids that fold into one of ours name it (`-> DD-PSS-001`).
    """
    import json

    items = api.rules(state.repo, policy_dirs)
    if fmt == "json":
        click.echo(json.dumps([r.to_json() for r in items], indent=2))
        return
    width = max((len(r.id) for r in items), default=10)
    for r in items:
        folds = f"  -> {', '.join(r.related)}" if r.origin == "trivy" and r.related else ""
        click.echo(f"{r.id:<{width}}  {r.severity:<8}  {r.title}{folds}")
    counts = {o: sum(1 for r in items if r.origin == o) for o in ("policy", "platform", "drydock", "trivy")}
    state.info(f"{counts['policy']} policy rules, {counts['platform']} platform checks, {counts['drydock']} built-in, "
               f"{counts['trivy']} Trivy checks")


@cli.command()
@click.argument("rule_id")
@click.option("--policy", "policy_dirs", multiple=True, type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.pass_obj
def explain(state: State, rule_id, policy_dirs) -> None:
    """Show one rule's rationale and how to fix what it finds (ours or Trivy's)."""
    r = api.explain(rule_id, state.repo, policy_dirs)
    click.echo(f"{r.id}  {r.severity}  {r.title}\n")
    if r.description:
        click.echo(f"{r.description}\n")
    click.echo(f"Fix: {r.fix}")
    if r.url:
        click.echo(f"See: {r.url}")
    if r.origin == "policy":
        if r.related:
            click.echo(f"Same defect in Trivy: {', '.join(r.related)} (reported once, as {r.id})")
        click.echo(f"Policy: {r.file}")
    elif r.origin == "platform":
        click.echo(f"Check: {r.file}")
    elif r.origin == "trivy":
        if r.related:
            click.echo(f"drydock reports this defect as {', '.join(r.related)}; Trivy's finding is folded into it")
        else:
            click.echo("No drydock rule covers this check: it is reported under its Trivy id")
        click.echo("Source: Trivy's embedded checks (generator/gate/trivy_checks.json)")
    else:
        click.echo("Built into drydock")


@cli.command("test-policies")
@click.option("--policy", "policy_dirs", multiple=True, type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.pass_obj
def test_policies(state: State, policy_dirs) -> None:
    """Run every *_test.rego under the embedded engine (like `opa test`)."""
    results = api.test_policies(state.repo, policy_dirs)
    failed = [r for r in results if not r.passed]
    for r in failed:
        click.echo(f"FAIL {r.package}.{r.name}" + (f": {r.error}" if r.error else ""))
    if failed or state.verbosity >= 0:
        click.echo(f"{len(results) - len(failed)} passed, {len(failed)} failed")
    if failed or not results:
        raise Blocked()


@cli.command()
@click.option("--base", metavar="REF", help="Git ref to compare against (e.g. origin/main). "
              "Without it: HEAD against the working tree, like `git diff`.")
@click.option("--head", metavar="REF", help="Git ref with the change (default: HEAD; needs --base).")
@click.option("--worktree", is_flag=True, help="Compare --base against the working tree (uncommitted changes included).")
@click.option("--env", metavar="ENV", help="Only this environment.")
@click.option("--format", "fmt", type=click.Choice(api.diff_formats()), default="markdown", show_default=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              help="Write here; a long markdown diff is split into FILE, FILE.2, ... (each < 65,536 chars).")
@click.option("--no-policy", is_flag=True, help="Skip the policy delta (findings introduced/resolved).")
@click.option("--render", "render_inputs", is_flag=True,
              help="Render both sides from their services/ and environments/ instead of reading committed rendered/.")
@click.pass_obj
def diff(state: State, base, head, worktree, env, fmt, output, no_policy, render_inputs) -> None:
    """Semantic diff of rendered/ between two git refs, for PR review.

    With no arguments: HEAD against the working tree (uncommitted changes), like `git diff`.

    Resources are compared by identity (apiVersion/kind/namespace/name), not by
    file text. Risky changes (images, replicas, resources, RBAC, NetworkPolicy,
    Ingress/TLS, CRDs, anything in prod) are listed first; secret-like values are
    redacted. Reads git objects only: no checkout, no cluster.

    \b
    Examples:
      drydock diff
      drydock diff --base origin/main
      drydock diff --base HEAD~1 --format text
      drydock diff --base main --worktree --env prod
    """
    from .diff import join_parts, write_parts

    result = api.diff(state.repo, base, head, worktree=worktree, env=env, render=render_inputs,
                      policy=not no_policy, warn=state.warn)
    if result.uncommitted:
        state.warn(f"{len(result.uncommitted)} file(s) with uncommitted changes are not included "
                   f"(e.g. {result.uncommitted[0]}); add --worktree to include them")
    parts = api.format_diff(result, fmt)
    if output:
        write_parts(parts, output)
        state.info(f"diff written to {output}" + (f" in {len(parts)} parts" if len(parts) > 1 else ""))
    else:
        click.echo(join_parts(parts), nl=False)


@cli.command()
@click.option("--from", "src", required=True, metavar="ENV", help="Environment to copy image versions from.")
@click.option("--to", "dst", required=True, metavar="ENV", help="Environment to promote into.")
@click.option("--service", "services", multiple=True, metavar="NAME", help="Only this service (repeatable).")
@click.option("--digest", "digests", multiple=True, metavar="SVC=sha256:HEX",
              help="Image digest for a service going into a digest-pinned env (repeatable). Without it, "
                   "crane or skopeo on PATH looks it up in the registry.")
@gate_options
@click.pass_obj
def promote(state: State, src, dst, services, digests, fmt, output, **gate_kw) -> None:
    """Copy image versions (tag or digest) from one environment to the next, re-render, gate.

    Refuses when the source env's committed render is stale or gated out. Edits only
    environments/TO.yaml (in place, comments kept) and rendered/TO/; if the gate blocks
    the new render, or the run is interrupted (Ctrl-C, SIGTERM), the environment file is
    restored and nothing is written. A promotion cut short by SIGKILL is repaired by the next run.

    \b
    Examples:
      drydock promote --from staging --to prod
      drydock promote --from dev --to staging --service order-service --digest order-service=sha256:<64 hex>
    """
    result = api.promote(state.repo, src, dst, list(services) or None, options=_gate_opts(state, **gate_kw),
                         digests=list(digests), progress=state.progress, warn=state.warn)
    if result.report is not None and (result.blocked or result.report.findings):
        _emit_report(state, result.report, fmt, output)
    if result.blocked:
        raise Blocked(f"the gate blocked the promoted render; environments/{dst}.yaml restored, nothing written",
                      "fix the blocking findings above, then promote again")
    if not result.changes:
        state.info(f"nothing to promote: {dst} already runs {src}'s versions")
        return
    for c in result.changes if state.verbosity >= 0 else ():
        click.echo(f"{c.service}: {c.old or '(none)'} -> {c.new} ({result.env_file}:{c.line})")
    state.info(f"rendered/{dst} updated; review with: drydock diff --base HEAD --worktree --env {dst}")


@cli.group()
def new() -> None:
    """Scaffold new inputs."""


def _csv(values) -> list[str]:
    return [v.strip() for item in values for v in item.split(",") if v.strip()]


@new.command("service")
@click.argument("name")
@click.option("--component", type=click.Choice(["backend", "frontend", "admin"]), default="backend", show_default=True)
@click.option("--port", type=int, default=8080, show_default=True, help="Container port (1024-65535).")
@click.option("--depends-on", "depends_on", multiple=True, metavar="SVC,...", help="Services it calls.")
@click.option("--datastore", "datastores", multiple=True, metavar="postgresql|mongodb|redis",
              help="Datastores it uses (repeatable or comma-separated).")
@click.option("--queue", "queues", multiple=True, metavar="rabbitmq", help="Queues it uses.")
@click.option("--team", metavar="TEAM", help="Owning team (routes its alerts).")
@click.option("--env", default="dev", show_default=True, help="The one environment it is added to.")
@click.pass_obj
def new_service(state: State, name, component, port, depends_on, datastores, queues, team, env) -> None:
    """Write a commented services/NAME.yaml and deploy it to dev only (version 0.1.0).

    \b
    Example:
      drydock new service payment-service --depends-on order-service --datastore postgresql
    """
    made = api.new_service(state.repo, name, component=component, port=port, depends_on=_csv(depends_on),
                   datastores=_csv(datastores), queues=_csv(queues), team=team, env=env)
    state.info(f"wrote services/{made.name}.yaml; added {made.name}: \"0.1.0\" to environments/{made.env}.yaml "
               "(no other environment deploys it yet)")
    if state.verbosity >= 0:
        click.echo("next:")
        for line in made.next_commands:
            click.echo(f"  {line}")


@cli.group()
def charts() -> None:
    """The Helm chart folder the platform gate expands add-ons from (docs/helm.md)."""


_CHARTS_OPT = click.option("--charts", "charts_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
                           help="Chart folder (default: $DRYDOCK_CHARTS, else .drydock/charts).")


@charts.command("pull")
@_CHARTS_OPT
@click.pass_obj
def charts_pull(state: State, charts_dir) -> None:
    """helm pull every chart an environment pins into the chart folder, and index it.

    Needs the network (GitHub Actions has it); offline it exits 2 and says which chart.
    """
    folder, pulled = api.pull_charts(state.repo, charts_dir, progress=state.progress)
    for ref in pulled:
        click.echo(f"pulled {ref.display()}")
    state.info(f"{folder.root}: every pinned chart is present" + ("" if pulled else " (nothing to pull)"))


@charts.command("list")
@_CHARTS_OPT
@click.pass_obj
def charts_list(state: State, charts_dir) -> None:
    """Every chart the render pins, and whether the chart folder has it (exit 1 if one is missing)."""
    folder, pins = api.chart_pins(state.repo, charts_dir)
    for pin in pins:
        where = pin.folder.relative_to(folder.root).as_posix() if pin.folder else "MISSING"
        click.echo(f"{pin.ref.chart:<26} {pin.ref.version:<10} {where:<34} {pin.ref.repo}  ({len(pin.apps)} apps)")
    if any(p.folder is None for p in pins):
        raise Blocked(f"charts missing from {folder.root}", "run `drydock charts pull`, or use --charts / DRYDOCK_CHARTS")


@cli.group()
def cache() -> None:
    """Manage the gate result cache (~/.cache/drydock)."""


_CACHE_DIR = click.option("--cache-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
                          help="The cache folder (default: ~/.cache/drydock).")


@cache.command("clear")
@_CACHE_DIR
@click.pass_obj
def cache_clear(state: State, cache_dir) -> None:
    """Delete the cache. Always safe: the next run recomputes everything."""
    path, removed = api.clear_cache(cache_dir)
    state.info(f"removed {path}" if removed else f"{path} did not exist")


@cache.command("prune")
@_CACHE_DIR
@click.option("--max-size", default=None, metavar="SIZE", help="Keep at most this much: bytes, or 500M, 2G (default 1G).")
@click.option("--max-age", type=float, default=None, metavar="DAYS", help="Drop entries unused for this many days (default 30).")
@click.pass_obj
def cache_prune(state: State, cache_dir, max_size, max_age) -> None:
    """Drop entries unused for --max-age days, then the least recently used until the rest fit
    in --max-size. A gated run does this with the defaults once a day.

    \b
      drydock cache prune                  # the defaults: 30 days, 1G
      drydock cache prune --max-size 200M  # a small CI cache
    """
    path, removed, freed, kept = api.prune_cache(cache_dir, max_size=max_size, max_days=max_age)
    state.info(f"{path}: removed {removed} entries ({freed / 2**20:.1f} MiB); {kept / 2**20:.1f} MiB kept")


if __name__ == "__main__":
    main()
