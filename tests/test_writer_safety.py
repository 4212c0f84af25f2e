"""write_env at its trust boundary (issue 15, Writes): it never follows a symbolic link, never
reads a FIFO, never deletes what it does not own, cleans only its own temporary folders, and
refuses an --out folder of someone else's files. Each refusal is exit 2 and says what it met."""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from generator.errors import InputError
from generator.render import RenderedEnv, RenderedFile
from generator.writer import INDEX, check_ownership, recover, repo_lock, write_env

from .conftest import copy_inputs, run_drydock


def env(files: dict[str, str], name: str = "dev") -> RenderedEnv:
    return RenderedEnv(name, tuple(RenderedFile(p, t, {}, None) for p, t in sorted(files.items())))


def land(root: Path, rendered: RenderedEnv) -> None:
    with repo_lock(root):
        recover(root)
        check_ownership(rendered, root)
        write_env(rendered, root)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    r = tmp_path / "rendered"
    land(r, env({"a/x.yaml": "x: 1\n", "b/y.yaml": "y: 1\n"}))
    return r


def leftovers(root: Path) -> list[str]:
    return sorted(p.name for p in root.iterdir() if p.name.startswith(".drydock") and p.name != ".drydock.lock")


def test_a_hand_written_link_is_carried_over_as_a_link(root, tmp_path):
    target = tmp_path / "outside.txt"
    target.write_text("OUTSIDE")
    os.symlink(target, root / "dev" / "a" / "notes.txt")
    os.symlink(tmp_path, root / "dev" / "linked-folder")
    land(root, env({"a/x.yaml": "x: 2\n", "b/y.yaml": "y: 1\n"}))
    assert os.readlink(root / "dev" / "a" / "notes.txt") == str(target)
    assert os.readlink(root / "dev" / "linked-folder") == str(tmp_path)
    assert target.read_text() == "OUTSIDE" and (root / "dev" / "a" / "x.yaml").read_text() == "x: 2\n"


@pytest.mark.parametrize("where", ["file", "folder", "env"])
def test_a_link_where_drydock_writes_is_refused_and_nothing_changes(root, tmp_path, where):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "x.yaml").write_text("KEEP")
    link = {"file": root / "dev" / "a" / "x.yaml", "folder": root / "dev" / "a", "env": root / "dev"}[where]
    if where == "env":
        os.rename(root / "dev", tmp_path / "real-dev")
    elif where == "folder":
        import shutil
        shutil.rmtree(link)
    else:
        link.unlink()
    os.symlink(outside / "x.yaml" if where == "file" else outside, link)
    with pytest.raises(InputError) as info:
        land(root, env({"a/x.yaml": "x: 2\n", "b/y.yaml": "y: 1\n"}))
    assert "symbolic link" in info.value.problems[0].render() and info.value.exit_code == 2
    assert link.is_symlink() and (outside / "x.yaml").read_text() == "KEEP"
    assert leftovers(root) == []


def test_a_fifo_is_refused_without_reading_it(root):
    os.mkfifo(root / "dev" / "a" / "pipe")
    with pytest.raises(InputError) as info:  # a read would block this test forever
        land(root, env({"a/x.yaml": "x: 2\n"}))
    assert "is a FIFO" in info.value.problems[0].render()
    assert (root / "dev" / "a" / "x.yaml").read_text() == "x: 1\n"


def test_hand_written_files_and_empty_folders_survive_pruning(root):
    (root / "dev" / "b" / "README.md").write_text("mine")
    (root / "dev" / "empty").mkdir()
    land(root, env({"a/x.yaml": "x: 1\n"}))  # b/y.yaml is pruned, b/README.md is not ours
    assert not (root / "dev" / "b" / "y.yaml").exists()
    assert (root / "dev" / "b" / "README.md").read_text() == "mine" and (root / "dev" / "empty").is_dir()


def test_recovery_removes_only_folders_it_can_prove_are_its_own(root):
    mine = root / ".drydock-new-dev-0123456789abcdef"
    mine.mkdir()
    (root / ".drydock-run-0123456789abcdef").write_text("")
    notes = root / ".drydock-notes"
    notes.mkdir()
    foreign = root / ".drydock-new-dev-1234"  # no marker: not created by a drydock run
    foreign.mkdir()
    (foreign / "f").write_text("keep")
    parked = root / ".drydock-old-staging-fedcba9876543210"  # a swap that died half way: put back
    parked.mkdir()
    (parked / INDEX).write_text(json.dumps({"version": 1, "env": "staging", "files": {}}))
    (root / ".drydock-run-fedcba9876543210").write_text("")
    recover(root)
    assert not mine.exists() and notes.is_dir() and (foreign / "f").read_text() == "keep"
    assert (root / "staging" / INDEX).exists() and not parked.exists()
    assert leftovers(root) == [".drydock-new-dev-1234", ".drydock-notes"]


def test_an_index_cannot_claim_files_outside_its_folder(root):
    (root / "dev" / INDEX).write_text(json.dumps({"version": 1, "env": "dev", "files": {"../../etc/passwd": "x"}}))
    with pytest.raises(InputError, match="is not a drydock index"):
        land(root, env({"a/x.yaml": "x: 1\n"}))


def test_out_into_a_folder_of_other_files_is_refused(tmp_path):
    repo = copy_inputs(tmp_path / "repo")
    home = tmp_path / "home"
    home.mkdir()
    (home / "thesis.tex").write_text("years of work")
    r = run_drydock("synth", "--env", "dev", "--no-gate", "--out", str(home), cwd=repo)
    assert r.code == 2, r.err
    assert "refusing to write into" in r.err and "thesis.tex" in r.err and "Traceback" not in r.err
    assert sorted(p.name for p in home.iterdir()) == ["thesis.tex"]
    out = tmp_path / "out"
    assert run_drydock("synth", "--env", "dev", "--no-gate", "--out", str(out), cwd=repo).code == 0
    r = run_drydock("synth", "--env", "dev", "--no-gate", "--out", str(out), cwd=repo)  # its own folder again
    assert r.code == 0, r.err
