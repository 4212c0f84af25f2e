"""Findings a reviewer can act on, on manifests drydock did not write (issue 16).

tests/fixtures/realworld/corpus/ holds real-world-shaped manifests (an e-commerce demo,
deliberately insecure scenarios, `kubectl get -o yaml` typed Lists, OpenShift / Argo /
Knative workloads, a kustomize patch); tests/fixtures/realworld/lines/ holds one defect
per file, its line marked `# <- RULE-ID`. The gate runs with every engine (schema,
regorus, the real trivy) through the library, as `drydock check` does.
"""
from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from generator.core import Severity
from generator.gate import GateContext
from generator.gate.catalogue import all_rules, trivy_checks
from generator.gate.engines.rego import default_policy_dir, load_policies
from generator.gate.runner import run_gates
from generator.pipeline import GateOptions, check_paths
from generator.yamlio import read_manifests

from .conftest import copy_inputs, run_drydock

REPO = Path(__file__).resolve().parent.parent
FIXTURES = REPO / "tests" / "fixtures" / "realworld"
CORPUS = FIXTURES / "corpus"
LINES = FIXTURES / "lines"
MARK = re.compile(r"#\s*<-\s*(\S+)")


def markers() -> list[tuple[str, str, int]]:
    out = []
    for path in sorted(LINES.glob("*.yaml")):
        for n, text in enumerate(path.read_text().splitlines(), 1):
            m = MARK.search(text)
            if m:
                out.append((path.name, m.group(1), n))
    return out


@pytest.fixture(scope="module")
def report():
    """One `check` of both folders with every engine, foreign defaults (no --env)."""
    return check_paths(REPO, [str(CORPUS), str(LINES)], None, GateOptions())


@pytest.mark.parametrize("name,rule,line", markers(), ids=[f"{n}:{r}" for n, r, _ in markers()])
def test_the_reported_line_is_the_defects_line(report, name, rule, line):
    got = sorted(f.line for f in report.findings if f.rule_id == rule and f.file.endswith("/" + name))
    assert line in got, f"{rule} in {name}: expected line {line}, reported {got}"


def test_end_line_spans_the_offending_block(report):
    # A finding on a container without a field points at the container and spans it.
    f = next(f for f in report.findings if f.rule_id == "DD-PSS-008" and "envoy" in f.message)
    assert (f.line, f.end_line) == (56, 61)


def test_every_rule_has_one_severity_its_metadata_one(report):
    severities: dict[str, set[str]] = {}
    for f in report.findings:
        severities.setdefault(f.rule_id, set()).add(f.severity.name)
    assert {r: s for r, s in severities.items() if len(s) > 1} == {}
    for rule in load_policies().rules:
        assert severities.get(rule.id, {rule.severity.name}) == {rule.severity.name}, rule.id


def _same_defect_twice(findings) -> list[tuple]:
    """Our finding plus a Trivy finding of a folded id on the same container/volume/resource."""
    ours = [f for f in findings if f.engine != "trivy" and f.related_ids]
    dupes = []
    for t in (f for f in findings if f.engine == "trivy"):
        for o in ours:
            if (o.file, o.resource) == (t.file, t.resource) and t.rule_id in o.related_ids and o.scope \
                    and t.line <= o.scope[1] and o.scope[0] <= (t.end_line or t.line):
                dupes.append((o.rule_id, t.rule_id, t.file, t.line))
    return dupes


def test_one_finding_per_defect(report):
    assert _same_defect_twice(report.findings) == []
    # The pairs the issue names: seccomp, hostPath (ours twice), and the same image twice.
    by_res = {}
    for f in report.findings:
        by_res.setdefault((f.file, f.resource, f.line), set()).add(f.rule_id)
    assert not [k for k, ids in by_res.items() if {"DD-PSS-012", "KSV-0104"} <= ids]
    assert not [f for f in report.findings if f.rule_id == "DD-PSS-005" and ".sock" in f.message]  # DD-WKL-012's
    hostpath_volumes = [f for f in report.findings if f.rule_id == "DD-PSS-005"]
    assert hostpath_volumes and not [f for f in report.findings if f.rule_id == "DD-PSS-017" and "hostPath" in f.message]
    # A Trivy finding on another container is another defect and stays.
    assert any(f.rule_id == "KSV-0020" and "envoy" in f.message for f in report.findings)


def test_registry_defect_is_reported_once_with_the_envs_registries():
    docs = read_manifests([str(CORPUS / "shop-frontend.yaml")])
    ctx = GateContext(env="prod", env_data={"allowedRegistries": ["registry.example.com/"]},
                      policy_dirs=(default_policy_dir(),))
    findings = run_gates({"prod": docs}, {"prod": ctx})["prod"].findings
    ours = [f for f in findings if f.rule_id == "DD-WKL-010"]
    assert len(ours) == 2 and all(f.severity is Severity.HIGH for f in ours)  # server and envoy
    assert not [f for f in findings if f.rule_id == "KSV-0125"]
    assert _same_defect_twice(findings) == []


def test_check_never_exits_2_on_valid_manifests():
    r = run_drydock("check", str(CORPUS), str(LINES), "--format", "json", cwd=REPO)
    assert r.code == 1 and "Traceback" not in r.err and "error:" not in r.err
    out = json.loads(r.out)
    kinds = {f["resource"]["kind"] for f in out["findings"]}
    assert {"DeploymentConfig", "Rollout", "CronJob", "DaemonSet"} <= kinds  # read as pods
    assert any(f["rule_id"] == "DD-WKL-014" for f in out["findings"])  # the patch is not a silent pass
    assert out["summary"]["resources"] >= 30


