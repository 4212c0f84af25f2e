"""Waivers: a valid one turns a blocking finding into a waived one; expired, unused or unknown ones fail the gate."""
from __future__ import annotations

import json
from pathlib import Path

from .conftest import run_drydock
from .test_check_cli import PRIVILEGED

WAIVER = """\
apiVersion: drydock/v1
kind: WaiverList
waivers:
  - rule: {rule}
    resource:
      kind: Deployment
      namespace: shop
      name: {name}
    reason: legacy agent needs it until the rewrite ships
    owner: team-legacy
    expires: "{expires}"
"""


def _check(tmp_path: Path, waiver: str) -> tuple[int, dict, str]:
    (tmp_path / "legacy.yaml").write_text(PRIVILEGED)
    (tmp_path / "waivers.yaml").write_text(waiver)
    # Foreign manifests (no --env, not under rendered/<env>/) get the repo's waivers only when named.
    r = run_drydock("check", "legacy.yaml", "--engines", "policy", "--format", "json", "--waivers", "waivers.yaml",
                    cwd=tmp_path)
    return r.code, json.loads(r.out) if r.out.strip() else {}, r.err


def test_repo_waivers_do_not_apply_to_foreign_manifests_unless_named(tmp_path: Path):
    (tmp_path / "legacy.yaml").write_text(PRIVILEGED)
    (tmp_path / "waivers.yaml").write_text(WAIVER.format(rule="DD-PSS-001", name="legacy", expires="2099-01-01"))
    r = run_drydock("check", "legacy.yaml", "--engines", "policy", "--format", "json", cwd=tmp_path)
    report = json.loads(r.out)
    assert r.code == 1 and "DD-PSS-001" in _blocking_ids(report)
    assert not any(f["rule_id"].startswith("DD-WAIVER") for f in report["findings"])  # nor fail as unused
    assert report["settings"]["env"] is None and "no repository waivers" in report["settings"]["note"]


def _blocking_ids(report: dict) -> set[str]:
    return {f["rule_id"] for f in report["findings"] if f["waived"] is None and f["severity"] in ("HIGH", "CRITICAL")}


def test_without_waivers_the_privileged_deployment_blocks(tmp_path: Path):
    code, report, _ = _check(tmp_path, "apiVersion: drydock/v1\nkind: WaiverList\nwaivers: []\n")
    assert code == 1 and "DD-PSS-001" in _blocking_ids(report)


def test_a_valid_waiver_turns_the_blocking_finding_into_a_waived_one(tmp_path: Path):
    code, report, _ = _check(tmp_path, WAIVER.format(rule="DD-PSS-001", name="legacy", expires="2099-01-01"))
    waived = [f for f in report["findings"] if f["rule_id"] == "DD-PSS-001"]
    assert waived and waived[0]["waived"] == {"reason": "legacy agent needs it until the rewrite ships",
                                              "owner": "team-legacy", "expires": "2099-01-01"}
    assert "DD-PSS-001" not in _blocking_ids(report)
    assert report["summary"]["waived"] >= 1


def test_a_waiver_also_matches_the_trivy_id_of_the_same_defect(tmp_path: Path):
    (tmp_path / "legacy.yaml").write_text(PRIVILEGED)
    (tmp_path / "waivers.yaml").write_text(WAIVER.format(rule="KSV-0017", name="leg*", expires="2099-01-01"))
    r = run_drydock("check", "legacy.yaml", "--format", "json", "--waivers", "waivers.yaml", cwd=tmp_path)
    f = next(f for f in json.loads(r.out)["findings"] if f["rule_id"] == "DD-PSS-001")
    assert f["waived"] is not None and "KSV-0017" in f["related_ids"]


def test_an_expired_waiver_fails_the_gate(tmp_path: Path):
    code, report, _ = _check(tmp_path, WAIVER.format(rule="DD-PSS-001", name="legacy", expires="2020-01-01"))
    assert code == 1
    expired = [f for f in report["findings"] if f["rule_id"] == "DD-WAIVER-001"]
    assert expired and "expired on 2020-01-01" in expired[0]["message"]
    assert expired[0]["file"] == "waivers.yaml" and expired[0]["line"] == 4
    assert "DD-PSS-001" in _blocking_ids(report)  # the expired waiver no longer covers it


def test_unused_and_unknown_waivers_fail_the_gate(tmp_path: Path):
    code, report, _ = _check(tmp_path, WAIVER.format(rule="DD-PSS-001", name="other", expires="2099-01-01"))
    assert code == 1 and any(f["rule_id"] == "DD-WAIVER-002" for f in report["findings"])
    code, report, _ = _check(tmp_path, WAIVER.format(rule="DD-NOPE-001", name="legacy", expires="2099-01-01"))
    assert code == 1 and any(f["rule_id"] == "DD-WAIVER-003" for f in report["findings"])
