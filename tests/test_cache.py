"""The per-document result cache, alone and inside the Trivy gate (real trivy)."""
from __future__ import annotations

import json
import multiprocessing
import os
import stat
from dataclasses import replace
from pathlib import Path

import pytest

from generator.gate import GateContext
from generator.gate.cache import FORMAT_VERSION, ResultCache, clear_cache_dir
from generator.gate.engines.trivy import TrivyGate, find_trivy
from generator.core import Document, SourceRef

from .test_trivy import FIXTURES, PROD_ENV, load_docs

needs_trivy = pytest.mark.skipif(find_trivy() is None, reason="trivy not installed")

F1 = [{"rule_id": "KSV-0017", "title": "Privileged", "severity": "HIGH", "message": "m", "offset": 19}]


# --------------------------------------------------------------------------
# ResultCache alone
# --------------------------------------------------------------------------
def test_round_trip_empty_results_and_hit_counting(tmp_path):
    c = ResultCache(tmp_path / "cache", "salt")
    assert c.get("a: 1\n") is None
    c.put("a: 1\n", F1)
    c.put("b: 2\n", [])
    assert c.get("a: 1\n") == F1
    assert c.get("b: 2\n") == []  # an empty result is a hit, not a miss
    assert (c.hits, c.misses) == (2, 1)
    assert (tmp_path / "cache" / "CACHEDIR.TAG").is_file()
    assert (tmp_path / "cache" / ".gitignore").read_text() == "*\n"


def test_key_covers_salt_and_text(tmp_path):
    a = ResultCache(tmp_path, "trivy 0.76.0")
    b = ResultCache(tmp_path, "trivy 0.77.0")
    assert a.key("x") != b.key("x") and a.key("x") != a.key("y")
    # no ambiguity between where the salt ends and the text begins
    assert ResultCache(tmp_path, "ab").key("c") != ResultCache(tmp_path, "a").key("bc")
    a.put("x", F1)
    assert b.get("x") is None


