"""`drydock diff` end to end: a change to a service file, synthesized and committed, reviewed as a diff."""
from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from .conftest import run_drydock


def _git(repo: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True,
                   env={"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@e", "GIT_COMMITTER_NAME": "t",
                        "GIT_COMMITTER_EMAIL": "t@e", "PATH": "/usr/bin:/bin", "HOME": str(repo)})


@pytest.mark.slow  # whole-CLI walk: two full synths and two diffs
def test_image_change_is_reported_exactly_and_highlighted(repo_copy: Path):
    assert run_drydock("synth", "--all", "--no-gate", cwd=repo_copy).code == 0
    _git(repo_copy, "init", "-q", "-b", "main")
    _git(repo_copy, "add", "-A")
    _git(repo_copy, "commit", "-qm", "base")
    svc = repo_copy / "services" / "order-service.yaml"
    svc.write_text(svc.read_text().replace("ecommerce/order-service", "ecommerce/order-service-v2"))
    assert run_drydock("synth", "--all", "--no-gate", cwd=repo_copy).code == 0
    _git(repo_copy, "commit", "-qam", "new image")

    r = run_drydock("diff", "--base", "HEAD~1", "--format", "json", "--no-policy", cwd=repo_copy)
    assert r.code == 0, r.err
    result = json.loads(r.out)
    changed = {(c["env"], c["resource"]["kind"], c["resource"]["name"]) for c in result["changes"]}
    workloads = {("dev", "Deployment", "order-service"), ("staging", "Deployment", "order-service"),
                 ("prod", "Rollout", "order-service")}
    assert workloads <= changed
    # Only workloads that run the image may change (the migration Job runs it too).
    assert all(name == "order-service" or name.startswith("order-service-") for _, _, name in changed), changed
    images = [h for h in result["highlights"] if h["category"] == "image"]
    assert images and all("order-service-v2" in h["detail"] for h in images)

    md = run_drydock("diff", "--base", "HEAD~1", cwd=repo_copy)
    assert md.code == 0 and "order-service-v2" in md.out and "<details>" in md.out


def test_missing_ref_is_exit_2_with_a_hint(repo_copy: Path):
    _git(repo_copy, "init", "-q", "-b", "main")
    _git(repo_copy, "add", "-A")
    _git(repo_copy, "commit", "-qm", "base")
    r = run_drydock("diff", "--base", "no-such-branch", cwd=repo_copy)
    assert r.code == 2
    assert "git ref 'no-such-branch' not found" in r.err and "Traceback" not in r.err


def test_render_mode_diffs_inputs_without_a_committed_render(repo_copy: Path):
    _git(repo_copy, "init", "-q", "-b", "main")
    _git(repo_copy, "add", "services", "environments")
    _git(repo_copy, "commit", "-qm", "inputs only")
    svc = repo_copy / "services" / "order-service.yaml"
    svc.write_text(svc.read_text().replace("LOG_FORMAT: json", "LOG_FORMAT: text"))
    r = run_drydock("diff", "--base", "HEAD", "--worktree", "--render", "--env", "dev", "--format", "json", cwd=repo_copy)
    assert r.code == 0, r.err
    changed = {(c["resource"]["kind"], c["resource"]["name"]) for c in json.loads(r.out)["changes"]}
    assert ("ConfigMap", "order-service-config") in changed
    # Pods that read the config restart (config checksum); nothing outside order-service changes.
    assert all(name.startswith("order-service") for _, name in changed), changed
