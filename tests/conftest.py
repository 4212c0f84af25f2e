"""Shared fixtures: a scratch copy of the demo repo and a way to run the real CLI."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
# The platform engine expands Helm add-ons from a chart folder: tests use the shared offline copy
# (CI fills it with `drydock charts pull --charts ../shared/charts`).
os.environ.setdefault("DRYDOCK_CHARTS", str((REPO / ".." / "shared" / "charts").resolve()))
INPUT_DIRS = ("services", "environments", "policies", "waivers")


@dataclass
class Run:
    code: int
    out: str
    err: str


def run_drydock(*args: str, cwd: Path, stdin: str | None = None, env: dict | None = None, timeout: int = 300) -> Run:
    """Run the installed CLI as a user would, in a fresh process."""
    proc = subprocess.run([sys.executable, "-m", "generator.cli", *args], cwd=cwd, input=stdin, text=True,
                          capture_output=True, timeout=timeout, env={**os.environ, **(env or {})})
    return Run(proc.returncode, proc.stdout, proc.stderr)


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


def tree_bytes(root: Path) -> dict[str, bytes]:
    """Every file under root with its bytes: for 'nothing changed' assertions."""
    if not root.exists():
        return {}
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}
