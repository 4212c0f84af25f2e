"""A platform engineer's first hour, run as written: the README's everyday commands on the demo,
the new-service -> dev -> PR diff -> staging path, and the CLI conveniences the README promises."""
from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from generator.pipeline import implied_env

from .conftest import REPO, copy_inputs, run_drydock

BIN = Path(sys.executable).parent  # the venv's bin: where `pip install -e .` put `drydock`
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def _git(root: Path, *args: str) -> str:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com"}
    return subprocess.run(["git", *args], cwd=root, check=True, capture_output=True, text=True, env=env).stdout


def _git_repo(tmp_path: Path) -> Path:
    root = copy_inputs(tmp_path / "repo", with_rendered=True)
    _git(root, "init", "-q", "-b", "main")
    _git(root, "add", "-A")
    _git(root, "commit", "-qm", "demo")
    _git(root, "update-ref", "refs/remotes/origin/main", "HEAD")  # as after a clone
    return root


def _shell(cmd: str, cwd: Path) -> subprocess.CompletedProcess:
    """One README line as a user types it after `. .venv/bin/activate` (the venv's bin first on PATH)."""
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    return subprocess.run(shlex.split(cmd), cwd=cwd, capture_output=True, text=True, env=env, timeout=600)


def readme_everyday_commands() -> list[str]:
    text = (REPO / "README.md").read_text()
    section = text.split("## Everyday commands", 1)[1]
    block = re.search(r"```sh\n(.*?)```", section, re.S).group(1)
    commands = []
    for line in block.splitlines():
        line = re.sub(r"\s+#.*$", "", line).strip()
        if line.startswith("drydock"):
            commands += [c.strip() for c in line.split(" / ")]  # `drydock rules / drydock explain ID`
        else:
            assert line in ("", ". .venv/bin/activate"), f"unexpected line in the README block: {line}"
    return commands


def test_the_readme_block_says_how_to_get_drydock_on_path():
    block = (REPO / "README.md").read_text().split("## Everyday commands", 1)[1].split("```", 2)
    assert ". .venv/bin/activate" in block[1] and ".venv/bin/drydock" in block[0]
    assert len(readme_everyday_commands()) >= 8


@pytest.mark.slow
def test_every_readme_everyday_command_exits_0_on_the_demo(tmp_path: Path):
    root = _git_repo(tmp_path)
    failures = []
    for cmd in readme_everyday_commands():  # in order, as a user would; all failures reported at once
        r = _shell(cmd, root)
        if r.returncode != 0 or "Traceback" in r.stderr:
            failures.append(f"$ {cmd}\nexit {r.returncode}\n--- stdout\n{r.stdout[-1500:]}\n--- stderr\n{r.stderr[-1500:]}")
    assert not failures, "\n\n".join(failures)


@pytest.mark.slow
def test_new_service_to_dev_to_diff_to_staging_with_prod_untouched(tmp_path: Path):
    root = _git_repo(tmp_path)
    prod_before = {p: p.read_bytes() for p in sorted((root / "rendered" / "prod").rglob("*")) if p.is_file()}
    prod_env = (root / "environments" / "prod.yaml").read_bytes()

    # 1. scaffold
    r = run_drydock("new", "service", "payment-service", "--depends-on", "order-service", "--datastore", "postgresql",
                    cwd=root)
    assert r.code == 0, r.err

    # 2. synth --all: dev only, and its dependencies' NetworkPolicies admit it
    r = run_drydock("synth", "--all", cwd=root)
    assert r.code == 0, r.out + r.err
    assert "staging: not deployed (not in environments/staging.yaml images.versions): payment-service" in r.err
    assert "prod: not deployed (not in environments/prod.yaml images.versions): payment-service" in r.err
    assert (root / "rendered/dev/payment-service/deployment-payment-service.yaml").exists()
    assert not (root / "rendered/staging/payment-service").exists() and not (root / "rendered/prod/payment-service").exists()
    for dep in ("order-service", "postgresql"):
        policy = yaml.safe_load((root / f"rendered/dev/{dep}/networkpolicy-{dep}.yaml").read_text())
        peers = [p.get("podSelector", {}).get("matchLabels", {}).get("app.kubernetes.io/name")
                 for rule in policy["spec"]["ingress"] for p in rule.get("from", [])]
        assert "payment-service" in peers, (dep, peers)

    # 3. the PR diff shows it
    r = run_drydock("diff", "--base", "HEAD", "--worktree", "--format", "text", "--no-policy", cwd=root)
    assert r.code == 0, r.err
    assert "payment-service" in r.out and "Deployment" in r.out
    _git(root, "add", "-A")
    _git(root, "commit", "-qm", "add payment-service to dev")

    # 4. promote to staging with a digest; staging renders it
    digest = "sha256:" + "e" * 64
    r = run_drydock("promote", "--from", "dev", "--to", "staging", "--service", "payment-service",
                    "--digest", f"payment-service={digest}", cwd=root)
    assert r.code == 0, r.out + r.err
    assert f'payment-service: "0.1.0@{digest}"' in (root / "environments/staging.yaml").read_text()
    deployment = (root / "rendered/staging/payment-service/deployment-payment-service.yaml").read_text()
    assert f"payment-service:0.1.0@{digest}" in deployment

    # 5. prod untouched
    assert (root / "environments/prod.yaml").read_bytes() == prod_env
    assert {p: p.read_bytes() for p in sorted((root / "rendered" / "prod").rglob("*")) if p.is_file()} == prod_before
    r = run_drydock("synth", "--all", "--check", cwd=root)
    assert r.code == 0, r.out + r.err


