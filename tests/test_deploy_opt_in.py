"""Environments opt in per service: a service runs in an env only when that env's
images.versions names it (or has a `default`). What an env needs is checked when that env
renders: a missing prod digest stops prod, not dev; a dependency must be deployed too."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from generator.errors import InputError
from generator.model import load_project
from generator.pipeline import synth
from generator.render import render_env

from .conftest import run_drydock


def _drop_version(repo: Path, env: str, svc: str) -> None:
    path = repo / "environments" / f"{env}.yaml"
    path.write_text(re.sub(rf"^      {svc}: .*\n", "", path.read_text(), flags=re.M))


def _set_versions_default(repo: Path, env: str, version: str) -> None:
    path = repo / "environments" / f"{env}.yaml"
    path.write_text(re.sub(r"^    versions:\n(      .*\n)+", f'    versions:\n      default: "{version}"\n',
                           path.read_text(), flags=re.M))


def _mentions(rendered, name: str) -> list[str]:
    return [f.path for f in rendered.files if name in f.text]


def test_a_service_missing_from_an_envs_versions_is_not_rendered_there(repo_copy: Path):
    _drop_version(repo_copy, "staging", "admin-panel")
    platform = load_project(repo_copy)
    assert platform.deployed("staging") == ["api-gateway", "frontend", "order-service", "product-service", "user-service"]
    staging, dev = render_env(platform, "staging"), render_env(platform, "dev")
    assert not _mentions(staging, "admin-panel")  # no workload, no ArgoCD app, no route, no NetworkPolicy peer
    assert any(p.startswith("admin-panel/") for p in _mentions(dev, "admin-panel"))
    argocd = [f for f in dev.files if f.path.startswith("argocd/") and "admin-panel" in f.path]
    assert argocd, "dev still has the admin-panel ArgoCD Application"


def test_netpol_of_a_dependency_admits_only_deployed_callers(repo_copy: Path):
    _drop_version(repo_copy, "staging", "admin-panel")  # admin-panel calls api-gateway
    platform = load_project(repo_copy)
    gw_staging = next(f for f in render_env(platform, "staging").files
                      if f.path == "api-gateway/networkpolicy-api-gateway.yaml")
    gw_dev = next(f for f in render_env(platform, "dev").files if f.path == "api-gateway/networkpolicy-api-gateway.yaml")
    assert "admin-panel" not in gw_staging.text and "admin-panel" in gw_dev.text


def test_a_default_version_deploys_every_service(repo_copy: Path):
    _set_versions_default(repo_copy, "dev", "9.9.9")
    platform = load_project(repo_copy)
    assert platform.deployed("dev") == sorted(platform.services)
    deployment = next(f for f in render_env(platform, "dev").files if f.path == "order-service/deployment-order-service.yaml")
    assert "order-service:9.9.9" in deployment.text


def test_a_deployed_service_whose_dependency_is_not_deployed_is_an_error_naming_both(repo_copy: Path):
    _drop_version(repo_copy, "staging", "api-gateway")  # frontend and admin-panel call it
    platform = load_project(repo_copy)  # loading is fine: only staging is affected
    render_env(platform, "dev")
    with pytest.raises(InputError) as exc:
        platform.for_env("staging")
    messages = [p.message for p in exc.value.problems]
    assert any("'frontend'" in m and "'api-gateway'" in m for m in messages), messages
    assert any("'admin-panel'" in m and "'api-gateway'" in m for m in messages), messages
    p = exc.value.problems[0]
    assert p.file == "environments/staging.yaml" and p.line and "api-gateway" in p.hint


def test_a_missing_prod_digest_stops_prod_not_dev(repo_copy: Path):
    prod = repo_copy / "environments" / "prod.yaml"
    prod.write_text(re.sub(r'(frontend: "1\.8\.2)@sha256:[0-9a-f]+"', r'\1"', prod.read_text()))
    ok = run_drydock("synth", "--env", "dev", "--no-gate", cwd=repo_copy)
    assert ok.code == 0, ok.err
    bad = run_drydock("synth", "--env", "prod", "--no-gate", cwd=repo_copy)
    assert bad.code == 2 and "'frontend' is not pinned by digest" in bad.err
    where = re.search(r"\(environments/prod\.yaml:(\d+)\)", bad.err)
    assert where and "frontend:" in prod.read_text().splitlines()[int(where.group(1)) - 1]
    assert not (repo_copy / "rendered" / "prod").exists()
    # --all needs every env: nothing is written, and the error names prod
    every = run_drydock("synth", "--all", "--no-gate", cwd=repo_copy)
    assert every.code == 2 and "environments/prod.yaml" in every.err


def test_synth_says_what_each_env_does_not_deploy_in_one_line(repo_copy: Path):
    _drop_version(repo_copy, "staging", "admin-panel")
    _drop_version(repo_copy, "prod", "admin-panel")
    _drop_version(repo_copy, "prod", "frontend")
    r = run_drydock("synth", "--all", "--no-gate", cwd=repo_copy)
    assert r.code == 0, r.err
    lines = [l for l in r.err.splitlines() if "not deployed" in l]
    assert lines == [
        "prod: not deployed (not in environments/prod.yaml images.versions): admin-panel, frontend",
        "staging: not deployed (not in environments/staging.yaml images.versions): admin-panel",
    ]
    assert not (repo_copy / "rendered/prod/admin-panel").exists() and (repo_copy / "rendered/dev/admin-panel").exists()
    quiet = run_drydock("-q", "synth", "--all", "--no-gate", cwd=repo_copy)
    assert quiet.code == 0 and quiet.out == "" and quiet.err == ""


def test_undeployed_services_leave_the_gate_passing(repo_copy: Path):
    """The gate sees a consistent render: no ArgoCD app points at a folder that is not rendered."""
    from generator.pipeline import GateOptions

    _drop_version(repo_copy, "staging", "admin-panel")
    (repo_copy / "waivers.yaml").unlink()  # waivers name Trivy findings; this gate runs schema + policy
    result = synth(repo_copy, ["staging"], opts=GateOptions(engines=("schema", "policy")))
    assert not result.blocked, [f.rule_id for r in result.reports.values() for f in r.blocking()]
    assert result.written == ["staging"]
