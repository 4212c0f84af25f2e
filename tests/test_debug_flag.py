"""--debug: tracebacks only on request; -v/-q/--debug work before or after the subcommand."""
from __future__ import annotations

from pathlib import Path

import pytest

from .conftest import run_drydock

DUP = "apiVersion: drydock/v1\nkind: Service\nmetadata:\n  name: frontend\n  name: frontend\n"


@pytest.fixture
def broken_repo(repo_copy: Path) -> Path:
    (repo_copy / "services" / "frontend.yaml").write_text(DUP)
    return repo_copy


def _error_lines(err: str) -> list[str]:
    return [ln for ln in err.splitlines() if ln.startswith("error: ")]


def test_bad_input_has_no_traceback_without_debug(broken_repo):
    r = run_drydock("synth", "--env", "dev", "--no-gate", cwd=broken_repo, process=True)  # what a real process prints
    assert r.code == 2
    assert "Traceback" not in r.out + r.err
    assert any("duplicate key 'name'" in ln and "services/frontend.yaml:5" in ln for ln in _error_lines(r.err)), r.err


@pytest.mark.parametrize("argv", [
    ["--debug", "synth", "--env", "dev", "--no-gate"],
    ["synth", "--debug", "--env", "dev", "--no-gate"],
    ["synth", "--env", "dev", "--no-gate", "--debug"],
], ids=["before", "after-subcommand", "at-the-end"])
def test_debug_shows_the_traceback_and_still_exits_2(broken_repo, argv):
    r = run_drydock(*argv, cwd=broken_repo, process=True)
    assert r.code == 2, r.err
    assert "Traceback (most recent call last)" in r.err
    assert "InputError" in r.err  # the exception that carried the problem
    # The usual error line is still there, after the traceback.
    assert any("duplicate key 'name'" in ln for ln in _error_lines(r.err)), r.err


def test_internal_error_is_one_line_without_debug_and_a_traceback_with_it(monkeypatch, capsys, tmp_path):
    """A drydock bug (test double: the pipeline raises RuntimeError) is exit 2 with one error line and
    a hint to rerun with --debug; with --debug the traceback is shown too."""
    import generator.pipeline
    from generator import cli

    def boom(*a, **kw):
        raise RuntimeError("simulated bug")

    monkeypatch.setattr(generator.pipeline, "synth", boom)
    for argv, want_tb in ((["-C", str(tmp_path), "synth", "--env", "dev"], False),
                          (["-C", str(tmp_path), "synth", "--env", "dev", "--debug"], True)):
        with pytest.raises(SystemExit) as exit_info:
            cli.main(argv)
        out, err = capsys.readouterr()
        assert exit_info.value.code == 2
        assert "error: internal error: RuntimeError: simulated bug" in err
        assert "--debug" in err
        assert ("Traceback (most recent call last)" in err) is want_tb, err


def test_index_that_is_a_folder_is_an_input_error(repo_copy):
    (repo_copy / "rendered" / "dev" / ".index.json").mkdir(parents=True)
    r = run_drydock("synth", "--env", "dev", "--no-gate", cwd=repo_copy)
    assert r.code == 2
    assert "Traceback" not in r.out + r.err
    assert any("is not a drydock index" in ln for ln in _error_lines(r.err)), r.err
    assert "internal error" not in r.err


@pytest.mark.parametrize("argv", [["-v", "synth", "--env", "dev", "--no-gate"],
                                  ["synth", "--env", "dev", "--no-gate", "-v"]], ids=["before", "after"])
def test_verbose_works_before_and_after_the_subcommand(repo_copy, argv):
    r = run_drydock(*argv, cwd=repo_copy)
    assert r.code == 0, r.err
    assert "drydock: render: dev" in r.err
    assert "drydock: write: " in r.err


def test_quiet_after_the_subcommand(repo_copy):
    r = run_drydock("synth", "--env", "dev", "--no-gate", "-q", cwd=repo_copy)
    assert r.code == 0, r.err
    assert "wrote" not in r.err
