"""Engine answers are trusted only when complete and on time (issue 15 "Engines").

Fake trivy scripts are used only for what a real trivy cannot be made to do: drop a file
from its report, answer empty, or leave a child process holding its output pipe open.
Each fake wraps the real binary where it can, so everything else stays real.
"""
from __future__ import annotations

import socket
import sys
import threading
import time
from pathlib import Path

import pytest

from generator.gate.engines.trivy import find_trivy, is_kubernetes, parse_report

from .conftest import run_drydock
from .test_check_cli import PRIVILEGED

CLEAN = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n  namespace: shop\ndata:\n  A: b\n"


def _fake_trivy(tmp_path: Path, body: str) -> Path:
    """A trivy that answers --version like the real one and does `body` for scans."""
    real = find_trivy()
    path = tmp_path / "fake-trivy"
    path.write_text(f'#!/bin/sh\nif [ "$1" = "--version" ]; then exec "{real}" --version; fi\n{body}\n')
    path.chmod(0o755)
    return path


def _two_docs(repo: Path) -> None:
    (repo / "a.yaml").write_text(PRIVILEGED)
    (repo / "b.yaml").write_text(CLEAN)


def _check(repo: Path, trivy: Path | None, *args: str, env: dict | None = None, timeout: int = 120):
    env = {**(env or {}), **({"DRYDOCK_TRIVY": str(trivy)} if trivy else {})}
    return run_drydock("check", "a.yaml", "b.yaml", "--engines", "trivy", "--no-cache", *args, cwd=repo, env=env,
                       timeout=timeout)


# --- trivy must account for every file ----------------------------------------------------

def test_real_trivy_accounts_for_every_kubernetes_file(repo_copy: Path):
    _two_docs(repo_copy)
    r = _check(repo_copy, None)
    assert r.code == 1 and "KSV" in r.out, r.err  # the privileged one blocks; the clean one was accounted for


def test_a_report_that_omits_a_scanned_file_is_not_trusted(repo_copy: Path, tmp_path: Path):
    # Drop the Result of the clean document (a real trivy never does; a broken or tampered one might).
    drop = (f'"{find_trivy()}" "$@" | "{sys.executable}" -c "import json,sys; r=json.load(sys.stdin); '
            "r['Results']=[x for x in r.get('Results') or [] if not x['Target'].endswith('doc-00001.yaml')]; "
            'print(json.dumps(r))"')
    _two_docs(repo_copy)
    r = _check(repo_copy, _fake_trivy(tmp_path, drop))
    assert r.code == 2, r.out + r.err
    assert "accounts for 1 of 2 scanned files" in r.err and "doc-00001.yaml" in r.err and "Traceback" not in r.err


def test_an_empty_report_for_non_empty_input_is_not_trusted(repo_copy: Path, tmp_path: Path):
    _two_docs(repo_copy)
    r = _check(repo_copy, _fake_trivy(tmp_path, 'echo \'{"SchemaVersion": 2, "Results": []}\''))
    assert r.code == 2 and "the report is empty" in r.err and "0 of 2" in r.err, r.err


def test_documents_trivy_does_not_treat_as_kubernetes_are_not_required(repo_copy: Path):
    (repo_copy / "a.yaml").write_text(CLEAN)
    (repo_copy / "b.yaml").write_text("apiVersion: v1\nkind: Widget\n")  # no metadata: trivy skips it
    r = _check(repo_copy, None)
    assert r.code == 0, r.err
    assert not is_kubernetes({"apiVersion": "v1", "kind": "Widget"}) and is_kubernetes({"apiVersion": "v1", "kind": "A", "metadata": {}})


def test_parse_report_checks_completeness():
    report = '{"Results": [{"Target": "doc-00000.yaml", "MisconfSummary": {"Successes": 60, "Failures": 0}}]}'
    assert parse_report(report, ["doc-00000.yaml", "doc-00001.yaml"], ["doc-00000.yaml"]) == {"doc-00000.yaml": [], "doc-00001.yaml": []}
    with pytest.raises(ValueError, match="missing: doc-00001.yaml"):
        parse_report(report, ["doc-00000.yaml", "doc-00001.yaml"], ["doc-00000.yaml", "doc-00001.yaml"])
    # a Result without any check run does not count as accounting for the file
    with pytest.raises(ValueError):
        parse_report('{"Results": [{"Target": "doc-00000.yaml", "MisconfSummary": {"Successes": 0, "Failures": 0}}]}',
                     ["doc-00000.yaml"], ["doc-00000.yaml"])


# --- wall-clock deadlines -----------------------------------------------------------------

