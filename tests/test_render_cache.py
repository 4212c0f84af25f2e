"""Incremental render: a cached render is the render, and nothing unchanged starts Node."""
from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest

from generator import render_cache
from generator.pipeline import GateOptions, synth
from generator.render_cache import RenderCache, inputs_digest

from .conftest import REPO, run_drydock, tree_bytes


def _edit(root: Path, rng: random.Random) -> str:
    """One random edit that keeps the inputs valid; returns what it did."""
    services = sorted(p for p in (root / "services").glob("*.yaml") if "\n  config:\n" in p.read_text())
    envs = sorted((root / "environments").glob("*.yaml"))
    kind = rng.choice(["config", "replicas", "comment", "config"])
    if kind == "config":
        svc = rng.choice(services)
        key, value = f"FLAG_{rng.randrange(10**6)}", rng.choice(["on", "0755", "1:30", "x y", "a\\nb", "é"])
        svc.write_text(svc.read_text().replace("\n  config:\n", f"\n  config:\n    {key}: \"{value}\"\n", 1))
        return f"{svc.name}: config {key}={value!r}"
    if kind == "replicas":
        env = rng.choice(envs)
        text = env.read_text()
        if "\n  replicas: " not in text:
            return "no-op"
        head, tail = text.split("\n  replicas: ", 1)
        old, rest = tail.split("\n", 1)
        new = str(int(old) + rng.choice([1, 2]))
        env.write_text(f"{head}\n  replicas: {new}\n{rest}")
        return f"{env.name}: replicas {old} -> {new}"
    target = rng.choice(services + envs)
    target.write_text(target.read_text() + f"# note {rng.randrange(10**6)}\n")
    return f"{target.name}: comment"


def _full(rendered) -> list:
    """Every field of every file (field_sources is left out of RenderedFile's ==)."""
    return [(f.path, f.text, f.obj, f.source, f.field_sources) for f in rendered.files]


def _snapshot(root: Path) -> dict[Path, bytes]:
    return {p: p.read_bytes() for d in ("services", "environments") for p in (root / d).glob("*.yaml")}


def _restore(root: Path, snap: dict[Path, bytes]) -> None:
    for d in ("services", "environments"):
        for p in (root / d).glob("*.yaml"):
            if p not in snap:
                p.unlink()
    for p, data in snap.items():
        p.write_bytes(data)


@pytest.mark.slow
def test_cached_renders_equal_fresh_renders_after_random_edits(repo_copy: Path, tmp_path: Path):
    rng = random.Random(18)
    cache = tmp_path / "cache"
    snapshots = [_snapshot(repo_copy)]
    hits = 0
    for step in range(5):
        if step and rng.random() < 0.4:
            _restore(repo_copy, rng.choice(snapshots))  # back to an earlier state: its renders are cached
            what = "restore"
        else:
            what = _edit(repo_copy, rng)
        snapshots.append(_snapshot(repo_copy))
        warm = synth(repo_copy, None, gate=False, out=tmp_path / f"warm{step}", opts=GateOptions(cache_dir=cache))
        cold = synth(repo_copy, None, gate=False, out=tmp_path / f"cold{step}", opts=GateOptions(cache_dir=None))
        assert {e: _full(r) for e, r in warm.rendered.items()} == {e: _full(r) for e, r in cold.rendered.items()}, \
            f"step {step} ({what})"
        assert tree_bytes(tmp_path / f"warm{step}") == tree_bytes(tmp_path / f"cold{step}"), f"step {step} ({what})"
        again = RenderCache(repo_copy, cache)
        for env, rendered in cold.rendered.items():
            hit = again.get(env)
            assert hit and _full(hit) == _full(rendered), f"step {step} ({what}): {env} was not cached as rendered"
        hits += len(again.hits)
    assert hits == 5 * 3


@pytest.mark.slow  # three fresh processes, two of them full renders
def test_unchanged_check_does_not_start_node(repo_with_render: Path, tmp_path: Path):
    code = ("import sys, json; from pathlib import Path; from generator.pipeline import synth, GateOptions;"
            f"r = synth(Path('.'), None, check=True, opts=GateOptions(cache_dir=Path({str(tmp_path / 'c')!r})));"
            "print(json.dumps({'cdk8s': 'cdk8s' in sys.modules,"
            " 'stale': [e for e, s in r.staleness.items() if not s.up_to_date]}))")
    runs = [json.loads(subprocess.run([sys.executable, "-c", code], cwd=repo_with_render, check=True,
                                      capture_output=True, text=True).stdout.splitlines()[-1]) for _ in range(2)]
    assert runs[0] == {"cdk8s": True, "stale": []}  # first run renders (and fills the cache)
    assert runs[1] == {"cdk8s": False, "stale": []}  # nothing changed: no cdk8s, no Node
    svc = repo_with_render / "services" / "order-service.yaml"
    svc.write_text(svc.read_text().replace("LOG_FORMAT: json", "LOG_FORMAT: json\n    NEW_KEY: \"1\""))
    changed = json.loads(subprocess.run([sys.executable, "-c", code], cwd=repo_with_render, check=True,
                                        capture_output=True, text=True).stdout.splitlines()[-1])
    assert changed["cdk8s"] is True and set(changed["stale"]) == {"dev", "prod", "staging"}


