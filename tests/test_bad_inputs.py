"""The bad-input catalog: every folder in tests/bad_inputs/ is one way the inputs (or the
machine) can be wrong, and what drydock must say about it.

A case folder holds `case.yaml` and optionally `files/` (copied over a fresh copy of the demo
inputs: services/, environments/, policies/, waivers.yaml). case.yaml keys:

  args:      the drydock command line (list); `{repo}`, `{case}`, `{hang_url}` are substituted
  exit:      expected exit code
  message:   fragment of the expected message: in an `error:` line on stderr for exit 2,
             anywhere in stdout/stderr for exit 1 (gate findings are in the report)
  location:  optional `file:line` fragment that must appear in the same `error:` line
  baseline:  true to render `synth --all --no-gate` before the overlay (rendered/ exists)
  git:       true to `git init` + commit the repo (for `drydock diff`)
  delete:    paths (globs) to delete from the repo before the overlay
  generate:  [{path, head, fill, size}]: write `head`, then repeat `fill` until `size` bytes
  chmod:     {path: octal mode string} applied after the overlay
  env:       extra environment variables (values substituted like args)
  stdin:     text fed to the command
  server:    `hang`: a local TCP server that accepts and never answers, at {hang_url}

Every case runs the real CLI in a subprocess and asserts: the exit code, the message (and
location), no `Traceback` anywhere, and rendered/ byte-identical before and after the command.
See docs/reliability.md ("The catalog") for how to add one.
"""
from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import threading
from pathlib import Path

import pytest
import yaml

from .conftest import copy_inputs, run_drydock, tree_bytes

CATALOG = Path(__file__).resolve().parent / "bad_inputs"
CASES = sorted(p.name for p in CATALOG.iterdir() if (p / "case.yaml").is_file())
KNOWN_KEYS = {"description", "args", "exit", "message", "location", "baseline", "git", "delete", "generate",
              "chmod", "env", "stdin", "server"}


def load_case(name: str) -> dict:
    case = yaml.safe_load((CATALOG / name / "case.yaml").read_text())
    assert isinstance(case, dict), f"{name}/case.yaml must be a mapping"
    unknown = set(case) - KNOWN_KEYS
    assert not unknown, f"{name}/case.yaml: unknown keys {sorted(unknown)}"
    assert isinstance(case.get("args"), list) and case["args"], f"{name}: args must be a non-empty list"
    assert case.get("exit") in (0, 1, 2), f"{name}: exit must be 0, 1 or 2"
    if case["exit"] != 0:
        assert case.get("message"), f"{name}: a failing case needs a message fragment"
    return case


@pytest.fixture(scope="session")
def baseline_render(tmp_path_factory) -> Path:
    """rendered/ of the demo inputs (--no-gate), made once per session and copied per case."""
    repo = copy_inputs(tmp_path_factory.mktemp("baseline") / "repo")
    r = run_drydock("synth", "--all", "--no-gate", cwd=repo)
    assert r.code == 0, r.err
    return repo / "rendered"


class HangingServer:
    """Accepts TCP connections and never answers: a slow/hung OPA server."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.conns: list[socket.socket] = []
        self.closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.sock.getsockname()[1]}"

    def _accept(self) -> None:
        while not self.closed:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(conn)  # keep it open, read nothing, say nothing

    def close(self) -> None:
        self.closed = True
        for c in self.conns:
            c.close()
        self.sock.close()


def rendered_bytes(root: Path) -> dict[str, bytes]:
    """tree_bytes without the (empty, git-ignored) writer lock file any synth may create."""
    return {k: v for k, v in tree_bytes(root).items() if k != ".drydock.lock"}


def _sub(value: str, names: dict[str, str]) -> str:
    for k, v in names.items():
        value = value.replace("{" + k + "}", v)
    return value


def prepare(case_name: str, case: dict, repo: Path, baseline: Path | None) -> None:
    copy_inputs(repo)
    if case.get("baseline"):
        shutil.copytree(baseline, repo / "rendered")
    if case.get("git"):
        git = ["git", "-c", "user.email=t@example.com", "-c", "user.name=t", "-c", "commit.gpgsign=false"]
        subprocess.run(["git", "init", "-q", "-b", "main", str(repo)], check=True)
        subprocess.run(git + ["add", "-A"], cwd=repo, check=True)
        subprocess.run(git + ["commit", "-qm", "inputs"], cwd=repo, check=True)
    for pattern in case.get("delete", []):
        matches = glob.glob(str(repo / pattern))
        assert matches, f"{case_name}: delete pattern {pattern} matches nothing"
        for m in matches:
            shutil.rmtree(m) if os.path.isdir(m) else os.remove(m)
    files = CATALOG / case_name / "files"
    if files.is_dir():
        shutil.copytree(files, repo, dirs_exist_ok=True)  # keeps the exec bit of fake tools
    for g in case.get("generate", []):
        path = repo / g["path"]
        path.parent.mkdir(parents=True, exist_ok=True)
        data = g.get("head", "").encode()
        fill = g["fill"].encode()
        data += fill * ((int(g["size"]) - len(data)) // len(fill) + 1)
        path.write_bytes(data)
    for rel, mode in (case.get("chmod") or {}).items():
        os.chmod(repo / rel, int(str(mode), 8))


@pytest.mark.parametrize("case_name", CASES)
def test_bad_input(case_name: str, tmp_path: Path, request) -> None:
    case = load_case(case_name)
    repo = tmp_path / "repo"
    baseline = request.getfixturevalue("baseline_render") if case.get("baseline") else None
    prepare(case_name, case, repo, baseline)
    server = HangingServer() if case.get("server") == "hang" else None
    try:
        names = {"repo": str(repo), "case": str(CATALOG / case_name), "hang_url": server.url if server else ""}
        args = [_sub(str(a), names) for a in case["args"]]
        env = {k: _sub(str(v), names) for k, v in (case.get("env") or {}).items()}
        before = rendered_bytes(repo / "rendered")
        r = run_drydock(*args, cwd=repo, stdin=case.get("stdin"), env=env, timeout=120)
    finally:
        if server:
            server.close()
    shown = f"exit {r.code}\n--- stdout\n{r.out[-3000:]}\n--- stderr\n{r.err[-3000:]}"
    assert r.code == case["exit"], shown
    assert "Traceback" not in r.out + r.err, shown
    errors = [ln for ln in r.err.splitlines() if ln.startswith("error: ")]
    if case["exit"] == 2:
        hits = [ln for ln in errors if case["message"] in ln]
        assert hits, f"no `error:` line contains {case['message']!r}\n{shown}"
        if case.get("location"):
            assert any(case["location"] in ln for ln in hits), f"no matching error line names {case['location']!r}\n{shown}"
        assert "  fix: " in r.err, f"exit 2 without a fix line\n{shown}"
    elif case["exit"] == 1:
        assert case["message"] in r.out + r.err, shown
        if case.get("location"):
            assert case["location"] in r.out + r.err, shown
    else:
        assert not errors, shown
    assert rendered_bytes(repo / "rendered") == before, "the command changed rendered/"


def test_catalog_is_big_and_named_by_failure() -> None:
    assert len(CASES) >= 40, len(CASES)
    for name in CASES:
        assert name == name.lower() and " " not in name, name
        load_case(name)