@pytest.mark.slow  # waits out a 3 s deadline; test_trivy's hanging trivy keeps a deadline in the inner loop
def test_a_trivy_whose_child_keeps_the_pipe_open_ends_at_the_deadline(repo_copy: Path, tmp_path: Path):
    # trivy "finishes" but leaves a child holding stdout: without a group kill the run waits 300 s.
    pidfile = tmp_path / "child.pid"
    body = (f'sleep 300 & echo $! > "{pidfile}"\n'
            'echo \'{"SchemaVersion": 2, "Results": []}\'\nexit 0')
    _two_docs(repo_copy)
    started = time.monotonic()
    r = _check(repo_copy, _fake_trivy(tmp_path, body), env={"DRYDOCK_TRIVY_TIMEOUT": "3"}, timeout=60)
    elapsed = time.monotonic() - started
    assert r.code == 2 and "timed out after 3 s" in r.err, r.err
    assert elapsed < 3 + 2 + 3, elapsed  # timeout + 2 s, plus the CLI's own start-up
    child = int(pidfile.read_text())
    assert _gone(child), "the lingering child was not killed with trivy's process group"


def _gone(pid: int) -> bool:
    for _ in range(50):
        try:
            state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
        except OSError:
            return True
        if state == "Z":
            return True
        time.sleep(0.1)
    return False


class TrickleServer:
    """An HTTP server on 127.0.0.1 that answers slowly: one byte per second, forever."""

    def __init__(self, fast_puts: bool):
        self.fast_puts = fast_puts
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.closed = False
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while not self.closed:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, conn: socket.socket) -> None:
        try:
            while not self.closed:
                head = b""
                while b"\r\n\r\n" not in head:
                    chunk = conn.recv(65536)
                    if not chunk:
                        return
                    head += chunk
                length = int(next((ln.split(b":")[1] for ln in head.split(b"\r\n") if ln.lower().startswith(b"content-length")), b"0"))
                body = head.split(b"\r\n\r\n", 1)[1]
                while len(body) < length:
                    body += conn.recv(65536)
                if self.fast_puts and head.startswith(b"PUT"):
                    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}")
                    continue
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n")
                while not self.closed:
                    conn.sendall(b" ")
                    time.sleep(1)
        except OSError:
            pass
        finally:
            conn.close()

    def close(self) -> None:
        self.closed = True
        self.sock.close()


@pytest.mark.slow  # each waits out a deadline (an OPA double); the bad-input case opa-server-hangs stays in the inner loop
@pytest.mark.parametrize("fast_puts", [False, True],
                         ids=["trickles-upload", "trickles-query"])
def test_an_opa_server_that_trickles_bytes_ends_at_the_deadline(repo_copy: Path, fast_puts: bool):
    server = TrickleServer(fast_puts)
    try:
        (repo_copy / "a.yaml").write_text(PRIVILEGED)
        started = time.monotonic()
        r = run_drydock("check", "a.yaml", "--engines", "policy", "--engine", "opa-server",
                        "--opa-url", f"http://127.0.0.1:{server.port}", cwd=repo_copy,
                        env={"DRYDOCK_OPA_TIMEOUT": "3"}, timeout=60)
        elapsed = time.monotonic() - started
    finally:
        server.close()
    assert r.code == 2 and "timed out after 3s (wall clock" in r.err and "Traceback" not in r.err, r.err
    assert ("policy upload" in r.err) != fast_puts and ("query" in r.err) == fast_puts
    assert elapsed < 3 + 2 + 3, elapsed  # timeout + 2 s, plus the CLI's own start-up


# --- requireTrivy -------------------------------------------------------------------------

def test_an_env_that_requires_trivy_refuses_a_write_without_it(repo_copy: Path):
    r = run_drydock("synth", "--env", "prod", "--engines", "schema,policy", "--out", str(repo_copy / "out"), cwd=repo_copy)
    assert r.code == 2 and "environment 'prod' sets gate.requireTrivy" in r.err, r.err
    assert "environments/prod.yaml:" in r.err and "fix:" in r.err and not (repo_copy / "out").exists()
    # --all includes prod: refused as well, before anything is written
    r = run_drydock("synth", "--all", "--engines", "policy", "--out", str(repo_copy / "out"), cwd=repo_copy)
    assert r.code == 2 and "'prod'" in r.err and not (repo_copy / "out").exists()


def test_no_gate_writes_but_warns_naming_the_env(repo_copy: Path):
    r = run_drydock("synth", "--env", "prod", "--no-gate", "--out", str(repo_copy / "out"), cwd=repo_copy)
    assert r.code == 0, r.err
    assert "warning: --no-gate: environment 'prod' sets gate.requireTrivy" in r.err
    r = run_drydock("synth", "--env", "dev", "--no-gate", "--out", str(repo_copy / "out"), cwd=repo_copy)
    assert r.code == 0 and "requireTrivy" not in r.err


def test_envs_without_require_trivy_and_reads_are_not_affected(repo_copy: Path):
    r = run_drydock("synth", "--env", "dev", "--engines", "schema", "--out", str(repo_copy / "out"), cwd=repo_copy)
    assert r.code == 0, r.err
    r = run_drydock("synth", "--env", "prod", "--engines", "schema", "--check", "--out", str(repo_copy / "out"), cwd=repo_copy)
    assert r.code in (0, 1) and "requireTrivy" not in r.err
