"""Rendering: deterministic files, the environment table, atomic writes and --check."""
from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml

from generator.model import load_project
from generator.render import render_env
from generator.render_worker import render_envs

from .conftest import REPO, run_drydock, tree_bytes

GOLDEN = Path(__file__).parent / "golden" / "render"
SERVICES = ["admin-panel", "api-gateway", "frontend", "order-service", "product-service", "user-service"]


@pytest.fixture(scope="module")
def renders():
    # Through the render worker processes that large renders use (the golden files and every
    # assertion below hold for them); tests/test_render_worker.py compares them with this process.
    platform = load_project(REPO)
    return render_envs(platform, list(platform.environments), workers=True)


def _objects(rendered, kind: str, folder: str | None = None) -> list[dict]:
    return [f.obj for f in rendered.files if f.obj["kind"] == kind and (folder is None or f.path.startswith(folder + "/"))]


def _workload(rendered, service: str) -> dict:
    objs = [f.obj for f in rendered.files if f.path.startswith(f"{service}/") and f.obj["kind"] in ("Deployment", "Rollout")]
    assert len(objs) == 1, f"{service}: expected one workload"
    return objs[0]


def test_dev_runs_one_replica_without_autoscaling(renders):
    dev = renders["dev"]
    for svc in SERVICES:
        w = _workload(dev, svc)
        assert w["kind"] == "Deployment" and w["spec"]["replicas"] == 1
        res = w["spec"]["template"]["spec"]["containers"][0]["resources"]
        assert res["limits"] == {"cpu": "500m", "memory": "512Mi"}
    assert not _objects(dev, "HorizontalPodAutoscaler") and not _objects(dev, "VerticalPodAutoscaler")


def test_staging_autoscales_from_two_replicas(renders):
    staging = renders["staging"]
    hpas = {h["metadata"]["name"]: h for h in _objects(staging, "HorizontalPodAutoscaler")}
    assert set(hpas) == set(SERVICES)
    assert all(h["spec"]["minReplicas"] >= 2 for h in hpas.values())
    for svc in SERVICES:
        res = _workload(staging, svc)["spec"]["template"]["spec"]["containers"][0]["resources"]
        assert res["requests"] == res["limits"] == {"cpu": "1", "memory": "1Gi"}
    assert not _objects(staging, "VerticalPodAutoscaler")


def test_prod_autoscales_from_three_with_vpa_and_canary(renders):
    prod = renders["prod"]
    hpas = {h["metadata"]["name"]: h for h in _objects(prod, "HorizontalPodAutoscaler")}
    vpas = {v["metadata"]["name"]: v for v in _objects(prod, "VerticalPodAutoscaler")}
    assert set(hpas) == set(vpas) == set(SERVICES)
    for svc in SERVICES:
        w = _workload(prod, svc)
        assert w["kind"] == "Rollout"
        steps = w["spec"]["strategy"]["canary"]["steps"]
        assert [s["setWeight"] for s in steps if "setWeight" in s] == [10, 50]
        assert hpas[svc]["spec"]["minReplicas"] >= 3
        assert hpas[svc]["spec"]["scaleTargetRef"]["kind"] == "Rollout"
        res = w["spec"]["template"]["spec"]["containers"][0]["resources"]
        assert res["limits"] == {"cpu": "2", "memory": "2Gi"}
        assert "@sha256:" in w["spec"]["template"]["spec"]["containers"][0]["image"]


def test_workloads_are_hardened_by_default(renders):
    for rendered in renders.values():
        for svc in SERVICES:
            pod = _workload(rendered, svc)["spec"]["template"]["spec"]
            c = pod["containers"][0]
            assert pod["automountServiceAccountToken"] is False
            assert pod["securityContext"]["runAsNonRoot"] is True
            assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
            sc = c["securityContext"]
            assert sc["readOnlyRootFilesystem"] and not sc["allowPrivilegeEscalation"]
            assert sc["capabilities"] == {"drop": ["ALL"]}
            assert {"livenessProbe", "readinessProbe"} <= set(c)


def test_names_are_stable_and_labelled(renders):
    for rendered in renders.values():
        for f in rendered.files:
            name = f.obj["metadata"]["name"]
            assert f.path.endswith(f"/{f.obj['kind'].lower()}-{name}.yaml")
            labels = f.obj["metadata"].get("labels", {})
            assert labels.get("app.kubernetes.io/managed-by") == "drydock", f.path