def test_check_reports_a_hand_edited_file_even_when_the_render_is_cached(repo_with_render: Path, tmp_path: Path):
    cache = ["--cache-dir", str(tmp_path / "c")]
    assert run_drydock("synth", "--all", "--check", *cache, cwd=repo_with_render).code == 0
    target = next((repo_with_render / "rendered" / "dev").rglob("deployment-*.yaml"))
    target.write_text(target.read_text() + "# edited\n")
    r = run_drydock("synth", "--all", "--check", *cache, cwd=repo_with_render)
    assert r.code == 1 and f"stale: rendered/dev/{target.relative_to(repo_with_render / 'rendered' / 'dev')}" in r.out


def test_the_key_covers_code_runtime_and_every_input(repo_copy: Path, tmp_path: Path, monkeypatch):
    cache = RenderCache(repo_copy, tmp_path)
    key = cache.key("dev")
    assert key != cache.key("prod")
    env_file = repo_copy / "environments" / "prod.yaml"  # another env's file: the loader cross-checks it
    env_file.write_text(env_file.read_text() + "# x\n")
    assert RenderCache(repo_copy, tmp_path).key("dev") != key
    monkeypatch.setattr(render_cache, "code_digest", lambda: "0" * 64)  # e.g. a construct was edited
    assert cache.key("dev") != key
    assert any(n.startswith("cdk8s-") for n in render_cache._runtime_versions())


def test_an_entry_this_machine_did_not_write_is_a_miss(repo_copy: Path, tmp_path: Path):
    first = synth(repo_copy, ["dev"], gate=False, out=tmp_path / "out", opts=GateOptions(cache_dir=tmp_path / "c"))
    entries = [p for p in (tmp_path / "c" / "render").rglob("*.json") if not p.name.startswith(".")]
    assert len(entries) == 1
    assert _full(RenderCache(repo_copy, tmp_path / "c").get("dev")) == _full(first.rendered["dev"])
    assert any(f.field_sources for f in first.rendered["dev"].files)  # the image lines etc. survive the cache
    entries[0].write_bytes(entries[0].read_bytes().replace(b"replicas", b"REPLICAS"))
    again = RenderCache(repo_copy, tmp_path / "c")
    assert again.get("dev") is None and again.misses == ["dev"]


def test_an_input_edited_during_the_run_is_not_cached(repo_copy: Path, tmp_path: Path):
    cache = RenderCache(repo_copy, tmp_path)  # hashes the inputs now
    rendered = synth(repo_copy, ["dev"], gate=False, out=tmp_path / "out", opts=GateOptions(cache_dir=None)).rendered["dev"]
    svc = repo_copy / "services" / "order-service.yaml"
    svc.write_text(svc.read_text() + "# edited while rendering\n")
    assert cache.put(rendered) is False
    assert cache.get("dev") is None


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs (POSIX)")
def test_a_fifo_among_the_inputs_is_never_read(repo_copy: Path, tmp_path: Path):
    os.mkfifo(repo_copy / "services" / "pipe.yaml")
    assert inputs_digest(repo_copy) is None  # returns at once instead of blocking on the FIFO
    cache = RenderCache(repo_copy, tmp_path)
    assert cache.key("dev") is None and cache.get("dev") is None


def test_an_unchanged_env_tree_is_not_rewritten(repo_copy: Path, tmp_path: Path):
    out = tmp_path / "out"
    args = ["synth", "--all", "--no-gate", "--out", str(out), "--cache-dir", str(tmp_path / "c")]
    assert run_drydock(*args, cwd=repo_copy).code == 0
    before = {p: (p.stat().st_ino, p.stat().st_mtime_ns) for p in out.rglob("*") if p.is_file()}
    r = run_drydock(*args, cwd=repo_copy)
    assert r.code == 0 and "wrote" in r.err
    assert {p: (p.stat().st_ino, p.stat().st_mtime_ns) for p in out.rglob("*") if p.is_file()} == before
    victim = next((out / "prod").rglob("service-*.yaml"))
    victim.write_text("tampered\n")
    assert run_drydock(*args, cwd=repo_copy).code == 0
    assert victim.read_bytes() == (REPO / "rendered" / victim.relative_to(out)).read_bytes()


def test_a_render_through_a_linked_folder_is_never_served_to_a_plain_one(tmp_path: Path):
    """`services -> real-services` renders `# Source: real-services/...`; with the same bytes and
    names, a plain repo's run must not get those headers from the cache."""
    from .conftest import copy_inputs

    linked = copy_inputs(tmp_path / "linked")
    (linked / "services").rename(linked / "real-services")
    (linked / "services").symlink_to(linked / "real-services", target_is_directory=True)
    assert inputs_digest(linked) is None
    plain = copy_inputs(tmp_path / "plain")
    env = {"XDG_CACHE_HOME": str(tmp_path / "cache")}
    for root in (linked, plain):
        r = run_drydock("synth", "--env", "dev", "--no-gate", cwd=root, env=env)
        assert r.code == 0, r.err
    header = (plain / "rendered" / "dev" / "frontend" / "deployment-frontend.yaml").read_text().splitlines()[0]
    assert header.startswith("# Source: services/frontend.yaml"), header
