"""The engine registry and the platform engine through the runner and the real CLI."""
from __future__ import annotations

import datetime as dt
import json
import sys
import types
from pathlib import Path

import pytest

from generator.errors import EngineError
from generator.gate import GateContext
from generator.gate.engines import ALL_ENGINES, DEFAULT_ENGINES, ENGINES, EngineResult
from generator.gate.engines import platform as platform_engine
from generator.gate.runner import run_gates

from .conftest import run_drydock
from .platform_fixture import context, fresh, obj, to_docs, write_tree


def test_registry_names_every_gate_in_run_order():
    assert ALL_ENGINES == ("schema", "policy", "trivy", "platform")
    assert set(DEFAULT_ENGINES) <= set(ALL_ENGINES)
    assert [n for n in ALL_ENGINES if ENGINES[n].per_env] == ["policy", "platform"]


def test_every_engine_answers_with_an_engine_result():
    docs = to_docs({k: v for k, v in fresh().items() if "/shop/" in k})
    ctx = GateContext(env="dev")
    for name in ("schema", "policy", "platform"):
        result = ENGINES[name].run(docs, ctx)
        assert isinstance(result, EngineResult), name


def test_runner_reports_platform_findings_and_engines():
    tree = fresh()
    obj(tree, "deployment-shop")["metadata"]["namespace"] = "kube-system"
    docs = to_docs(tree)
    reports = run_gates({"dev": docs}, {"dev": context()}, engines=("platform",))
    report = reports["dev"]
    assert report.engines == ("platform",)
    assert [f.rule_id for f in report.blocking()] == ["DD-ARGO-001"]
    assert report.to_json()["summary"]["engines"] == ["platform"]


def test_extras_of_a_check_reach_the_json_report(monkeypatch):
    mod = types.ModuleType("generator.platform.fake_matrix")
    mod.check = lambda system, ctx: ([], {"reachability": {ctx.env: {"apps": len(system.apps)}}})
    monkeypatch.setitem(sys.modules, mod.__name__, mod)
    monkeypatch.setattr(platform_engine, "CHECK_MODULES", platform_engine.CHECK_MODULES + (mod.__name__,))
    report = run_gates({"dev": to_docs(fresh())}, {"dev": context()}, engines=("platform",))["dev"]
    assert report.to_json()["reachability"] == {"dev": {"apps": 5}}


def test_a_crashing_check_is_an_engine_error(monkeypatch):
    mod = types.ModuleType("generator.platform.broken")

    def check(system, ctx):
        raise KeyError("spec")
    mod.check = check
    monkeypatch.setitem(sys.modules, mod.__name__, mod)
    monkeypatch.setattr(platform_engine, "CHECK_MODULES", (mod.__name__,))
    with pytest.raises(EngineError, match="check 'broken' failed"):
        ENGINES["platform"].run(to_docs(fresh()), context())


def test_cli_check_with_platform_engine(tmp_path: Path):
    tree = fresh()
    obj(tree, "deployment-shop")["metadata"]["namespace"] = "kube-system"
    write_tree(tree, tmp_path)
    r = run_drydock("check", "rendered/dev", "--engines", "platform", "--charts", "charts", "--format", "json",
                    cwd=tmp_path)
    assert r.code == 1, r.err
    report = json.loads(r.out)
    assert report["summary"]["engines"] == ["platform"]
    ids = {f["rule_id"] for f in report["findings"]}
    # charts are not expanded here: the add-on CRDs are missing too, and that is reported, not skipped
    assert {"DD-ARGO-001", "DD-ARGO-005"} <= ids
    f = next(f for f in report["findings"] if f["rule_id"] == "DD-ARGO-001" and f["resource"]["kind"] == "Deployment")
    assert f["file"] == "rendered/dev/shop/deployment-shop.yaml" and f["line"] == 5 and f["fix"]


def test_cli_unknown_engine_lists_platform(tmp_path: Path):
    r = run_drydock("check", ".", "--engines", "platfrom", cwd=tmp_path)
    assert r.code == 2 and "platform" in r.err and "Traceback" not in r.err


def test_rules_and_explain_list_platform_rules(tmp_path: Path):
    r = run_drydock("rules", "--format", "json", cwd=tmp_path)
    ids = {x["id"] for x in json.loads(r.out)}
    assert {"DD-ARGO-001", "DD-ARGO-005", "DD-ARGO-010", "DD-ID-001", "DD-ID-006"} <= ids
    r = run_drydock("explain", "dd-id-005", cwd=tmp_path)
    assert r.code == 0 and "Fix:" in r.out and "generator/platform/identity.py" in r.out


def test_platform_findings_can_be_waived(tmp_path: Path):
    tree = fresh()
    obj(tree, "deployment-shop")["metadata"]["namespace"] = "kube-system"
    write_tree(tree, tmp_path)
    # A waiver names its env (issue 15), so the check runs under one: the demo's env files.
    from .conftest import copy_inputs
    copy_inputs(tmp_path)
    soon = (dt.date.today() + dt.timedelta(days=30)).isoformat()
    (tmp_path / "waivers.yaml").write_text(
        "apiVersion: drydock/v1\nkind: WaiverList\nwaivers:\n"
        "  - rule: DD-ARGO-001\n    resource: {kind: Deployment, namespace: kube-system, name: shop}\n"
        f"    env: dev\n    reason: moves to its own namespace next sprint\n    owner: team-shop\n    expires: '{soon}'\n")
    r = run_drydock("check", "rendered/dev/argocd", "rendered/dev/shop", "rendered/dev/platform", "--env", "dev",
                    "--engines", "platform", "--charts", "charts", "--format", "json", cwd=tmp_path)
    report = json.loads(r.out)
    waived = [f for f in report["findings"] if f["waived"]]
    assert [f["rule_id"] for f in waived] == ["DD-ARGO-001"]
    assert not any(f["rule_id"].startswith("DD-WAIVER") for f in report["findings"])


def test_env_data_names_all_environments_and_the_env_files_role_arns(tmp_path: Path):
    from generator.pipeline import GateOptions, _context, _role_arns, load_project

    from .conftest import REPO

    platform = load_project(REPO)
    ctx = _context(REPO, "dev", platform, GateOptions(), lambda m: None)
    assert ctx.env_data["environments"] == sorted(platform.environments)
    env_file = tmp_path / "prod.yaml"
    env_file.write_text("spec:\n  aws:\n    externalSecretsRole: arn:aws:iam::210987654321:role/prod-eso  # IRSA\n")
    assert _role_arns(env_file) == ["arn:aws:iam::210987654321:role/prod-eso"]
