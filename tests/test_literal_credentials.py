"""Literal credentials typed into inputs are findings at the input line (issue 15): blocking in
prod (DD-CRED-001, HIGH), MEDIUM elsewhere (DD-CRED-002), so they never reach rendered/prod."""
from __future__ import annotations

from pathlib import Path

import pytest

from generator.core import Severity
from generator.model import load_project
from generator.model.literals import literal_credentials

from .conftest import REPO, copy_inputs, run_drydock

SECRET = "hunter2-Vx9Qw"


def _line_of(path: Path, needle: str) -> int:
    return next(i for i, line in enumerate(path.read_text().splitlines(), 1) if needle in line)


def _add_config(repo: Path, service: str, lines: str) -> Path:
    svc = repo / "services" / f"{service}.yaml"
    text = svc.read_text()
    assert "  config:\n" in text
    svc.write_text(text.replace("  config:\n", "  config:\n" + lines, 1))
    return svc


def test_the_demo_has_no_literal_credentials():
    platform = load_project(REPO)
    assert all(literal_credentials(platform, env) == [] for env in platform.environments)


@pytest.mark.parametrize("line, why", [
    (f"    DB_PASSWORD: {SECRET}\n", "names a credential"),
    (f"    STRIPE_API_KEY: {SECRET}\n", "names a credential"),
    (f"    DATABASE_URL: postgres://orders:{SECRET}@db:5432/orders\n", "password in a URL"),
    (f"    JDBC: jdbc:postgresql://db/x?user=a&password={SECRET}\n", "credential parameter"),
    ("    UPSTREAM: AKIAIOSFODNN7EXAMPLE\n", "AWS access key"),
    ("    LICENSE: wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n", "high-entropy"),
])
def test_service_config_credential_is_found_at_its_line(tmp_path, line, why):
    repo = copy_inputs(tmp_path / "repo")
    svc = _add_config(repo, "order-service", line)
    platform = load_project(repo)
    prod = literal_credentials(platform, "prod")
    dev = literal_credentials(platform, "dev")
    assert [(f.rule_id, f.severity, f.file, f.line) for f in prod] == [
        ("DD-CRED-001", Severity.HIGH, "services/order-service.yaml", _line_of(svc, line.strip()))]
    assert [(f.rule_id, f.severity) for f in dev] == [("DD-CRED-002", Severity.MEDIUM)]
    assert why in prod[0].message and prod[0].source.line == prod[0].line
    assert SECRET not in prod[0].message and "AKIA" not in prod[0].message and "wJalr" not in prod[0].message


@pytest.mark.parametrize("line", [
    "    CACHE_KEY_PREFIX: products\n",
    "    TOKEN_TTL_SECONDS: 3600\n",
    "    PASSWORD_FILE: /run/secrets/db-password\n",
    "    SESSION_TOKEN_HEADER: X-Session-Token\n",
    "    DB_PASSWORD: ${DB_PASSWORD}\n",
    "    OIDC_SECRET_NAME: admin-oidc\n",
    "    UPSTREAM: https://api.example.com:8443/v1/@me\n",
    "    IMAGE_DIGEST: sha256:666f22ab8e773ae2ddcd0725df60a2232bfe8a3a7793b6b485392d8d39a491e9\n",
])
def test_values_about_credentials_are_not_credentials(tmp_path, line):
    repo = copy_inputs(tmp_path / "repo")
    _add_config(repo, "order-service", line)
    assert literal_credentials(load_project(repo), "prod") == []


def test_per_env_override_and_addon_values(tmp_path):
    repo = copy_inputs(tmp_path / "repo")
    svc = repo / "services" / "order-service.yaml"
    text = svc.read_text()
    assert "  overrides:\n    prod:\n" in text
    svc.write_text(text.replace("  overrides:\n    prod:\n",
                                f"  overrides:\n    prod:\n      config:\n        PAYMENT_TOKEN: {SECRET}\n", 1))
    env = repo / "environments" / "staging.yaml"
    env.write_text(env.read_text().rstrip("\n") + "\n  addons:\n    kube-prometheus-stack:\n      values:\n"
                   f"        grafana:\n          adminPassword: {SECRET}\n" if "  addons:" not in env.read_text()
                   else env.read_text().replace("  addons:\n", "  addons:\n    kube-prometheus-stack:\n      values:\n"
                                                f"        grafana:\n          adminPassword: {SECRET}\n", 1))
    platform = load_project(repo)
    prod = literal_credentials(platform, "prod")
    assert [(f.rule_id, f.file, f.line) for f in prod] == [
        ("DD-CRED-001", "services/order-service.yaml", _line_of(svc, "PAYMENT_TOKEN"))]
    staging = literal_credentials(platform, "staging")
    assert [(f.rule_id, f.file, f.line) for f in staging] == [
        ("DD-CRED-002", "environments/staging.yaml", _line_of(env, "adminPassword"))]
    assert "spec.addons.kube-prometheus-stack.values.grafana.adminPassword" in staging[0].message


def test_synth_prod_is_blocked_and_writes_nothing_and_never_prints_the_value(tmp_path):
    repo = copy_inputs(tmp_path / "repo")
    svc = _add_config(repo, "order-service", f"    DB_PASSWORD: {SECRET}\n")
    r = run_drydock("synth", "--env", "prod", "--engines", "schema,trivy", cwd=repo)
    assert r.code == 1, r.err
    out = r.out + r.err
    assert "DD-CRED-001" in out and f"services/order-service.yaml:{_line_of(svc, 'DB_PASSWORD')}" in out
    assert SECRET not in out
    assert not (repo / "rendered" / "prod").exists()
    r = run_drydock("synth", "--env", "dev", "--engines", "schema", "--format", "json", cwd=repo)
    assert r.code == 0, r.err  # MEDIUM is below dev's HIGH threshold: reported, not blocking
    assert "DD-CRED-002" in r.out and SECRET not in r.out + r.err


def test_rules_and_explain_know_the_input_rules(tmp_path):
    r = run_drydock("explain", "DD-CRED-001", cwd=REPO)
    assert r.code == 0 and "HIGH" in r.out and "spec.secrets" in r.out
    r = run_drydock("rules", cwd=REPO)
    assert "DD-CRED-002" in r.out and "MEDIUM" in r.out
