"""The cache stays bounded: entries unused for 30 days go, then the least recently used until
the rest fit in 1 GiB; a gated run prunes once a day; `drydock cache prune` does it on demand.
Nothing that is not a cache entry is ever deleted."""
from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from generator.gate.cache import MacStore, digest_key, prune_cache_dir, prune_if_due

from .conftest import run_drydock

DAY = 86400


@pytest.fixture(autouse=True)
def private_dirs(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.delenv("DRYDOCK_CACHE_KEY", raising=False)


def _entries(store: MacStore, ages_days: list[float], size: int = 1000) -> list[Path]:
    """One entry per age (days since last use), `size` bytes of payload each."""
    now = time.time()
    paths = []
    for i, age in enumerate(ages_days):
        key = digest_key("entry", str(i))
        store.put_bytes(key, bytes([i % 256]) * size)
        path = store.path_for(key)
        os.utime(path, (now - age * DAY, now - age * DAY))
        paths.append(path)
    return paths


def test_entries_unused_for_max_days_go_and_recent_ones_stay(tmp_path: Path):
    store = MacStore(tmp_path / "cache")
    old, recent = _entries(store, [45, 2])
    removed, freed, kept = prune_cache_dir(tmp_path / "cache", max_days=30)
    assert (removed, old.exists(), recent.exists()) == (1, False, True)
    assert freed == kept == recent.stat().st_size  # the two entries are the same size


def test_over_the_size_limit_the_least_recently_used_go_first(tmp_path: Path):
    store = MacStore(tmp_path / "cache")
    paths = _entries(store, [5, 1, 3, 0, 4])  # all within 30 days
    one = paths[0].stat().st_size
    removed, _, kept = prune_cache_dir(tmp_path / "cache", max_bytes=2 * one)
    assert removed == 3 and kept == 2 * one
    assert [p.exists() for p in paths] == [False, True, False, True, False]


def test_files_that_are_not_entries_are_never_deleted(tmp_path: Path):
    store = MacStore(tmp_path / "cache")
    (entry,) = _entries(store, [90])
    keep = [tmp_path / "cache" / "notes.txt", entry.parent / "README", tmp_path / "cache" / "ab" / "not-hex.json"]
    for path in keep:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("mine")
        os.utime(path, (0, 0))
    prune_cache_dir(tmp_path / "cache", max_bytes=0, max_days=0)
    assert not entry.exists() and all(p.exists() for p in keep)
    assert (tmp_path / "cache" / "CACHEDIR.TAG").exists()


def test_a_folder_without_the_cache_tag_is_left_alone(tmp_path: Path):
    folder = tmp_path / "not-a-cache" / "ab"
    folder.mkdir(parents=True)
    entry = folder / ("c" * 62 + ".json")
    entry.write_text("x")
    os.utime(entry, (0, 0))
    assert prune_cache_dir(tmp_path / "not-a-cache", max_bytes=0, max_days=0) == (0, 0, 0)
    assert entry.exists()


def test_a_write_cut_short_leaves_a_temp_file_that_goes_after_an_hour(tmp_path: Path):
    store = MacStore(tmp_path / "cache")
    (entry,) = _entries(store, [0])
    stale, fresh = entry.parent / ".tmp-abc.json", entry.parent / ".tmp-def.json"
    for path in (stale, fresh):
        path.write_text("partial")
    os.utime(stale, (time.time() - 7200,) * 2)
    prune_cache_dir(tmp_path / "cache")
    assert (stale.exists(), fresh.exists(), entry.exists()) == (False, True, True)


def test_a_hit_counts_as_a_use(tmp_path: Path):
    store = MacStore(tmp_path / "cache")
    (entry,) = _entries(store, [40])
    assert store.get_bytes(digest_key("entry", "0")) is not None
    assert time.time() - entry.stat().st_mtime < 60
    assert prune_cache_dir(tmp_path / "cache")[0] == 0 and entry.exists()


def test_the_automatic_prune_runs_at_most_once_a_day(tmp_path: Path):
    store = MacStore(tmp_path / "cache")
    (first,) = _entries(store, [40])
    prune_if_due(tmp_path / "cache")
    assert not first.exists()
    second = _entries(MacStore(tmp_path / "cache"), [0, 40])[1]
    prune_if_due(tmp_path / "cache")
    assert second.exists()  # pruned less than a day ago
    os.utime(tmp_path / "cache" / ".last-prune", (time.time() - 2 * DAY,) * 2)
    prune_if_due(tmp_path / "cache")
    assert not second.exists()


def test_a_gated_run_prunes_the_cache_it_uses(repo_copy: Path, tmp_path: Path):
    cache = tmp_path / "cache"
    stale = _entries(MacStore(cache), [60])[0]
    r = run_drydock("check", "--engines", "schema", "--cache-dir", str(cache), str(repo_copy / "services"), cwd=repo_copy)
    assert r.code in (0, 1), r.err
    assert not stale.exists() and (cache / ".last-prune").exists()


def test_cache_prune_command(tmp_path: Path):
    cache = tmp_path / "cache"
    paths = _entries(MacStore(cache), [1, 0], size=600_000)
    r = run_drydock("cache", "prune", "--cache-dir", str(cache), "--max-size", "1M", cwd=tmp_path)
    assert r.code == 0 and "removed 1 entries (0.6 MiB); 0.6 MiB kept" in r.err
    assert [p.exists() for p in paths] == [False, True]
    for bad, says in (("--max-size", "1X"), ("--max-age", "-1")):
        r = run_drydock("cache", "prune", "--cache-dir", str(cache), bad, says, cwd=tmp_path)
        assert r.code == 2 and r.err.startswith("error: ") and "fix: " in r.err and "Traceback" not in r.err
