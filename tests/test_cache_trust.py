"""The result cache trusts only entries this machine wrote (issue 15 "Result cache"):
the default folder is the user cache folder, never a git-tracked one; entries carry an
HMAC keyed by a 0600 per-machine secret; a bad MAC is a miss; the library's default is
the CLI's."""
from __future__ import annotations

import multiprocessing
import os
import stat
import subprocess
from pathlib import Path

import pytest

from generator.errors import DrydockError, InputError
from generator.gate.cache import (MacStore, ResultCache, check_cache_dir, default_cache_dir, digest_key, key_file,
                                  machine_secret)

from .conftest import run_drydock

F1 = [{"rule_id": "KSV-0017", "title": "Privileged", "severity": "HIGH", "message": "m", "offset": 19}]


@pytest.fixture(autouse=True)
def private_dirs(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))
    monkeypatch.delenv("DRYDOCK_CACHE_KEY", raising=False)
    check_cache_dir.cache_clear()


def test_default_cache_is_the_user_cache_folder(tmp_path: Path, monkeypatch):
    assert default_cache_dir() == tmp_path / "xdg-cache" / "drydock"
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/path")  # the XDG spec says: ignore it
    assert default_cache_dir() == Path.home() / ".cache" / "drydock"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert default_cache_dir() == Path.home() / ".cache" / "drydock"


def test_library_default_equals_cli_default(tmp_path: Path):
    from generator.cli import State, _gate_opts
    from generator.pipeline import GateOptions

    cli_opts = _gate_opts(State(0, "never", False, tmp_path), "policy", "regorus", None, (), None, None, False, None)
    assert GateOptions().cache_dir == cli_opts.cache_dir == default_cache_dir()


def test_a_cli_run_fills_the_user_cache_and_nothing_in_the_repo(repo_copy: Path, tmp_path: Path):
    (repo_copy / "m.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, namespace: shop}\ndata: {A: b}\n")
    env = {"XDG_CACHE_HOME": str(tmp_path / "xdg-cache"), "XDG_CONFIG_HOME": str(tmp_path / "config")}
    r = run_drydock("check", "m.yaml", "--engines", "trivy", cwd=repo_copy, env=env)
    assert r.code == 0, r.err
    assert list((tmp_path / "xdg-cache" / "drydock").rglob("*.json"))
    assert not (repo_copy / ".drydock").exists()


# --- the per-machine key -------------------------------------------------------------------

def test_the_key_file_is_created_once_with_mode_0600():
    secret = machine_secret()
    path = key_file()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and len(secret) == 32
    assert machine_secret() == secret  # read back, not replaced


def _secret(q) -> None:
    q.put(machine_secret().hex())


def test_racing_processes_agree_on_one_key():
    ctx = multiprocessing.get_context("fork")
    q = ctx.Queue()
    procs = [ctx.Process(target=_secret, args=(q,)) for _ in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(30)
    assert len({q.get(timeout=5) for _ in procs}) == 1


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660])
def test_a_key_file_others_can_read_or_write_is_refused(mode: int):
    machine_secret()
    os.chmod(key_file(), mode)
    with pytest.raises(DrydockError, match="has mode"):
        machine_secret()


def test_a_key_file_owned_by_someone_else_is_refused():
    if os.geteuid() != 0:
        pytest.skip("chown needs root")  # pragma: no cover - CI runs as root in containers only
    machine_secret()
    os.chown(key_file(), 12345, 12345)
    with pytest.raises(DrydockError, match="owned by uid 12345"):
        machine_secret()


def test_a_symlinked_key_file_is_refused(tmp_path: Path):
    target = tmp_path / "planted.key"
    target.write_text("ab" * 32 + "\n")
    os.chmod(target, 0o600)
    key_file().parent.mkdir(parents=True)
    key_file().symlink_to(target)
    with pytest.raises(DrydockError, match="not a regular file"):
        machine_secret()


def test_a_bad_key_file_is_exit_2_with_a_fix(repo_copy: Path, tmp_path: Path):
    machine_secret()
    os.chmod(key_file(), 0o644)
    (repo_copy / "m.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, namespace: shop}\n")
    env = {"XDG_CACHE_HOME": str(tmp_path / "xdg-cache"), "XDG_CONFIG_HOME": str(tmp_path / "config")}
    r = run_drydock("check", "m.yaml", "--engines", "trivy", cwd=repo_copy, env=env)
    assert r.code == 2 and "error: cache key" in r.err and "chmod 600" in r.err and "Traceback" not in r.err


def test_the_key_can_come_from_the_environment(monkeypatch, tmp_path: Path):
    monkeypatch.setenv("DRYDOCK_CACHE_KEY", "cd" * 32)
    assert machine_secret() == bytes.fromhex("cd" * 32) and not key_file().exists()
    monkeypatch.setenv("DRYDOCK_CACHE_KEY", "short")
    with pytest.raises(DrydockError, match="DRYDOCK_CACHE_KEY"):
        machine_secret()


# --- entries: a bad MAC is a miss ----------------------------------------------------------

