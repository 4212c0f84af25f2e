"""The result cache must never change a report: cold == warm, also after policy, threshold or input changes."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from .conftest import run_drydock

pytestmark = pytest.mark.slow  # cold vs warm full runs: `pytest -m "not slow"` skips them


def _report(repo: Path, *extra: str) -> dict:
    r = run_drydock("synth", "--all", "--format", "json", "--out", str(repo / "out"),
                    "--cache-dir", str(repo / "cache"), *extra, cwd=repo)
    assert r.code in (0, 1), r.err
    report = json.loads(r.out)
    report["summary"].pop("cached")
    return report


def test_warm_runs_report_exactly_what_cold_runs_report(repo_copy: Path):
    cold = _report(repo_copy, "--no-cache")
    first = _report(repo_copy)  # fills the cache
    warm = _report(repo_copy)
    assert cold == first == warm
    hits = json.loads(run_drydock("synth", "--all", "--format", "json", "--out", str(repo_copy / "out"),
                                  "--cache-dir", str(repo_copy / "cache"), cwd=repo_copy).out)["summary"]["cached"]
    assert hits > 300  # every document was served from the cache


def test_threshold_policy_and_input_changes_match_a_cold_run(repo_copy: Path):
    _report(repo_copy)  # warm the cache
    # Threshold: stored findings are unfiltered, so a stricter threshold must block like a cold run does.
    assert _report(repo_copy, "--threshold", "LOW") == _report(repo_copy, "--threshold", "LOW", "--no-cache")
    # Policy: a new rule must show up on a warm run.
    rule = repo_copy / "policies" / "workload" / "no_debug_config.rego"
    rule.write_text('''# METADATA
# title: Debug logging in config
# description: Services must not ship with debug logging.
# custom:
#   id: DD-TST-001
#   severity: LOW
#   fix: Set LOG_LEVEL to info.
package drydock.rules.no_debug_config

import rego.v1

deny contains {"msg": "LOG_FORMAT is json", "doc": i} if {
\tsome i, d in input.documents
\td.object.kind == "ConfigMap"
\td.object.data.LOG_FORMAT == "json"
}
''')
    (repo_copy / "policies" / "workload" / "no_debug_config_test.rego").write_text(
        "package drydock.rules.no_debug_config_test\n\nimport rego.v1\n\nimport data.drydock.rules.no_debug_config\n\n"
        "test_fail_json if {\n\tinp := {\"documents\": [{\"object\": {\"kind\": \"ConfigMap\", \"data\": {\"LOG_FORMAT\": \"json\"}}}]}\n"
        "\tcount(no_debug_config.deny) == 1 with input as inp\n}\n\n"
        "test_pass_text if {\n\tinp := {\"documents\": [{\"object\": {\"kind\": \"ConfigMap\", \"data\": {\"LOG_FORMAT\": \"text\"}}}]}\n"
        "\tcount(no_debug_config.deny) == 0 with input as inp\n}\n")
    warm = _report(repo_copy)
    assert any(f["rule_id"] == "DD-TST-001" for f in warm["findings"])
    assert warm == _report(repo_copy, "--no-cache")
    # Inputs: one changed service re-scans only its documents, with the same result as cold.
    svc = repo_copy / "services" / "user-service.yaml"
    svc.write_text(svc.read_text().replace("SESSION_TTL_SECONDS: 3600", "SESSION_TTL_SECONDS: 7200"))
    assert _report(repo_copy) == _report(repo_copy, "--no-cache")
