"""Shared fixtures: a scratch copy of the demo repo and a way to run the real CLI."""
from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
# The platform engine expands Helm add-ons from a chart folder: tests use the shared offline copy
# (CI fills it with `drydock charts pull --charts ../shared/charts`).
os.environ.setdefault("DRYDOCK_CHARTS", str((REPO / ".." / "shared" / "charts").resolve()))
INPUT_DIRS = ("services", "environments", "policies", "waivers")


def _scratch_in_memory() -> None:
    """Put tmp_path trees (and the temp files of what tests run) on /dev/shm when it is a roomy
    tmpfs and TMPDIR is not set. Tests create and delete ~40k files a run; on ext4 each create
    after many deletes scans past the recently freed inodes, which made sys time (and the inner
    loop's wall time) swing by 20-40 s between runs. Set TMPDIR to keep them on disk."""
    if "TMPDIR" in os.environ:
        return
    try:
        st = os.statvfs("/dev/shm")
    except OSError:
        return
    if not (os.access("/dev/shm", os.W_OK) and st.f_bavail * st.f_frsize >= 4 << 30):
        return
    scratch = Path("/dev/shm") / f"drydock-tests-{os.getuid()}"
    try:
        scratch.mkdir(mode=0o700, exist_ok=True)
        info = scratch.lstat()
    except OSError:
        return
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid():
        return  # not ours (or a link): stay on disk
    # tmpfs is memory: what the crash trials' killed processes left in earlier sessions goes
    # (an hour old, so a session running beside this one keeps its files; pytest's own
    # folders keep their retention)
    for entry in scratch.iterdir():
        try:
            if not entry.name.startswith("pytest-of-") and entry.lstat().st_mtime < time.time() - 3600:
                shutil.rmtree(entry) if entry.is_dir() and not entry.is_symlink() else entry.unlink()
        except OSError:
            pass
    os.environ["TMPDIR"] = str(scratch)
    tempfile.tempdir = None  # gettempdir() may already have cached the default


_scratch_in_memory()


@dataclass
class Run:
    code: int
    out: str
    err: str


# Set DRYDOCK_TEST_SUBPROCESS=1 to run every CLI call in a fresh process (what in-process calls stand in for).
ALWAYS_SUBPROCESS = os.environ.get("DRYDOCK_TEST_SUBPROCESS") == "1"


def run_drydock(*args: str, cwd: Path, stdin: str | None = None, env: dict | None = None, timeout: int = 300,
                process: bool = False) -> Run:
    """Run the CLI as a user would: `drydock ARGS` in `cwd`, stdout/stderr captured, the exit code.

    By default the CLI's `main()` runs in this process (cwd, env, stdin and streams swapped for the
    call): a Python start and a cdk8s/Node start less per call. `process=True` runs it in a fresh
    process, for tests about the process boundary (signals, what a child inherits, real tty-less pipes).
    """
    # cwd and sys.stdout are per process: a call from a second thread gets a process of its own.
    if process or ALWAYS_SUBPROCESS or threading.current_thread() is not threading.main_thread():
        proc = subprocess.run([sys.executable, "-m", "generator.cli", *args], cwd=cwd, input=stdin, text=True,
                              capture_output=True, timeout=timeout, env={**os.environ, **(env or {})})
        return Run(proc.returncode, proc.stdout, proc.stderr)
    return _run_in_process(list(args), cwd, stdin, env or {})


def _run_in_process(args: list[str], cwd: Path, stdin: str | None, env: dict) -> Run:
    import warnings

    from click.testing import CliRunner

    from generator.cli import main

    show, old_cwd, code = warnings.showwarning, os.getcwd(), 0
    with CliRunner().isolation(input=stdin, env=env) as (out, err, _), warnings.catch_warnings():
        warnings.simplefilter("default")  # a fresh interpreter shows each warning once per place
        os.chdir(cwd)
        try:
            main(args)
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        finally:
            os.chdir(old_cwd)
            warnings.showwarning = show
            sys.stdout.flush()
            sys.stderr.flush()
        return Run(code, out.getvalue().decode(), err.getvalue().decode("utf-8", "backslashreplace"))


def copy_inputs(dest: Path, with_rendered: bool = False) -> Path:
    for name in INPUT_DIRS + (("rendered",) if with_rendered else ()):
        src = REPO / name
        if src.exists():
            shutil.copytree(src, dest / name, ignore=shutil.ignore_patterns(".drydock*"))
    for name in ("waivers.yaml",):
        if (REPO / name).exists():
            shutil.copy2(REPO / name, dest / name)
    return dest


@pytest.fixture
def repo_copy(tmp_path: Path) -> Path:
    """services/, environments/, policies/ (and waivers.yaml) copied to a temp dir, no rendered/."""
    return copy_inputs(tmp_path / "repo")


@pytest.fixture
def repo_with_render(tmp_path: Path) -> Path:
    """Like repo_copy, plus the committed rendered/ tree."""
    return copy_inputs(tmp_path / "repo", with_rendered=True)


@pytest.fixture(scope="session")
def demo_addons(tmp_path_factory, worker_id) -> dict:
    """env -> every object the demo's Helm Applications apply (drydock's expander, real helm), from the
    in-process render. Built once per test process: treat it as read-only. Under pytest-xdist the
    workers share one helm cache and a lock, so helm runs once per session, not once per worker."""
    import fcntl

    from generator.platform.helm import expand_applications

    from .test_platform_support import ENVS, rendered

    shared = tmp_path_factory.getbasetemp()
    shared = shared.parent if worker_id != "master" else shared  # the xdist workers' common folder
    charts = Path(os.environ["DRYDOCK_CHARTS"])
    with open(shared / "helm-cache.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        return {env: expand_applications(rendered(env).documents(), charts, shared / "helm-cache") for env in ENVS}


@pytest.fixture(scope="session")
def worker_id(request) -> str:
    """pytest-xdist's worker name ("gw0", ...), "master" without xdist."""
    return getattr(request.config, "workerinput", {}).get("workerid", "master")


def tree_bytes(root: Path) -> dict[str, bytes]:
    """Every file under root with its bytes: for 'nothing changed' assertions."""
    if not root.exists():
        return {}
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}