# -- CLI conveniences ---------------------------------------------------------------------
@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Path:
    return copy_inputs(tmp_path_factory.mktemp("cli") / "repo", with_rendered=True)


def test_quiet_prints_nothing_on_success(demo: Path):
    for args in (["synth", "--env", "dev", "--no-gate", "--out", str(demo.parent / "q")],
                 ["check", "rendered/dev/order-service", "--engines", "schema"],
                 ["validate", "rendered/dev/order-service"], ["test-policies"]):
        r = run_drydock(*args, "-q", cwd=demo)
        assert (r.code, r.out, r.err) == (0, "", ""), (args, r)


def test_verbose_prints_phase_timings(demo: Path):
    # A fresh cache: with the user's, an earlier identical run answers and no schema phase runs.
    cache = ("--cache-dir", str(demo.parent / "timings-cache"))
    r = run_drydock("synth", "--env", "dev", "--engines", "schema", "--out", str(demo.parent / "v"), "-v", *cache, cwd=demo)
    assert r.code == 0, r.err
    line = next(l for l in r.err.splitlines() if "timings:" in l)
    assert re.search(r"render \d+\.\d\ds", line) and re.search(r"schema \d+\.\d\ds", line) and "write" in line
    r = run_drydock("-v", "check", "rendered/dev/order-service", "--engines", "schema", *cache, cwd=demo)
    assert re.search(r"timings: read \d+\.\d\ds, verdict \d+\.\d\ds, schema \d+\.\d\ds", r.err), r.err


@pytest.mark.parametrize("flag,colored", [(["--color", "always"], True), (["--color=always"], True),
                                          (["--color", "never"], False), ([], False)])
def test_color_flag_works_when_piped(demo: Path, flag, colored):
    # A file with a finding that blocks, so the text report has severities to paint.
    bad = demo.parent / "bad.yaml"
    bad.write_text("apiVersion: v1\nkind: Pod\nmetadata:\n  name: x\nspec:\n  containers:\n"
                   "  - name: x\n    image: nginx\n    securityContext:\n      privileged: true\n")
    r = run_drydock("check", str(bad), "--engines", "policy", *flag, cwd=demo)  # stdout is a pipe here
    assert r.code == 1
    assert bool(ANSI.search(r.out)) == colored, r.out[:400]


def test_check_infers_the_env_from_rendered_env(demo: Path):
    r = run_drydock("check", "rendered/prod/order-service", "--engines", "schema", "--format", "json", cwd=demo)
    assert "using --env prod" in r.err
    assert run_drydock("check", "rendered/prod/order-service", "--engines", "schema", "-q", cwd=demo).err == ""


@pytest.mark.parametrize("paths,expected", [
    (["rendered/prod/frontend/deployment-frontend.yaml"], "prod"),
    (["rendered/prod/order-service/rollout-order-service.yaml", "rendered/prod/frontend/x.yaml"], "prod"),
    (["./rendered/dev/x/y.yaml", "rendered/dev/x.yaml"], "dev"),
    (["rendered/x.yaml"], None),
    (["deploy.yaml"], None),
    (["-"], None),
    (["rendered/qa/x.yaml"], None),  # no environments/qa.yaml
])
def test_a_path_under_rendered_env_implies_that_env(paths, expected, monkeypatch):
    monkeypatch.chdir(REPO)
    assert {implied_env(REPO, p) for p in paths} == ({expected} if paths else set())


def test_shell_completion_is_click_s(demo: Path):
    env = {**os.environ, "_DRYDOCK_COMPLETE": "bash_source"}
    r = subprocess.run([str(BIN / "drydock")], cwd=demo, capture_output=True, text=True, env=env)
    assert r.returncode == 0 and "_drydock_completion" in r.stdout
    env = {**os.environ, "_DRYDOCK_COMPLETE": "bash_complete", "COMP_WORDS": "drydock pro", "COMP_CWORD": "1"}
    r = subprocess.run([str(BIN / "drydock")], cwd=demo, capture_output=True, text=True, env=env)
    assert "promote" in r.stdout