def test_a_file_that_does_not_parse_is_a_finding_and_the_rest_is_gated(tmp_path):
    shutil.copy(LINES / "privileged.yaml", tmp_path / "privileged.yaml")
    (tmp_path / "broken.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: [x\ndata: {}\n")
    r = run_drydock("check", ".", "--engines", "policy", "--format", "json", cwd=tmp_path)
    assert r.code == 1 and "Traceback" not in r.err
    out = json.loads(r.out)
    bad = [f for f in out["findings"] if f["rule_id"] == "DD-INPUT-001"]
    assert len(bad) == 1 and bad[0]["file"] == "broken.yaml" and bad[0]["line"] == 5
    assert bad[0]["severity"] == "CRITICAL" and "YAML does not parse" in bad[0]["message"]
    assert any(f["rule_id"] == "DD-PSS-001" and f["file"] == "privileged.yaml" for f in out["findings"])
    text = run_drydock("check", ".", "--engines", "policy", cwd=tmp_path)
    assert text.code == 1 and "broken.yaml:5" in text.out


def test_drydock_inputs_stay_strict(tmp_path):
    copy_inputs(tmp_path)
    path = tmp_path / "services" / "order-service.yaml"
    path.write_text(path.read_text() + "  broken: [\n")
    r = run_drydock("synth", "--env", "dev", "--no-gate", cwd=tmp_path)
    assert r.code == 2 and "error:" in r.err and "order-service.yaml" in r.err


def test_rendered_env_path_implies_the_env_and_says_so():
    r = run_drydock("check", "rendered/prod", "--engines", "policy", "--format", "json", cwd=REPO)
    out = json.loads(r.out)
    assert out["settings"]["env"] == "prod" and "rendered/prod/" in out["settings"]["from"]
    assert out["summary"]["threshold"] == "MEDIUM"  # prod's threshold, not the foreign default
    text = run_drydock("check", "rendered/prod", "--engines", "policy", cwd=REPO)
    assert "settings: environment prod (from paths under rendered/prod/)" in text.out


UNPINNED = """\
# Source: services/order-service.yaml (generated by drydock; do not edit)
apiVersion: v1
kind: Pod
metadata: {name: order-service, namespace: ecommerce}
spec:
  containers:
    - name: app
      image: registry.example.com/ecommerce/order-service:latest
"""


def test_fix_hints_name_the_input_key_inside_a_drydock_repo_and_the_field_elsewhere(tmp_path):
    repo = copy_inputs(tmp_path / "repo")
    (repo / "pod.yaml").write_text(UNPINNED)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "pod.yaml").write_text(UNPINNED)

    def fix(cwd):
        r = run_drydock("check", "pod.yaml", "--engines", "policy", "--format", "json", cwd=cwd)
        return next(f["fix"] for f in json.loads(r.out)["findings"] if f["rule_id"] == "DD-WKL-008")

    assert "spec.images.versions" in fix(repo)
    assert "spec.images.versions" not in fix(elsewhere) and "container image" in fix(elsewhere)


def test_synth_source_is_the_input_line_that_produced_the_field(tmp_path):
    repo = copy_inputs(tmp_path)
    env = repo / "environments" / "dev.yaml"
    text = env.read_text()
    env.write_text(re.sub(r'(?m)^(\s+order-service:) "[^"]*"', r'\1 "latest"', text))
    version_line = next(n for n, ln in enumerate(env.read_text().splitlines(), 1) if "order-service: \"latest\"" in ln)
    r = run_drydock("synth", "--env", "dev", "--engines", "policy", "--out", str(tmp_path / "out"), "--format", "json",
                    cwd=repo)
    out = json.JSONDecoder().raw_decode(r.out)[0]
    found = [f for f in out["findings"] if f["rule_id"] == "DD-WKL-008" and "deployment-order-service" in f["file"]]
    assert found and found[0]["source"] == {"file": "environments/dev.yaml", "line": version_line}
    rendered = (tmp_path / "out" / "dev" / "order-service" / "deployment-order-service.yaml").read_text().splitlines()
    assert "image: " in rendered[found[0]["line"] - 1] and rendered[found[0]["line"] - 1].strip().endswith(":latest")


def test_explain_and_rules_cover_trivy_checks():
    r = run_drydock("explain", "KSV017", cwd=REPO)
    assert r.code == 0 and "KSV-0017  HIGH  Privileged" in r.out and "DD-PSS-001" in r.out
    r = run_drydock("explain", "KSV-0118", cwd=REPO)
    assert r.code == 0 and "No drydock rule covers this check" in r.out
    listed = {x["id"]: x for x in json.loads(run_drydock("rules", "--format", "json", cwd=REPO).out)}
    assert listed["KSV-0125"]["origin"] == "trivy" and listed["KSV-0125"]["related"] == ["DD-WKL-010"]
    assert listed["DD-INPUT-001"]["severity"] == "CRITICAL"


def test_every_trivy_id_our_rules_fold_is_a_real_trivy_check():
    known = trivy_checks()
    assert len(known) > 100
    for r in (r for r in all_rules() if r.origin == "policy"):
        assert set(r.related) <= set(known), (r.id, set(r.related) - set(known))
