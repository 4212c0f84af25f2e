"""`drydock check` end to end: the committed demo passes every gate; defects block with located findings."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from .conftest import REPO, run_drydock

PRIVILEGED = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: legacy
  namespace: shop
  labels:
    app.kubernetes.io/name: legacy
spec:
  replicas: 1
  selector:
    matchLabels:
      app.kubernetes.io/name: legacy
  template:
    metadata:
      labels:
        app.kubernetes.io/name: legacy
    spec:
      containers:
        - name: app
          image: registry.example.com/legacy:1.0.0
          securityContext:
            privileged: true
"""


@pytest.mark.parametrize("env", ["dev", "staging", "prod"])
def test_committed_demo_passes_all_gates(env: str):
    r = run_drydock("check", f"rendered/{env}", "--env", env, "--format", "json", cwd=REPO)
    assert r.code == 0, r.out[-3000:] + r.err
    report = json.loads(r.out)
    assert report["summary"]["blocking"] == 0
    assert report["summary"]["resources"] > 100


def test_a_privileged_deployment_blocks_with_trivy_and_rego_findings(tmp_path: Path):
    manifest = tmp_path / "legacy.yaml"
    manifest.write_text(PRIVILEGED)
    r = run_drydock("check", str(manifest), "--format", "json", cwd=tmp_path, process=True)  # a real exit status
    assert r.code == 1, r.err
    findings = json.loads(r.out)["findings"]
    trivy = [f for f in findings if f["engine"] == "trivy" or any(i.startswith("KSV-") for i in f["related_ids"])]
    assert trivy, findings
    privileged = [f for f in findings if f["rule_id"] == "DD-PSS-001"]
    assert privileged and privileged[0]["severity"] == "CRITICAL"
    # Trivy's privileged check is folded into the Rego finding: one defect, both ids.
    assert "KSV-0017" in privileged[0]["related_ids"]
    assert all(f["file"].endswith("legacy.yaml") and f["line"] >= 1 for f in findings)


def test_trivy_finding_alone_shows_engine_id_and_line(tmp_path: Path):
    manifest = tmp_path / "legacy.yaml"
    manifest.write_text(PRIVILEGED)
    r = run_drydock("check", str(manifest), "--engines", "trivy", "--format", "json", cwd=tmp_path)
    assert r.code == 1
    f = next(f for f in json.loads(r.out)["findings"] if f["rule_id"] == "KSV-0017")
    assert f["engine"] == "trivy" and f["severity"] in ("HIGH", "CRITICAL")
    # Trivy locates container-level defects at the container's first line.
    assert f["line"] == PRIVILEGED.splitlines().index("        - name: app") + 1


@pytest.mark.slow  # four full checks of prod
def test_shards_together_report_what_one_run_reports():
    whole = json.loads(run_drydock("check", "rendered/prod", "--env", "prod", "--format", "json", cwd=REPO).out)
    parts = [json.loads(run_drydock("check", "rendered/prod", "--env", "prod", "--shard", f"{i}/3",
                                    "--format", "json", cwd=REPO).out) for i in (1, 2, 3)]
    assert sum(p["summary"]["resources"] for p in parts) == whole["summary"]["resources"]
    key = lambda f: (f["rule_id"], f["file"], f["message"])  # noqa: E731
    assert sorted(key(f) for p in parts for f in p["findings"]) == sorted(key(f) for f in whole["findings"])


def test_bad_shard_spec_is_exit_2():
    r = run_drydock("check", "rendered/prod", "--shard", "4/3", cwd=REPO, process=True)  # a real exit status
    assert r.code == 2 and "--shard" in r.err


BAD_SCHEMA = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 1
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
        - name: web
          image: registry.example.com/web:1.0.0
          imagePullPolicyy: Always
          ports:
            - containerPort: "http"
---
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: web
  namespace: argocd
spec:
  project: default
  source: {repoURL: "https://example.com/r.git", path: web, targetRevision: main}
  destination: {server: "https://kubernetes.default.svc", namespace: web}
  syncPolicy:
    automated: yes-please
"""


def test_validate_names_file_line_and_field_for_each_schema_error(tmp_path: Path):
    (tmp_path / "bad.yaml").write_text(BAD_SCHEMA)
    r = run_drydock("validate", "bad.yaml", "--format", "json", cwd=tmp_path)
    assert r.code == 1, r.err
    found = {(f["line"], f["message"].split(":")[0]) for f in json.loads(r.out)["findings"]}
    lines = BAD_SCHEMA.splitlines()
    assert (lines.index("          imagePullPolicyy: Always") + 1,
            "spec.template.spec.containers[0].imagePullPolicyy") in found, found
    assert (lines.index('            - containerPort: "http"') + 1,
            "spec.template.spec.containers[0].ports[0].containerPort") in found, found
    assert (lines.index("    automated: yes-please") + 1, "spec.syncPolicy.automated") in found, found