def test_render_is_deterministic_in_one_process():
    platform = load_project(REPO)
    a = render_env(platform, "prod")
    b = render_env(platform, "prod")
    assert [(f.path, f.text) for f in a.files] == [(f.path, f.text) for f in b.files]


@pytest.mark.slow  # two full synths; test_render_is_deterministic_in_one_process stays quick
def test_two_renders_into_different_out_dirs_are_byte_identical(repo_copy: Path, tmp_path: Path):
    for out in ("a", "b"):
        r = run_drydock("synth", "--all", "--no-gate", "--out", str(tmp_path / out), cwd=repo_copy)
        assert r.code == 0, r.err
    a, b = tree_bytes(tmp_path / "a"), tree_bytes(tmp_path / "b")
    assert a and a == b


def test_files_parse_back_to_the_rendered_objects(renders):
    for f in renders["prod"].files:
        assert f.text.startswith("# Source: ")
        assert yaml.safe_load(f.text) == f.obj


def test_libyaml_and_pure_python_emitters_write_the_same_bytes(renders):
    from generator.yamlio import DUMPER, PURE_DUMPER, dump_yaml

    if DUMPER is PURE_DUMPER:
        pytest.skip("libyaml not available: only the pure-Python emitter exists here")
    for rendered in renders.values():
        for f in rendered.files:
            assert dump_yaml(f.obj, DUMPER) == dump_yaml(f.obj, PURE_DUMPER), f.path


def test_golden_order_service_dev(renders):
    """Golden files for one service; regenerate with UPDATE_GOLDEN=1 after an intended change."""
    files = {f.path: f.text for f in renders["dev"].files if f.path.startswith("order-service/")}
    folder = GOLDEN / "dev"
    if os.environ.get("UPDATE_GOLDEN"):
        for old in folder.rglob("*.yaml"):
            old.unlink()
        for path, text in files.items():
            (folder / path).parent.mkdir(parents=True, exist_ok=True)
            (folder / path).write_text(text)
    expected = {p.relative_to(folder).as_posix(): p.read_text() for p in folder.rglob("*.yaml")}
    assert files == expected


def test_check_detects_stale_files_and_synth_fixes_them(repo_copy: Path):
    assert run_drydock("synth", "--all", "--no-gate", cwd=repo_copy).code == 0
    ok = run_drydock("synth", "--all", "--check", cwd=repo_copy)
    assert ok.code == 0, ok.out + ok.err
    svc = repo_copy / "services" / "order-service.yaml"
    svc.write_text(svc.read_text().replace("LOG_FORMAT: json", "LOG_FORMAT: json\n    FEATURE_GIFT_CARDS: \"true\""))
    stale = run_drydock("synth", "--all", "--check", cwd=repo_copy)
    assert stale.code == 1
    for env in ("dev", "staging", "prod"):
        assert f"stale: rendered/{env}/order-service/configmap-order-service-config.yaml" in stale.out
    assert "drydock synth --all" in stale.err
    assert run_drydock("synth", "--all", "--no-gate", cwd=repo_copy).code == 0
    assert run_drydock("synth", "--all", "--check", cwd=repo_copy).code == 0


def _remove_service(repo: Path, name: str) -> None:
    (repo / "services" / f"{name}.yaml").unlink()
    for env in (repo / "environments").glob("*.yaml"):
        env.write_text("".join(l for l in env.read_text().splitlines(keepends=True) if f"{name}:" not in l))


def test_check_lists_missing_and_extra_files(repo_copy: Path):
    assert run_drydock("synth", "--env", "dev", "--no-gate", cwd=repo_copy).code == 0
    (repo_copy / "rendered/dev/order-service/service-order-service.yaml").unlink()
    _remove_service(repo_copy, "admin-panel")
    r = run_drydock("synth", "--env", "dev", "--check", cwd=repo_copy)
    assert r.code == 1
    assert "missing: rendered/dev/order-service/service-order-service.yaml" in r.out
    assert "extra: rendered/dev/admin-panel/deployment-admin-panel.yaml" in r.out


