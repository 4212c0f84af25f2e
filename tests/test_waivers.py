"""Waivers: a valid one turns a blocking finding into a waived one; expired, unused or unknown
ones fail the gate; a waiver that is not exactly one rule, one resource, real envs, a real
reason/owner and a near expiry is bad input (exit 2 at its line) — issue 15."""
from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from generator.errors import InputError
from generator.gate.waivers import parse_waivers
from generator.model.yamlload import load_document

from .conftest import run_drydock
from .test_check_cli import PRIVILEGED

TODAY = dt.date.today()
SOON = (TODAY + dt.timedelta(days=90)).isoformat()

HEAD = "apiVersion: drydock/v1\nkind: WaiverList\nwaivers:\n"
ENTRY = """\
  - rule: {rule}
    resource:
      kind: Deployment
      namespace: shop
      name: {name}
    env: {env}
    reason: legacy agent needs it until the rewrite ships
    owner: team-legacy
    expires: "{expires}"
"""


def waiver(rule="DD-PSS-001", name="legacy", env="dev", expires=SOON, extra="") -> str:
    return HEAD + ENTRY.format(rule=rule, name=name, env=env, expires=expires) + extra


def _check(repo: Path, waivers: str, *args: str, env: str = "dev") -> tuple[int, dict, str]:
    (repo / "legacy.yaml").write_text(PRIVILEGED)
    (repo / "waivers.yaml").write_text(waivers)
    r = run_drydock("check", "legacy.yaml", "--env", env, "--engines", "policy", "--format", "json", *args, cwd=repo)
    return r.code, json.loads(r.out) if r.out.strip() else {}, r.err


def _blocking_ids(report: dict) -> set[str]:
    return {f["rule_id"] for f in report["findings"] if f["waived"] is None and f["severity"] in ("HIGH", "CRITICAL")}


def test_without_waivers_the_privileged_deployment_blocks(repo_copy: Path):
    code, report, _ = _check(repo_copy, HEAD.replace("waivers:\n", "waivers: []\n"))
    assert code == 1 and "DD-PSS-001" in _blocking_ids(report)


def test_a_valid_waiver_turns_the_blocking_finding_into_a_waived_one(repo_copy: Path):
    code, report, err = _check(repo_copy, waiver())
    waived = [f for f in report["findings"] if f["rule_id"] == "DD-PSS-001"]
    assert waived and waived[0]["waived"] == {"reason": "legacy agent needs it until the rewrite ships",
                                              "owner": "team-legacy", "expires": SOON}, err
    assert "DD-PSS-001" not in _blocking_ids(report)
    assert report["summary"]["waived"] >= 1
    assert report["summary"]["waived_by_severity"]["CRITICAL"] >= 1


def test_a_waiver_applies_only_in_the_envs_it_names(repo_copy: Path):
    code, report, _ = _check(repo_copy, waiver(env="[staging, prod]"), env="dev")
    assert code == 1 and "DD-PSS-001" in _blocking_ids(report)


def test_text_report_shows_reason_and_owner_beside_the_waived_finding(repo_copy: Path):
    (repo_copy / "legacy.yaml").write_text(PRIVILEGED)
    (repo_copy / "waivers.yaml").write_text(waiver())
    r = run_drydock("check", "legacy.yaml", "--env", "dev", "--engines", "policy", cwd=repo_copy)
    line = next(ln for ln in r.out.splitlines() if "DD-PSS-001" in ln and "waived" in ln)
    assert "team-legacy" in line and "legacy agent needs it until the rewrite ships" in line
    assert "Deployment/shop/legacy" in line


def test_a_waiver_also_matches_the_trivy_id_of_the_same_defect(repo_copy: Path):
    (repo_copy / "legacy.yaml").write_text(PRIVILEGED)
    (repo_copy / "waivers.yaml").write_text(waiver(rule="KSV-0017"))
    r = run_drydock("check", "legacy.yaml", "--env", "dev", "--format", "json", cwd=repo_copy)
    f = next(f for f in json.loads(r.out)["findings"] if f["rule_id"] == "DD-PSS-001")
    assert f["waived"] is not None and "KSV-0017" in f["related_ids"]