def test_an_entry_written_with_another_machines_key_is_a_miss(tmp_path: Path):
    theirs = ResultCache(tmp_path / "c", "salt", secret=b"x" * 32)
    theirs.put("doc", F1)  # e.g. restored from a CI cache or handed over in a pull request
    ours = ResultCache(tmp_path / "c", "salt")
    assert ours.get("doc") is None and ours.misses == 1
    ours.put("doc", F1)
    assert ours.get("doc") == F1


def test_an_edited_entry_is_a_miss(tmp_path: Path):
    c = ResultCache(tmp_path / "c", "salt")
    c.put("doc", F1)
    path = c.path_for(c.key("doc"))
    mac, _, payload = path.read_bytes().partition(b"\n")
    path.write_bytes(mac + b"\n" + payload.replace(b'"HIGH"', b'"LOW"'))
    assert c.get("doc") is None
    path.write_bytes(payload)  # the MAC line dropped
    assert c.get("doc") is None


def test_a_fifo_in_place_of_an_entry_is_a_miss_without_blocking(tmp_path: Path):
    """Reading a FIFO blocks until someone writes to it: the run would hang forever."""
    import threading

    c = ResultCache(tmp_path / "c", "salt")
    path = c.path_for(c.key("doc"))
    path.parent.mkdir(parents=True)
    os.mkfifo(path)
    got: list = []
    t = threading.Thread(target=lambda: got.append(c.get("doc")), daemon=True)
    t.start()
    t.join(20)
    if t.is_alive():  # unblock the reader before failing, so the test process can end
        fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK)
        os.close(fd)
        pytest.fail("a FIFO in the cache folder blocked the read")
    assert got == [None]


def test_a_symlinked_entry_is_a_miss_even_when_its_target_is_valid(tmp_path: Path):
    """An entry is read only from the cache folder itself: a link could point at a file someone
    else can change between runs."""
    c = ResultCache(tmp_path / "c", "salt")
    c.put("doc", F1)
    path = c.path_for(c.key("doc"))
    elsewhere = tmp_path / "elsewhere.json"
    path.rename(elsewhere)
    path.symlink_to(elsewhere)
    assert c.get("doc") is None


def test_a_huge_entry_is_a_miss_without_reading_it(tmp_path: Path, monkeypatch):
    import generator.gate.cache as cache

    c = ResultCache(tmp_path / "c", "salt")
    c.put("doc", F1)
    monkeypatch.setattr(cache, "MAX_ENTRY_BYTES", 16)  # a sparse 16 GiB file would make the point slowly
    assert c.get("doc") is None
    monkeypatch.undo()
    assert c.get("doc") == F1


def test_a_truncated_entry_is_a_miss(tmp_path: Path):
    c = ResultCache(tmp_path / "c", "salt")
    c.put("doc", F1)
    path = c.path_for(c.key("doc"))
    for size in (0, 10, 64, 65, len(path.read_bytes()) - 1):
        data = path.read_bytes()
        path.write_bytes(data[:size])
        assert c.get("doc") is None
        c.put("doc", F1)


def test_generic_store_round_trips_bytes_and_json(tmp_path: Path):
    s = MacStore(tmp_path / "s")
    key = digest_key("helm", "cert-manager", "v1.16.2", "values")
    assert digest_key("a", "bc") != digest_key("ab", "c")
    assert s.get_bytes(key) is None
    assert s.put_bytes(key, b"\x00kind: Deployment\n")
    assert s.get_bytes(key) == b"\x00kind: Deployment\n"
    assert s.put_json(key, {"docs": [1, 2]}) and s.get_json(key) == {"docs": [1, 2]}
    assert MacStore(tmp_path / "s", secret=b"y" * 32).get_json(key) is None
    with pytest.raises(ValueError):
        s.path_for("../../etc/passwd")


# --- never in a folder git tracks ----------------------------------------------------------

def _git_repo(path: Path) -> Path:
    path.mkdir()
    subprocess.run(["git", "init", "-q", str(path)], check=True)
    return path


def test_a_cache_folder_inside_a_git_work_tree_is_refused(tmp_path: Path):
    repo = _git_repo(tmp_path / "r")
    assert "inside the git work tree" in check_cache_dir(repo / "cache")
    (repo / ".gitignore").write_text("/cache/\n")
    check_cache_dir.cache_clear()
    assert check_cache_dir(repo / "cache") is None  # ignored: git will never carry it
    assert check_cache_dir(tmp_path / "outside") is None


def test_cli_refuses_a_configured_cache_dir_git_would_track(repo_copy: Path):
    subprocess.run(["git", "init", "-q", str(repo_copy)], check=True)
    (repo_copy / "m.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, namespace: shop}\n")
    r = run_drydock("check", "m.yaml", "--engines", "trivy", "--cache-dir", "gate-cache", cwd=repo_copy)
    assert r.code == 2 and "inside the git work tree" in r.err and "fix:" in r.err, r.err
    assert not (repo_copy / "gate-cache").exists()


def test_library_refuses_it_too(repo_copy: Path):
    from generator.pipeline import GateOptions, check_paths

    subprocess.run(["git", "init", "-q", str(repo_copy)], check=True)
    (repo_copy / "m.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, namespace: shop}\n")
    with pytest.raises(InputError):
        check_paths(repo_copy, [str(repo_copy / "m.yaml")], None, GateOptions(engines=("trivy",), cache_dir=repo_copy / "c"))