@pytest.mark.parametrize(
    "damage",
    [
        lambda raw: raw[: len(raw) // 2],  # truncated JSON (a crash mid-write without atomic replace)
        lambda raw: b"\x00\xff\xfe garbage \x80",  # garbage bytes
        lambda raw: b"",  # empty file
        lambda raw: json.dumps({"format": FORMAT_VERSION, "key": "someone-else", "findings": []}).encode(),  # misplaced
        lambda raw: json.dumps({"format": FORMAT_VERSION + 1, "findings": []}).encode(),  # other format
        lambda raw: raw.replace(b'"findings":[', b'"findings":[1,'),  # wrong shape
    ],
)
def test_damaged_entry_is_a_miss_and_is_rewritten(tmp_path, damage):
    c = ResultCache(tmp_path, "s")
    c.put("doc", F1)
    path = c.path_for(c.key("doc"))
    path.write_bytes(damage(path.read_bytes()))
    assert c.get("doc") is None
    c.put("doc", F1)
    assert c.get("doc") == F1


def test_unreadable_entry_and_unwritable_cache_never_crash(tmp_path):
    c = ResultCache(tmp_path / "c", "s")
    c.put("doc", F1)
    path = c.path_for(c.key("doc"))
    path.unlink()
    path.mkdir()  # a directory where the entry should be
    assert c.get("doc") is None
    blocked = tmp_path / "file-not-dir"
    blocked.write_text("x")
    ro = ResultCache(blocked / "cache", "s")  # cannot be created
    ro.put("doc", F1)
    assert ro.write_errors == 1 and ro.get("doc") is None


def _writer(root: str, worker: int, rounds: int) -> None:
    c = ResultCache(Path(root), "concurrent")
    for r in range(rounds):
        for k in range(20):
            # every worker writes the same 20 keys (racing on each), with
            # content that depends only on the key, plus a key of its own
            c.put(f"shared-{k}", [{"rule_id": f"R{k}", "payload": "x" * (k * 500)}])
        c.put(f"own-{worker}-{r}", [{"rule_id": "own", "worker": worker}])


def test_concurrent_writers_do_not_corrupt_entries(tmp_path):
    root = tmp_path / "cache"
    ctx = multiprocessing.get_context("spawn" if os.name == "nt" else "fork")
    procs = [ctx.Process(target=_writer, args=(str(root), w, 15)) for w in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    c = ResultCache(root, "concurrent")
    for k in range(20):
        assert c.get(f"shared-{k}") == [{"rule_id": f"R{k}", "payload": "x" * (k * 500)}]
    for w in range(4):
        for r in range(15):
            assert c.get(f"own-{w}-{r}") == [{"rule_id": "own", "worker": w}]
    assert not list(root.rglob(".tmp-*")), "no temp files left behind"


def test_clear_removes_the_cache_and_refuses_foreign_dirs(tmp_path):
    c = ResultCache(tmp_path / "cache", "s")
    c.put("doc", F1)
    assert c.clear() is True
    assert not (tmp_path / "cache").exists()
    assert c.clear() is False  # nothing to clear is fine
    c2 = ResultCache(tmp_path / "cache", "s")  # usable again after clear
    c2.put("doc", F1)
    assert c2.get("doc") == F1
    foreign = tmp_path / "src"
    foreign.mkdir()
    (foreign / "precious.py").write_text("x = 1\n")
    with pytest.raises(ValueError, match="does not look like a drydock cache"):
        clear_cache_dir(foreign)
    assert (foreign / "precious.py").exists()


# --------------------------------------------------------------------------
# inside the Trivy gate
# --------------------------------------------------------------------------
def corpus() -> list[Document]:
    return (
        load_docs(FIXTURES / "high-finding.yaml", source=SourceRef("services/order-service.yaml", 3))
        + load_docs(FIXTURES / "mixed.yaml")
        + load_docs(FIXTURES / "hardened-workloads.yaml")
    )


def as_json(findings) -> list[dict]:
    return [f.to_json() for f in findings]


@needs_trivy
def test_warm_cache_gives_identical_findings_without_running_trivy(tmp_path):
    docs = corpus()
    c = GateContext(env_data=PROD_ENV, cache_dir=tmp_path / "cache")
    cold = TrivyGate().run(docs, GateContext(env_data=PROD_ENV))  # no cache at all

    first = TrivyGate()
    filling = first.run(docs, c)
    assert first.scanned == len(docs) and first.cached == 0 and first.invocations == 1
    assert first.cache is not None and first.cache.misses == len(docs)

    warm_gate = TrivyGate()
    warm = warm_gate.run(docs, c)
    assert warm_gate.invocations == 0 and warm_gate.scanned == 0
    assert warm_gate.cached == warm_gate.cache_hits == warm_gate.cache.hits == len(docs)  # clean docs (empty results) hit too
    assert as_json(cold) == as_json(filling) == as_json(warm)
    assert any(f.rule_id == "KSV-0017" for f in warm)


@needs_trivy
@pytest.mark.slow  # three trivy runs; the warm-cache case above stays quick
def test_hits_are_relocated_to_where_the_document_is_now(tmp_path):
    c = GateContext(env_data=PROD_ENV, cache_dir=tmp_path / "cache")
    doc = load_docs(FIXTURES / "high-finding.yaml")[0]
    before = TrivyGate().run([doc], c)
    moved = replace(doc, file="rendered/staging/order-service/deployment-order-service.yaml", line=12,
                    source=SourceRef("services/order-service.yaml", 30))
    gate = TrivyGate()
    after = gate.run([moved], c)
    assert gate.cached == 1 and gate.invocations == 0
    assert [(f.rule_id, f.line + 10, moved.file, moved.source) for f in before] == [
        (f.rule_id, f.line, f.file, f.source) for f in after]
    assert as_json(after) == as_json(TrivyGate().run([moved], replace(c, cache_dir=None)))


@needs_trivy
@pytest.mark.slow  # three trivy runs; the warm-cache case above stays quick
def test_one_changed_document_is_the_only_one_scanned(tmp_path):
    docs = corpus()
    c = GateContext(env_data=PROD_ENV, cache_dir=tmp_path / "cache")
    TrivyGate().run(docs, c)
    changed = list(docs)
    i = next(k for k, d in enumerate(docs) if d.obj.get("kind") == "Service")
    changed[i] = replace(docs[i], text=docs[i].text.replace("port: 80", "port: 8081"))
    gate = TrivyGate()
    got = gate.run(changed, c)
    assert gate.scanned == 1 and gate.invocations == 1 and gate.cached == len(docs) - 1
    assert as_json(got) == as_json(TrivyGate().run(changed, replace(c, cache_dir=None)))


@needs_trivy
@pytest.mark.slow  # four trivy runs; ResultCache alone is checked with damaged entries above
def test_corrupted_entry_is_rescanned_and_rewritten(tmp_path):
    c = GateContext(env_data=PROD_ENV, cache_dir=tmp_path / "cache")
    doc = load_docs(FIXTURES / "high-finding.yaml")[0]
    cold = as_json(TrivyGate().run([doc], c))
    entries = [p for p in (tmp_path / "cache").rglob("*.json")]
    assert len(entries) == 1
    entries[0].write_bytes(entries[0].read_bytes()[:40])  # truncated
    gate = TrivyGate()
    assert as_json(gate.run([doc], c)) == cold and gate.scanned == 1
    # valid JSON whose records are not findings: also a miss, never trusted (the MAC alone refuses it)
    mac, _, payload = entries[0].read_bytes().partition(b"\n")
    entry = json.loads(payload)
    entry["findings"] = [{"rule_id": "KSV-0017"}]
    entries[0].write_bytes(mac + b"\n" + json.dumps(entry).encode())
    gate = TrivyGate()
    assert as_json(gate.run([doc], c)) == cold and gate.scanned == 1
    gate = TrivyGate()
    assert as_json(gate.run([doc], c)) == cold and gate.scanned == 0  # rewritten, hit again


@needs_trivy
@pytest.mark.slow  # four trivy runs; the salt in the key is checked alone above
def test_entries_of_another_trivy_version_or_config_are_not_used(tmp_path, monkeypatch):
    docs = load_docs(FIXTURES / "mixed.yaml")
    cache_dir = tmp_path / "cache"
    TrivyGate().run(docs, GateContext(cache_dir=cache_dir))
    # Test double: a wrapper around the REAL trivy that reports another
    # version (what an upgrade looks like to the cache); scans are real.
    real = find_trivy()
    wrapper = tmp_path / "trivy-upgraded"
    wrapper.write_text(f'#!/bin/sh\nif [ "$1" = "--version" ]; then echo "Version: 0.99.0"; exit 0; fi\nexec "{real}" "$@"\n')
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("DRYDOCK_TRIVY", str(wrapper))
    gate = TrivyGate()
    gate.run(docs, GateContext(cache_dir=cache_dir))
    assert gate.cached == 0 and gate.scanned == len(docs)
    assert json.loads(gate.cache.salt)["trivy_version"] == "0.99.0"  # the version itself is in the key
    monkeypatch.delenv("DRYDOCK_TRIVY")
    # other trusted registries (KSV-0125 data) are another salt too
    gate = TrivyGate()
    gate.run(docs, GateContext(cache_dir=cache_dir, env_data=PROD_ENV))
    assert gate.cached == 0 and gate.scanned == len(docs)
    # ... while the original configuration still hits
    gate = TrivyGate()
    gate.run(docs, GateContext(cache_dir=cache_dir))
    assert gate.cached == len(docs)


@needs_trivy
def test_duplicate_documents_are_scanned_once(tmp_path):
    doc = load_docs(FIXTURES / "high-finding.yaml")[0]
    twin = replace(doc, file="rendered/prod/order-service/deployment-order-service.yaml")
    gate = TrivyGate()
    got = gate.run([doc, twin], GateContext(env_data=PROD_ENV))
    assert gate.scanned == 1
    half = len(got) // 2
    assert [f.rule_id for f in got[:half]] == [f.rule_id for f in got[half:]]
    assert {f.file for f in got[half:]} == {twin.file}


@needs_trivy
def test_a_fully_cached_run_starts_no_trivy_process(tmp_path, monkeypatch):
    from generator.gate.engines import trivy as trivy_mod

    docs = load_docs(FIXTURES / "mixed.yaml")
    # Test double: the REAL trivy behind a wrapper that logs each start.
    log = tmp_path / "starts.log"
    wrapper = tmp_path / "trivy-logged"
    wrapper.write_text(f'#!/bin/sh\necho "$1" >> "{log}"\nexec "{find_trivy()}" "$@"\n')
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("DRYDOCK_TRIVY", str(wrapper))
    cold = as_json(TrivyGate().run(docs, GateContext(cache_dir=tmp_path / "cache")))
    assert log.read_text().split() == ["--version", "config"]
    log.write_text("")
    monkeypatch.setattr(trivy_mod, "_KNOWN_VERSIONS", {})  # as in a new process
    trivy_mod._version_of.cache_clear()
    gate = TrivyGate()
    assert as_json(gate.run(docs, GateContext(cache_dir=tmp_path / "cache"))) == cold
    assert gate.cached == len(docs) and log.read_text() == ""  # the version came from the MAC'd store