def test_synth_prunes_owned_files_and_keeps_hand_written_ones(repo_copy: Path):
    assert run_drydock("synth", "--env", "dev", "--no-gate", cwd=repo_copy).code == 0
    notes = repo_copy / "rendered/dev/README.md"
    notes.write_text("hand-written notes\n")
    _remove_service(repo_copy, "admin-panel")
    assert run_drydock("synth", "--env", "dev", "--no-gate", cwd=repo_copy).code == 0
    assert not (repo_copy / "rendered/dev/admin-panel").exists()
    assert notes.read_text() == "hand-written notes\n"


def test_refuses_to_overwrite_a_file_it_does_not_own(repo_copy: Path):
    target = repo_copy / "rendered/dev/order-service/service-order-service.yaml"
    target.parent.mkdir(parents=True)
    target.write_text("# mine\n")
    r = run_drydock("synth", "--env", "dev", "--no-gate", cwd=repo_copy)
    assert r.code == 2 and "does not own it" in r.err and "Traceback" not in r.err
    assert target.read_text() == "# mine\n"


def test_unknown_environment_is_a_clear_error(repo_copy: Path):
    r = run_drydock("synth", "--env", "qa", "--no-gate", cwd=repo_copy)
    assert r.code == 2
    assert "unknown environment 'qa'" in r.err and "dev, prod, staging" in r.err


def test_committed_render_matches_the_inputs():
    """rendered/ is committed and must always equal a fresh `drydock synth --all` (what CI checks)."""
    r = run_drydock("synth", "--all", "--check", cwd=REPO)
    assert r.code == 0, r.out + r.err


def test_a_user_construct_lands_in_the_output(monkeypatch):
    """Our objects enter cdk8s in bulk; a construct that adds its own ApiObjects still renders them."""
    from constructs import Construct

    from generator import constructs
    from generator.constructs.base import cdk8s

    class Extra(Construct):
        def __init__(self, scope, cid, namespace: str):
            super().__init__(scope, cid)
            cm = cdk8s.ApiObject(self, "cm", api_version="v1", kind="ConfigMap",
                                 metadata={"name": "extra", "namespace": namespace,
                                           "labels": {"app.kubernetes.io/managed-by": "drydock"}})
            cm.add_json_patch(cdk8s.JsonPatch.add("/data", {"greeting": "hello"}))

    def build_extra(ctx, platform):
        Extra(ctx.chart("extras"), "extra", ctx.env.namespace)
        # the Python escape hatch: built-in objects are plain dicts until materialize()
        ctx.objects("frontend")[0]["metadata"].setdefault("annotations", {})["example.com/touched"] = "yes"

    monkeypatch.setattr(constructs, "PARTS", [*constructs.PARTS[:-1], build_extra, constructs.PARTS[-1]])
    rendered = render_env(load_project(REPO), "dev")
    files = {f.path: f for f in rendered.files}
    extra = files["extras/configmap-extra.yaml"]
    assert extra.obj["data"] == {"greeting": "hello"} and "greeting: hello" in extra.text
    assert "argocd/application-dev-extras.yaml" in files  # ArgoCD deploys the user's folder too
    touched = [f for f in rendered.files if f.path.startswith("frontend/")
               and f.obj["metadata"].get("annotations", {}).get("example.com/touched") == "yes"]
    assert len(touched) == 1


def test_chunked_includes_render_the_same_bytes(renders, monkeypatch):
    from generator.constructs import base

    monkeypatch.setattr(base, "INCLUDE_LIMIT", 64 * 1024)  # several Include files per env
    assert [(f.path, f.text) for f in render_env(load_project(REPO), "prod").files] == \
        [(f.path, f.text) for f in renders["prod"].files]


def test_include_chunks_respect_size_and_unique_ids(monkeypatch):
    import json as _json

    from generator.constructs import base

    monkeypatch.setattr(base, "INCLUDE_LIMIT", 300)
    objs = [{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": f"c{i}"}, "data": {"k": "v" * 50}}
            for i in range(6)]
    # same Include id ("a-b-configmap"), different objects: must not share an Include
    objs += [{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a-b"}},
             {"apiVersion": "v1", "kind": "b-ConfigMap", "metadata": {"name": "a"}}]
    chunks = base._chunks(objs)
    docs = [[_json.loads(d) for d in c.split("\n---\n")] for c in chunks]
    assert [o for c in docs for o in c] == objs
    for c in docs:
        ids = [base._include_id(o) for o in c]
        assert len(ids) == len(set(ids))
        assert len(c) == 1 or sum(len(_json.dumps(o)) for o in c) <= 300
