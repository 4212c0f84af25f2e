"""Two `drydock synth` runs on one repo take turns (flock on rendered/.drydock.lock)."""
from __future__ import annotations

import fcntl
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from .conftest import copy_inputs, run_drydock, tree_bytes

pytestmark = pytest.mark.slow  # racing real synth processes: `pytest -m "not slow"` skips them


def _clean(tree: dict[str, bytes]) -> dict[str, bytes]:
    return {k: v for k, v in tree.items() if k != ".drydock.lock"}


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> dict[str, bytes]:
    repo = copy_inputs(tmp_path_factory.mktemp("ref") / "repo")
    r = run_drydock("synth", "--all", "--no-gate", cwd=repo)
    assert r.code == 0, r.err
    return _clean(tree_bytes(repo / "rendered"))


def _spawn(repo: Path, *args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "generator.cli", *args], cwd=repo,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.mark.parametrize("first,second", [(("--env", "dev"), ("--all",)), (("--all",), ("--all",))],
                         ids=["dev-and-all", "all-and-all"])
def test_two_synths_at_once_both_succeed_and_tree_is_clean(tmp_path, reference, first, second):
    repo = copy_inputs(tmp_path / "repo")
    a = _spawn(repo, "synth", *first, "--no-gate")
    b = _spawn(repo, "synth", *second, "--no-gate")
    (_, err_a), (_, err_b) = a.communicate(timeout=180), b.communicate(timeout=180)
    assert a.returncode == 0, err_a
    assert b.returncode == 0, err_b
    rendered = repo / "rendered"
    assert _clean(tree_bytes(rendered)) == reference
    assert not [p.name for p in rendered.glob(".drydock-*") if p.name != ".drydock.lock"]


def test_synth_waits_for_the_lock_holder(tmp_path, reference):
    """While another writer holds the lock, synth renders but does not write; it writes once released."""
    repo = copy_inputs(tmp_path / "repo")
    rendered = repo / "rendered"
    rendered.mkdir()
    fd = os.open(rendered / ".drydock.lock", os.O_CREAT | os.O_RDWR, 0o644)
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        proc = _spawn(repo, "synth", "--env", "dev", "--no-gate")
        # Well past a render (~3 s on 2 cores): it must still be waiting, with nothing written.
        deadline = time.monotonic() + 7
        while time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.1)
        assert proc.poll() is None, "synth finished while another writer held the lock"
        assert sorted(p.name for p in rendered.iterdir()) == [".drydock.lock"]
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert _clean(tree_bytes(rendered / "dev")) == {k[4:]: v for k, v in reference.items() if k.startswith("dev/")}