def test_an_expired_waiver_fails_the_gate(repo_copy: Path):
    code, report, _ = _check(repo_copy, waiver(expires="2020-01-01"))
    assert code == 1
    expired = [f for f in report["findings"] if f["rule_id"] == "DD-WAIVER-001"]
    assert expired and "expired on 2020-01-01" in expired[0]["message"]
    assert expired[0]["file"] == "waivers.yaml" and expired[0]["line"] == 4
    assert "DD-PSS-001" in _blocking_ids(report)  # the expired waiver no longer covers it


def test_an_unknown_rule_fails_the_gate(repo_copy: Path):
    code, report, _ = _check(repo_copy, waiver(rule="DD-NOPE-001"))
    assert code == 1 and any(f["rule_id"] == "DD-WAIVER-003" for f in report["findings"])


# --- unused waivers: judged only by a run that gates the waiver's whole env ----------------

def test_checking_one_file_does_not_fail_on_an_unrelated_waiver(repo_copy: Path):
    # The waiver is for a Deployment this file does not hold: the file cannot know it is unused.
    (repo_copy / "legacy.yaml").write_text(PRIVILEGED.replace("privileged: true", "privileged: false"))
    (repo_copy / "waivers.yaml").write_text(waiver(name="somewhere-else"))
    r = run_drydock("check", "legacy.yaml", "--env", "dev", "--engines", "policy", "--format", "json", cwd=repo_copy)
    report = json.loads(r.out)
    assert not any(f["rule_id"] == "DD-WAIVER-002" for f in report["findings"]), r.out


def test_the_repo_waivers_do_not_fail_a_check_of_one_rendered_file(repo_with_render: Path):
    # What the pre-commit hook does with a staged file: the repo's waivers name other objects.
    one = sorted((repo_with_render / "rendered" / "prod").rglob("rollout-*.yaml"))[0]
    r = run_drydock("check", str(one.relative_to(repo_with_render)), "--env", "prod", "--engines", "policy,trivy",
                    "--format", "json", "--no-cache", cwd=repo_with_render)
    assert not any(f["rule_id"] == "DD-WAIVER-002" for f in json.loads(r.out)["findings"]), r.out[-2000:]


def test_a_check_of_the_whole_env_fails_on_a_waiver_that_matches_nothing(repo_with_render: Path):
    (repo_with_render / "waivers.yaml").write_text(waiver(name="no-such-deployment"))
    r = run_drydock("check", "rendered/dev", "--env", "dev", "--engines", "policy", "--format", "json",
                    cwd=repo_with_render)
    report = json.loads(r.out)
    unused = [f for f in report["findings"] if f["rule_id"] == "DD-WAIVER-002"]
    assert r.code == 1 and unused and "env 'dev'" in unused[0]["message"]
    assert unused[0]["file"] == "waivers.yaml" and unused[0]["line"] == 4
    # the same waiver is not judged by a run of another env
    r = run_drydock("check", "rendered/staging", "--env", "staging", "--engines", "policy", "--format", "json",
                    cwd=repo_with_render)
    assert not any(f["rule_id"] == "DD-WAIVER-002" for f in json.loads(r.out)["findings"])


# --- CRITICAL in production needs a second person ----------------------------------------

def test_a_critical_finding_in_prod_needs_approved_by(repo_copy: Path):
    code, _, err = _check(repo_copy, waiver(env="prod"), env="prod")
    assert code == 2 and "approvedBy" in err and "(waivers.yaml:4)" in err and "Traceback" not in err
    code, report, err = _check(repo_copy, waiver(env="prod").rstrip("\n") + "\n    approvedBy: security-lead\n", env="prod")
    assert "DD-PSS-001" not in _blocking_ids(report), err
    # outside production the same waiver needs no approval
    code, report, _ = _check(repo_copy, waiver(env="staging"), env="staging")
    assert "DD-PSS-001" not in _blocking_ids(report)


# --- malformed waivers: exit 2 at the waiver's line ----------------------------------------

