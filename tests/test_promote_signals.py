"""promote under real signals: SIGTERM/SIGINT restore the env file; after SIGKILL the next
run finds the journal and repairs the half-done promotion. A real `drydock promote` runs in a
subprocess; the test waits until it has edited environments/staging.yaml, then signals it."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from generator.pipeline import GateOptions, synth
from generator.promote import JOURNAL, _Journal, promote, repair_promotion

from .conftest import copy_inputs, run_drydock, tree_bytes

# Slow (deselect with -m 'not slow'): real signals and kills; the unmarked one is the quick case.
FAST = GateOptions(engines=("schema",))
DIGEST = "d" * 64


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = copy_inputs(tmp_path / "repo")
    (root / "waivers.yaml").unlink()  # they name Trivy findings; the schema-only gate would call them unused
    dev = root / "environments" / "dev.yaml"
    dev.write_text(dev.read_text().replace('user-service: "1.2.3"', 'user-service: "1.2.5"'))
    # prod requires Trivy for a write (gate.requireTrivy); this fast schema-only gate is not about Trivy.
    prod = root / "environments" / "prod.yaml"
    prod.write_text(prod.read_text().replace("    requireTrivy: true\n", ""))
    synth(root, None, opts=FAST)
    return root


def _snapshot(root: Path) -> dict[str, bytes]:
    return {k: v for k, v in tree_bytes(root).items() if not k.startswith(".drydock") and "/.drydock" not in k}


def _start_promote(root: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "generator.cli", "promote", "--from", "dev", "--to", "staging",
         "--service", "user-service", "--digest", f"user-service=sha256:{DIGEST}", "--engines", "schema"],
        cwd=root, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _signal_after_edit(root: Path, proc: subprocess.Popen, sig: int) -> tuple[int, str]:
    env_file = root / "environments" / "staging.yaml"
    original = env_file.read_bytes()
    deadline = time.monotonic() + 120
    while env_file.read_bytes() == original:  # the edit is the first write; the render follows it
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "promote never edited the env file"
        time.sleep(0.002)
    assert (root / JOURNAL).exists(), "the journal is written before the edit"
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=120)
    return proc.returncode, err


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_sigterm_and_sigint_restore_the_env_file_and_write_nothing(repo: Path, sig):
    before = _snapshot(repo)
    code, err = _signal_after_edit(repo, _start_promote(repo), sig)
    assert code == 128 + sig, err
    assert "interrupted" in err and "Traceback" not in err
    assert _snapshot(repo) == before
    assert not (repo / JOURNAL).exists()


@pytest.mark.slow
def test_after_sigkill_the_next_run_repairs_the_half_done_promotion(repo: Path):
    before = _snapshot(repo)
    code, _ = _signal_after_edit(repo, _start_promote(repo), signal.SIGKILL)
    assert code == -signal.SIGKILL
    assert _snapshot(repo)["environments/staging.yaml"] != before["environments/staging.yaml"]  # half done
    assert (repo / JOURNAL).exists()
    r = run_drydock("synth", "--env", "staging", "--check", cwd=repo)  # any next run repairs first
    assert r.code == 0, r.err
    assert "interrupted promotion to staging was undone" in r.err
    assert _snapshot(repo) == before and not (repo / JOURNAL).exists()
    # and the promotion can simply be run again
    again = run_drydock("promote", "--from", "dev", "--to", "staging", "--service", "user-service",
                        "--digest", f"user-service=sha256:{DIGEST}", "--engines", "schema", cwd=repo)
    assert again.code == 0, again.err
    assert f"1.2.5@sha256:{DIGEST}" in (repo / "environments/staging.yaml").read_text()


@pytest.mark.slow
def test_a_promotion_killed_after_its_render_landed_is_kept(repo: Path):
    """SIGKILL between the atomic write of rendered/staging and the journal's removal."""
    env_file = repo / "environments" / "staging.yaml"
    original = env_file.read_bytes()
    result = promote(repo, "dev", "staging", ["user-service"], opts=FAST, digests={"user-service": f"sha256:{DIGEST}"})
    assert result.written
    landed = _snapshot(repo)
    journal = _Journal(repo, "environments/staging.yaml", "staging", original)
    journal.open()
    os.close(journal.lock)  # the process "died": the kernel drops its lock
    messages: list[str] = []
    assert "had landed" in repair_promotion(repo, messages.append)
    assert _snapshot(repo) == landed and not (repo / JOURNAL).exists() and messages


@pytest.mark.slow
def test_a_running_promotion_is_never_repaired_by_another_run(repo: Path):
    env_file = repo / "environments" / "staging.yaml"
    original = env_file.read_bytes()
    journal = _Journal(repo, "environments/staging.yaml", "staging", original)
    journal.open()  # holds the lock, like a promotion in flight
    try:
        env_file.write_text(env_file.read_text().replace("replicas: 2", "replicas: 4"))
        assert repair_promotion(repo) is None
        assert env_file.read_bytes() != original and (repo / JOURNAL).exists()
    finally:
        journal.close()
