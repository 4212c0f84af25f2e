"""Render worker processes (generator/render_worker.py): same bytes as an in-process render,
and a worker that fails, crashes or is killed is exit 2 with a clear message, never a pass."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from generator.errors import EngineError, InputError
from generator.model import load_project
from generator.render import render_env
from generator.render_worker import ENV_VAR, isolate, render_envs, render_in_worker

from .conftest import REPO, copy_inputs, tree_bytes
from .test_render_fixes import with_env


@pytest.fixture(scope="module")
def platform():
    return load_project(REPO)


def test_a_worker_renders_exactly_what_this_process_renders(platform, monkeypatch, tmp_path):
    # jsii unpacks its 2 MB runtime into TMPDIR and removes it only when its Node is stopped: a
    # worker that skipped that left one folder per env render behind, every run.
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    names = list(platform.environments)
    by_worker = render_envs(platform, names, workers=True)
    assert list(tmp_path.iterdir()) == []
    assert list(by_worker) == names
    for env in names:
        here = render_env(platform, env)
        there = by_worker[env]
        assert [(f.path, f.text) for f in there.files] == [(f.path, f.text) for f in here.files]
        assert [(f.obj, f.source, f.field_sources) for f in there.files] == \
               [(f.obj, f.source, f.field_sources) for f in here.files]


def test_an_input_error_in_a_worker_keeps_its_file_and_line(platform):
    bad = with_env(platform, "dev", load_balancer_cidrs=("0.0.0.0/0",))
    with pytest.raises(InputError, match="loadBalancerCIDRs") as exc:
        render_in_worker(bad, "dev")
    problem = exc.value.problems[0]
    assert problem.file == "environments/dev.yaml" and problem.line


class Crash:
    """Stands in for the platform: unpickling it in the worker crashes the worker in one of three ways."""

    def __init__(self, how: str):
        self.how = how

    def __reduce__(self):
        return (_crash, (self.how,))


def _crash(how: str):
    if how == "sigkill":  # what the kernel's OOM killer does
        os.kill(os.getpid(), signal.SIGKILL)
    if how == "sigint":  # Ctrl-C reaching the worker (the test's own process is not interrupted)
        os.kill(os.getpid(), signal.SIGINT)
        raise RuntimeError("survived Ctrl-C")
    if how == "exit":
        os._exit(3)
    raise RuntimeError("boom")


@pytest.mark.parametrize("how, says", [
    ("sigkill", "the render worker for environment dev was killed by signal SIGKILL"),
    ("exit", "the render worker for environment dev exited with code 3"),
    ("bug", "the render worker for environment dev failed: RuntimeError: boom"),
])
def test_a_worker_that_crashes_is_an_engine_error(how, says):
    with pytest.raises(EngineError) as exc:
        render_in_worker(Crash(how), "dev")
    assert says in str(exc.value) and "nothing was written" in str(exc.value)
    assert exc.value.problems[0].hint


def test_ctrl_c_that_ends_a_worker_is_an_interruption_not_an_engine_error(monkeypatch, tmp_path):
    """Ctrl-C reaches the whole process group; whichever process sees it first, the run ends as
    interrupted (exit 130), not as a broken engine (exit 2), and the worker leaves nothing behind."""
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    with pytest.raises(KeyboardInterrupt):
        render_in_worker(Crash("sigint"), "dev")
    assert list(tmp_path.iterdir()) == []


def test_a_worker_ignores_ctrl_c_when_its_parent_does():
    old = signal.signal(signal.SIGINT, signal.SIG_IGN)  # as `drydock synth &` in a script starts
    try:
        with pytest.raises(EngineError, match="survived Ctrl-C"):
            render_in_worker(Crash("sigint"), "dev")
    finally:
        signal.signal(signal.SIGINT, old)


def test_a_worker_takes_the_callers_environment_and_folder_of_now(platform, monkeypatch, tmp_path):
    """The forkserver freezes the environment it started with: a JSII_NODE set for one render
    (here a Node that kills its worker) must not haunt the renders after it, and vice versa."""
    killer = tmp_path / "node-kills-worker.sh"
    killer.write_text("#!/bin/sh\nkill -9 $PPID\nsleep 1\n")
    killer.chmod(0o755)
    monkeypatch.setenv("JSII_NODE", str(killer))
    monkeypatch.chdir(tmp_path)
    with pytest.raises(EngineError, match="killed by signal SIGKILL"):
        render_in_worker(platform, "dev")
    monkeypatch.delenv("JSII_NODE")
    monkeypatch.chdir(REPO)
    assert render_in_worker(platform, "dev").files


def test_auto_mode_isolates_large_renders_only(platform, monkeypatch):
    monkeypatch.delenv(ENV_VAR, raising=False)
    names = list(platform.environments)
    assert not isolate(platform, names)  # the demo: one process, no worker start-up
    assert not isolate(platform, names[:1])  # one env: Node would die with the process anyway
    many = type("P", (), {"services": dict.fromkeys(range(1000))})()
    assert isolate(many, names)
    monkeypatch.setenv(ENV_VAR, "always")
    assert isolate(platform, names[:1])
    monkeypatch.setenv(ENV_VAR, "never")
    assert not isolate(many, names)


def _descendants(pid: int) -> list[int]:
    parents = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open(f"/proc/{name}/stat") as f:
                    parents[int(name)] = int(f.read().rsplit(")", 1)[1].split()[1])
            except OSError:
                pass
    out, frontier = [], {pid}
    while frontier:
        frontier = {p for p, pp in parents.items() if pp in frontier}
        out += frontier
    return out


@pytest.mark.skipif(not os.path.isdir("/proc"), reason="reads the process tree from /proc")
def test_ctrl_c_during_a_worker_render_is_clean(tmp_path: Path):
    repo = copy_inputs(tmp_path / "repo", with_rendered=True)
    before = tree_bytes(repo / "rendered")
    proc = subprocess.Popen([sys.executable, "-m", "generator.cli", "synth", "--all", "--no-gate", "--no-cache"], cwd=repo,
                            env={**os.environ, ENV_VAR: "always"}, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:  # wait until a worker has started its Node
        if any("node" in _cmdline(p) for p in _descendants(proc.pid)):
            break
        time.sleep(0.05)
    assert proc.poll() is None, proc.communicate()
    os.killpg(proc.pid, signal.SIGINT)  # what a terminal's Ctrl-C does: the whole foreground group
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "error: interrupted" in err and "Traceback" not in err + out
    assert tree_bytes(repo / "rendered") == before
    # Nothing is left behind: the worker, its Node, the fork server and the resource tracker all
    # end (the last two once they see the parent's pipes close).
    deadline, left = time.monotonic() + 15, ["?"]
    while left and time.monotonic() < deadline:
        time.sleep(0.2)
        left = [int(p) for p in subprocess.run(["pgrep", "-g", str(proc.pid)], capture_output=True,
                                               text=True).stdout.split()]
    assert not left, [_cmdline(p) for p in left]


def _cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""