BAD = {
    "glob-rule": (waiver(rule='"DD-PSS-*"'), "rule", 4),
    "regex-rule": (waiver(rule='"DD-PSS-.*"'), "rule", 4),
    "two-rules": (waiver(rule="[DD-PSS-001, DD-PSS-002]"), "rule", 4),
    "lowercase-rule": (waiver(rule="dd-pss-001"), "rule", 4),
    "glob-name": (waiver(name='"leg*"'), "not an exact name", 8),
    "bracket-glob-name": (waiver(name='"legac[y]"'), "not an exact name", 8),
    "star-env": (waiver(env='"*"'), "env", 9),
    "glob-env": (waiver(env='"pro?"'), "env", 9),
    "unknown-env": (waiver(env="qa"), "unknown environment 'qa'", 9),
    "no-env": (waiver().replace("    env: dev\n", ""), "'env' is required", 4),
    "no-name": (waiver().replace("      name: legacy\n", ""), "resource.name is required", 5),
    "no-kind": (waiver().replace("      kind: Deployment\n", ""), "resource.kind is required", 5),
    "short-reason": (waiver().replace("legacy agent needs it until the rewrite ships", "legacy"), "reason", 10),
    "padded-reason": (waiver().replace("legacy agent needs it until the rewrite ships", '"  a   b   c   d   e  f  "'), "reason", 10),
    "blank-owner": (waiver().replace("owner: team-legacy", 'owner: "   "'), "owner", 11),
    "too-far": (waiver(expires=(TODAY + dt.timedelta(days=366)).isoformat()), "more than 365 days", 12),
    "not-a-date": (waiver(expires="next year"), "not a date", 12),
    "unknown-key": (waiver().replace("    owner:", "    ownr: x\n    owner:"), "unknown key 'ownr'", 11),
    # blank-looking text that str.split() does not see as blank
    "zero-width-reason": (waiver().replace("legacy agent needs it until the rewrite ships", '"' + "\u200b" * 20 + '"'), "reason", 10),
    "braille-blank-reason": (waiver().replace("legacy agent needs it until the rewrite ships", '"' + "\u2800" * 20 + '"'), "reason", 10),
    "punctuation-reason": (waiver().replace("legacy agent needs it until the rewrite ships", '"...............-----"'), "reason", 10),
    "zero-width-owner": (waiver().replace("owner: team-legacy", 'owner: "\u200b"'), "owner", 11),
    "hangul-filler-owner": (waiver().replace("owner: team-legacy", 'owner: "\u3164"'), "owner", 11),
    "dash-owner": (waiver().replace("owner: team-legacy", 'owner: "-"'), "owner", 11),
    "invisible-in-owner": (waiver().replace("owner: team-legacy", 'owner: "team\u200b-legacy"'), "invisible", 11),
    "owner-approves-own-waiver": (waiver(extra='    approvedBy: " Team-Legacy "\n'), "second person", 13),
    "zero-width-approver": (waiver(extra='    approvedBy: "\u200b"\n'), "approvedBy", 13),
    # expires: only YYYY-MM-DD (Python 3.11 also reads week dates and 20270101)
    "week-date": (waiver(expires=f"{TODAY.year + 1}-W01-1"), "not a date", 12),
    "unquoted-compact-date": (waiver().replace(f'expires: "{SOON}"', f"expires: {SOON.replace('-', '')}"), "not a date", 12),
    "feb-30": (waiver(expires=f"{TODAY.year + 1}-02-30"), "not a date", 12),
    # findings that say "nothing was checked" or judge waivers themselves are never waivable
    "unreadable-object": (waiver(rule="DD-INPUT-002"), "cannot be waived", 4),
    "unparsable-file": (waiver(rule="DD-INPUT-001"), "cannot be waived", 4),
    "expired-waiver": (waiver(rule="DD-WAIVER-001"), "cannot be waived", 4),
    "datetime-with-zone": (waiver(expires=f"{SOON}T00:00:00+14:00"), "not a date", 12),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_a_malformed_waiver_is_bad_input_at_its_line(repo_copy: Path, case: str):
    text, message, line = BAD[case]
    code, _, err = _check(repo_copy, text)
    assert code == 2, err
    assert "Traceback" not in err
    errors = [ln for ln in err.splitlines() if ln.startswith("error: ")]
    assert any(message in ln and f"waivers.yaml:{line}" in ln for ln in errors), err
    assert "  fix: " in err
    if case == "unknown-key":
        assert "did you mean 'owner'?" in err


def test_expiry_limit_is_365_days_from_today():
    def parse(expires: dt.date):
        data, lines = load_document(waiver(expires=expires.isoformat()), "w.yaml")
        return parse_waivers(data, lines, "w.yaml", envs=["dev"], today=TODAY)

    assert parse(TODAY + dt.timedelta(days=365))[0].expires == TODAY + dt.timedelta(days=365)
    with pytest.raises(InputError):
        parse(TODAY + dt.timedelta(days=366))


def test_the_repo_waiver_file_is_valid():
    from generator.gate.waivers import load_waivers

    repo = Path(__file__).resolve().parent.parent
    waivers = load_waivers(repo / "waivers.yaml", "waivers.yaml", envs=["dev", "staging", "prod"], root=repo)
    assert waivers and all(len(w.envs) >= 1 and "*" not in w.name for w in waivers)


def test_repo_waivers_do_not_apply_to_foreign_manifests(repo_copy: Path):
    """Without --env, a manifest outside rendered/<env>/ is foreign: no repo settings, no repo waivers."""
    (repo_copy / "legacy.yaml").write_text(PRIVILEGED)
    (repo_copy / "waivers.yaml").write_text(waiver())
    r = run_drydock("check", "legacy.yaml", "--engines", "policy", "--format", "json", cwd=repo_copy)
    report = json.loads(r.out)
    assert r.code == 1 and "DD-PSS-001" in _blocking_ids(report)
    assert not any(f["rule_id"].startswith("DD-WAIVER") for f in report["findings"])  # nor judged unused
    assert report["settings"]["env"] is None and "no repository waivers" in report["settings"]["note"]


DOCKER_SOCKET = PRIVILEGED.replace("""          securityContext:
            privileged: true
""", """          volumeMounts: [{name: sock, mountPath: /var/run/docker.sock}]
      volumes:
        - name: sock
          hostPath: {path: /var/run/docker.sock}
""")


def test_a_trivy_id_several_rules_fold_in_waives_none_of_them(repo_copy: Path):
    """KSV-0023 (hostPath) is folded into DD-PSS-005 (hostPath, HIGH) and DD-WKL-012 (docker
    socket, CRITICAL): a waiver meant for a hostPath must not silence the docker socket."""
    (repo_copy / "legacy.yaml").write_text(DOCKER_SOCKET)
    (repo_copy / "waivers.yaml").write_text(waiver(rule="KSV-0023"))
    r = run_drydock("check", "legacy.yaml", "--env", "dev", "--engines", "policy", "--format", "json", cwd=repo_copy)
    assert "DD-WKL-012" in _blocking_ids(json.loads(r.out)), r.err
    # naming our rule waives exactly that one
    (repo_copy / "waivers.yaml").write_text(waiver(rule="DD-WKL-012"))
    r = run_drydock("check", "legacy.yaml", "--env", "dev", "--engines", "policy", "--format", "json", cwd=repo_copy)
    assert "DD-WKL-012" not in _blocking_ids(json.loads(r.out)), r.err


def test_a_shared_trivy_id_waiver_is_reported_unused_with_the_reason():
    from generator.core import Finding, Resource, Severity
    from generator.gate.waivers import apply_waivers

    data, lines = load_document(waiver(rule="KSV-0023"), "w.yaml")
    (w,) = parse_waivers(data, lines, "w.yaml", envs=["dev"], today=TODAY)
    res = Resource("apps/v1", "Deployment", "shop", "legacy")
    f = Finding("DD-PSS-005", "hostPath", Severity.HIGH, "m", "policy", res, "legacy.yaml", 1,
                related_ids=("KSV-0023", "KSV-0121"))
    out = apply_waivers({"dev": [f]}, [w], {"DD-PSS-005"}, TODAY, ("policy", "trivy"), shared={"KSV-0023"})["dev"]
    assert out[0].waived is None
    unused = [x for x in out if x.rule_id == "DD-WAIVER-002"]
    assert unused and "name the drydock rule" in unused[0].fix
    # the same id folded into one rule only still waives it
    out = apply_waivers({"dev": [f]}, [w], {"DD-PSS-005"}, TODAY, ("policy", "trivy"))["dev"]
    assert out[0].waived is not None
