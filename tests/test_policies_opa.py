"""The OPA engines give the same findings as regorus, and fail closed.

No `opa` binary exists here. tests/opa_double.py puts OPA's REST API (for
OpaServerEngine through opa-python-client) and `opa eval` (for OpaCliEngine)
in front of the REAL OPA Go engine from PyPI `opa-golib-python-bindings`; only
the HTTP/CLI layer is a double. Skipped when that package is not installed.
"""
from __future__ import annotations

import os
import socket
import stat
import sys
from pathlib import Path

import pytest

pytest.importorskip("opa_bindings")

from generator.errors import EngineError
from generator.gate.engines.rego import (
    OpaServerEngine,
    clear_engine_cache,
    evaluate,
    load_policies,
)
from tests.opa_double import OpaServerDouble
from tests.test_policies_fixtures import BAD, GOOD, PROD_ENV, load_docs
from tests.test_policies_rego import doc, write_rule

# Slow (deselect with -m 'not slow'): OPA doubles and servers; the unmarked ones are the quick cases.

REPO = Path(__file__).resolve().parent.parent


def key(findings):
    return sorted((f.rule_id, f.message, f.file, f.line, f.resource) for f in findings)


@pytest.fixture(autouse=True)
def _fresh_engines():
    clear_engine_cache()
    yield
    clear_engine_cache()


@pytest.fixture(scope="module")
def server():
    with OpaServerDouble() as s:
        yield s


@pytest.fixture
def opa_on_path(tmp_path, monkeypatch):
    """A fake `opa` on PATH that runs tests/opa_double.py (real OPA engine behind it)."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    exe = bindir / "opa"
    exe.write_text(f"#!/bin/sh\nPYTHONPATH={REPO} exec {sys.executable} -m tests.opa_double \"$@\"\n")
    exe.chmod(exe.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ['PATH']}")
    return exe


@pytest.mark.slow
def test_opa_server_matches_regorus_on_every_fixture(server):
    for path in BAD + GOOD:
        docs = load_docs(path)
        want = evaluate(docs, PROD_ENV)
        got = evaluate(docs, PROD_ENV, engine="opa-server", opa_url=server.url)
        assert key(got) == key(want), path.name
        assert all(f.engine == "opa-server" for f in got)


@pytest.mark.slow
def test_opa_server_pushes_each_policy_once_and_queries_the_data_api(tmp_path):
    d = write_rule(tmp_path / "a")
    write_rule(tmp_path / "a" / "more", pkg="other", id="T-002")
    with OpaServerDouble() as s:
        bundle = load_policies([d])
        evaluate([doc()], engine="opa-server", opa_url=s.url, policy_dirs=[d])
        evaluate([doc()], engine="opa-server", opa_url=s.url, policy_dirs=[d])
        puts = [p for m, p in s.requests if m == "PUT"]
        posts = [p for m, p in s.requests if m == "POST"]
        assert len(puts) == len(bundle.modules) and all(p.startswith("/v1/policies/drydock/") for p in puts)
        assert posts == ["/v1/data/drydock/rules"] * 2


@pytest.mark.slow
def test_opa_server_restarted_without_policies_gets_them_again(tmp_path):
    d = write_rule(tmp_path)
    with OpaServerDouble() as s:
        first = evaluate([doc()], engine="opa-server", opa_url=s.url, policy_dirs=[d])
        s.store.__init__()  # the server lost every policy
        again = evaluate([doc()], engine="opa-server", opa_url=s.url, policy_dirs=[d])
        assert [f.message for f in first] == ["evil pod"] and key(again) == key(first)


@pytest.mark.slow
def test_opa_cli_matches_regorus(opa_on_path):
    for path in GOOD + [p for p in BAD if p.stem in ("dd-pss-001", "dd-xrs-005", "dd-wkl-013", "dd-plt-004")]:
        docs = load_docs(path)
        got = evaluate(docs, PROD_ENV, engine="opa")
        assert key(got) == key(evaluate(docs, PROD_ENV)), path.name
        assert all(f.engine == "opa" for f in got)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_unreachable_server_is_an_engine_error():
    url = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(EngineError) as e:
        evaluate([doc()], engine="opa-server", opa_url=url)
    p = e.value.problems[0]
    assert url in p.message and "opa run --server" in p.hint and "--engine regorus" in p.hint


@pytest.mark.slow
def test_slow_server_times_out(monkeypatch):
    monkeypatch.setenv("DRYDOCK_OPA_TIMEOUT", "0.3")
    with OpaServerDouble(delay=1.5) as s:
        with pytest.raises(EngineError, match="timed out"):
            evaluate([doc()], engine="opa-server", opa_url=s.url)


def test_server_rejects_invalid_rego_with_file_and_line(tmp_path):
    d = write_rule(tmp_path)
    (d / "evil.rego").write_text((d / "evil.rego").read_text().replace('== "evil"', "== "))
    with OpaServerDouble() as s:
        with pytest.raises(EngineError) as e:
            OpaServerEngine(load_policies([d]), s.url)
    p = e.value.problems[0]
    assert p.file and p.file.endswith("evil.rego") and p.line and "opa-server" in p.message


@pytest.mark.slow
def test_server_rejects_unknown_function_at_load(tmp_path):
    d = write_rule(tmp_path)
    (d / "evil.rego").write_text((d / "evil.rego").read_text().replace('"evil pod"', "no_such_fn(1)"))
    with OpaServerDouble() as s:
        with pytest.raises(EngineError) as e:
            evaluate([], engine="opa-server", opa_url=s.url, policy_dirs=[d])
    assert "no_such_fn" in e.value.problems[0].message and e.value.problems[0].file.endswith("evil.rego")


@pytest.mark.slow
def test_opa_cli_invalid_rego_is_an_engine_error(tmp_path, opa_on_path):
    d = write_rule(tmp_path / "p")
    (d / "evil.rego").write_text((d / "evil.rego").read_text().replace('== "evil"', "== "))
    with pytest.raises(EngineError) as e:
        evaluate([doc()], engine="opa", policy_dirs=[d])
    p = e.value.problems[0]
    assert p.file.endswith("evil.rego") and p.line and p.message.startswith("opa:")


def test_bad_opa_url_is_an_engine_error():
    with pytest.raises(EngineError, match="bad --opa-url"):
        evaluate([doc()], engine="opa-server", opa_url="ftp://x")
