"""ArgoCD app-of-apps: child per folder, add-ons pinned and early, waves from the dependency graph,
CRD-schema-valid objects. Renders in-process with generator.render.render_env."""
from __future__ import annotations

import copy
import fnmatch
import json
import re
import shutil
from pathlib import Path

import jsonschema
import pytest
import yaml

from generator.errors import InputError
from generator.model import load_project
from generator.model.types import DATASTORES, QUEUES
from generator.render import render_env

REPO = Path(__file__).resolve().parent.parent
ENVS = ("dev", "staging", "prod")
WAVE = "argocd.argoproj.io/sync-wave"
PINNED = re.compile(r"^v?\d+\.\d+\.\d+$")
SHARED_CRDS = Path("/work/shared/schemas/crds/argoproj.io")
VENDORED_CRDS = REPO / "generator" / "schemas" / "crds" / "argoproj.io"


@pytest.fixture(scope="module")
def platform():
    return load_project(REPO)


@pytest.fixture(scope="module")
def renders(platform):
    return {env: render_env(platform, env) for env in ENVS}


def argo_objects(rendered) -> dict[str, dict]:
    return {f.path.split("/", 1)[1]: f.obj for f in rendered.files if f.path.startswith("argocd/")}


def applications(rendered) -> list[dict]:
    return [o for o in argo_objects(rendered).values() if o["kind"] == "Application"]


def root_of(rendered) -> dict:
    roots = [a for a in applications(rendered) if a["metadata"]["name"].endswith("-root")]
    assert len(roots) == 1
    return roots[0]


def children(rendered) -> list[dict]:
    root = root_of(rendered)
    return [a for a in applications(rendered) if a is not root]


def folder_apps(rendered) -> dict[str, dict]:
    """rendered folder -> its child Application (directory sources only)."""
    out: dict[str, list[dict]] = {}
    prefix = f"rendered/{rendered.env}/"
    for a in children(rendered):
        path = a["spec"]["source"].get("path")
        if path is not None:
            assert path.startswith(prefix), path
            out.setdefault(path[len(prefix):], []).append(a)
    for folder, apps in out.items():
        assert len(apps) == 1, f"{folder} has {len(apps)} Applications"
    return {k: v[0] for k, v in out.items()}


def addon_apps(rendered) -> dict[str, dict]:
    return {a["spec"]["source"]["chart"]: a for a in children(rendered) if "chart" in a["spec"]["source"]}


def wave(obj: dict) -> int:
    value = obj["metadata"]["annotations"][WAVE]
    assert isinstance(value, str), "sync-wave must be a string"
    return int(value)


def folders(rendered) -> set[str]:
    return {f.path.split("/", 1)[0] for f in rendered.files} - {"argocd"}


def expand_braces(pattern: str) -> list[str]:
    m = re.fullmatch(r"\{(.*)\}", pattern)
    return m.group(1).split(",") if m else [pattern]


# -- add-ons ---------------------------------------------------------------------------------
@pytest.mark.parametrize("env", ENVS)
def test_addons_exist_pinned_and_before_every_app(env, platform, renders):
    rendered = renders[env]
    wanted = {n for n, conf in platform.environments[env].addons.items() if conf.get("enabled", True)}
    apps = {a["metadata"]["labels"]["app.kubernetes.io/name"]: a for a in children(rendered)
            if "chart" in a["spec"]["source"]}
    assert set(apps) == wanted
    assert wanted, "every demo env runs add-ons"
    app_waves = [wave(a) for a in folder_apps(rendered).values()]
    for name, app in apps.items():
        src = app["spec"]["source"]
        assert PINNED.match(src["targetRevision"]), (name, src["targetRevision"])
        assert src["repoURL"].startswith("https://") and src["chart"]
        assert src["helm"]["releaseName"] == name
        assert wave(app) < min(app_waves), f"{name} must sync before every app"


def test_disabled_addons_are_absent(renders):
    # environments/dev.yaml switches jaeger, the collector and VPA off
    dev = {a["metadata"]["labels"]["app.kubernetes.io/name"] for a in children(renders["dev"])}
    assert not {"jaeger", "opentelemetry-collector", "vertical-pod-autoscaler"} & dev
    prod = {a["metadata"]["labels"]["app.kubernetes.io/name"] for a in children(renders["prod"])}
    assert {"jaeger", "opentelemetry-collector", "vertical-pod-autoscaler"} <= prod


def test_cert_manager_installs_its_crds_and_addons_with_crds_use_server_side_apply(renders):
    for env in ENVS:
        apps = addon_apps(renders[env])
        cm = apps["cert-manager"]
        assert cm["spec"]["source"]["helm"]["valuesObject"]["crds"]["enabled"] is True
        assert cm["spec"]["source"]["targetRevision"].startswith("v1.16.")
        assert "ServerSideApply=true" in apps["kube-prometheus-stack"]["spec"]["syncPolicy"]["syncOptions"]


def test_addon_values_follow_the_environment(renders):
    dev, prod = addon_apps(renders["dev"]), addon_apps(renders["prod"])
    vals = lambda apps, n: apps[n]["spec"]["source"]["helm"]["valuesObject"]  # noqa: E731
    assert vals(dev, "ingress-nginx")["controller"]["replicaCount"] == 1
    assert vals(prod, "ingress-nginx")["controller"]["replicaCount"] == 3
    # monitoring basic (dev): no add-on ServiceMonitors; full+apm (prod): on, and after the Prometheus CRDs
    assert vals(dev, "ingress-nginx")["controller"]["metrics"]["serviceMonitor"]["enabled"] is False
    assert vals(prod, "ingress-nginx")["controller"]["metrics"]["serviceMonitor"]["enabled"] is True
    assert wave(prod["ingress-nginx"]) > wave(prod["kube-prometheus-stack"])
    assert wave(prod["opentelemetry-collector"]) > wave(prod["jaeger"])
    assert vals(prod, "kube-prometheus-stack")["prometheus"]["prometheusSpec"]["retention"] == "15d"


# -- one child per folder, root over the children ------------------------------------------------
@pytest.mark.parametrize("env", ENVS)
def test_every_folder_has_exactly_one_child_and_root_points_at_the_children(env, renders):
    rendered = renders[env]
    by_folder = folder_apps(rendered)
    assert set(by_folder) == folders(rendered), "no child for a missing folder, no folder without a child"
    assert {"platform", "order-service", "api-gateway"} <= set(by_folder)
    root = root_of(rendered)
    src = root["spec"]["source"]
    assert src["path"] == f"rendered/{env}/argocd"
    excluded = expand_braces(src["directory"]["exclude"])
    argo_files = argo_objects(rendered)
    root_file = next(p for p, o in argo_files.items() if o is root)
    assert root_file in excluded, "the root must not manage itself"
    assert root["spec"]["project"] not in {o["metadata"]["name"] for p, o in argo_files.items()
                                           if o["kind"] == "AppProject" and not any(fnmatch.fnmatch(p, e) for e in excluded)}
    managed = [o for p, o in argo_files.items() if not any(fnmatch.fnmatch(p, e) for e in excluded)]
    assert sorted(a["metadata"]["name"] for a in managed if a["kind"] == "Application") == \
        sorted(a["metadata"]["name"] for a in children(rendered))
    assert "finalizers" not in root["metadata"], "deleting the root must not cascade to the platform"
    for a in children(rendered):
        assert a["metadata"]["namespace"] == "argocd"
        assert a["metadata"]["finalizers"] == ["resources-finalizer.argocd.argoproj.io"]
        assert "CreateNamespace=true" in a["spec"]["syncPolicy"]["syncOptions"]
        assert a["spec"]["project"] != root["spec"]["project"]


@pytest.mark.parametrize("env", ENVS)
def test_project_allows_what_the_children_deploy(env, renders):
    rendered = renders[env]
    projects = {o["metadata"]["name"]: o for o in argo_objects(rendered).values()
                if o["kind"] == "AppProject" and not o["metadata"]["name"].endswith("-bootstrap")}
    by_folder = folder_apps(rendered)
    for a in children(rendered):
        project = projects[a["spec"]["project"]]
        spec = project["spec"]
        dests = {(d["server"], d["namespace"]) for d in spec["destinations"]}
        assert a["spec"]["source"]["repoURL"] in spec["sourceRepos"]
        assert (a["spec"]["destination"]["server"], a["spec"]["destination"]["namespace"]) in dests
        assert wave(a) > wave(project)
        assert spec["orphanedResources"]["warn"] is True
    app_project = projects[next(iter(by_folder.values()))["spec"]["project"]]
    assert all(a["spec"]["project"] == app_project["metadata"]["name"] for a in by_folder.values())
    dests = {n for _, n in ((d["server"], d["namespace"]) for d in app_project["spec"]["destinations"])}
    allowed = {(k["group"], k["kind"]) for k in app_project["spec"]["clusterResourceWhitelist"]}
    for f in rendered.files:
        if f.path.startswith("argocd/"):
            continue
        ns = f.obj["metadata"].get("namespace")
        group = f.obj["apiVersion"].split("/")[0] if "/" in f.obj["apiVersion"] else ""
        if ns:
            assert ns in dests, f.path
        else:
            assert (group, f.obj["kind"]) in allowed, f.path
    assert ("", "Namespace") in allowed
    # the folders' project has none of the add-ons' rights (tests/test_render_fixes.py has kube-system)
    assert "kube-system" not in dests and len(app_project["spec"]["sourceRepos"]) == 1


# -- waves from the dependency graph -----------------------------------------------------------------
def expected_edges(platform, rendered) -> dict[str, set[str]]:
    """Built from the service files directly (not from the builder's graph code)."""
    present = folders(rendered)
    edges: dict[str, set[str]] = {f: {"platform"} for f in present if f != "platform"}
    for name, svc in platform.services.items():
        edges[name] |= set(svc.depends_on_services) | {d for d in (*svc.datastores, *svc.queues) if d in present}
    return edges


@pytest.mark.parametrize("env", ENVS)
def test_each_app_waits_for_what_it_depends_on(env, platform, renders):
    rendered = renders[env]
    by_folder = folder_apps(rendered)
    waves = {f: wave(a) for f, a in by_folder.items()}
    edges = expected_edges(platform, rendered)
    checked = 0
    for app, deps in edges.items():
        for dep in deps:
            assert waves[app] > waves[dep], f"{app} (wave {waves[app]}) must come after {dep} (wave {waves[dep]})"
            checked += 1
    assert checked >= 15
    addon_waves = [wave(a) for a in addon_apps(rendered).values()]
    assert waves["platform"] > max(addon_waves)
    for store in (*DATASTORES, *QUEUES):
        if store in waves:
            assert waves[store] == 0
    # the demo's shape: backends < gateway < frontend/admin
    for backend in ("order-service", "product-service", "user-service"):
        assert waves[backend] < waves["api-gateway"]
    assert waves["api-gateway"] < waves["frontend"] and waves["api-gateway"] < waves["admin-panel"]


def _copy_repo(tmp_path: Path) -> Path:
    for name in ("services", "environments"):
        shutil.copytree(REPO / name, tmp_path / name)
    return tmp_path


def _set_service_deps(root: Path, service: str, deps: list[str]) -> None:
    path = root / "services" / f"{service}.yaml"
    data = yaml.safe_load(path.read_text())
    data["spec"].setdefault("dependsOn", {})["services"] = deps
    if not deps:
        del data["spec"]["dependsOn"]["services"]
    path.write_text(yaml.safe_dump(data, sort_keys=False))


def _waves(root: Path, env: str = "dev") -> dict[str, int]:
    return {f: wave(a) for f, a in folder_apps(render_env(load_project(root), env)).items()}


def test_changing_a_dependency_changes_the_waves(tmp_path, renders):
    before = {f: wave(a) for f, a in folder_apps(renders["dev"]).items()}
    root = _copy_repo(tmp_path)
    _set_service_deps(root, "order-service", ["user-service"])  # order-service now calls user-service
    after = _waves(root)
    assert after["order-service"] == after["user-service"] + 1 > before["order-service"]
    assert after["api-gateway"] == before["api-gateway"] + 1
    assert after["frontend"] == before["frontend"] + 1
    assert after["user-service"] == before["user-service"]
    _set_service_deps(root, "frontend", [])  # frontend no longer needs the gateway
    again = _waves(root)
    assert again["frontend"] < again["api-gateway"]
    assert again["admin-panel"] == after["admin-panel"]


def test_a_service_cycle_is_an_input_error_before_any_wave(tmp_path):
    root = _copy_repo(tmp_path)
    _set_service_deps(root, "user-service", ["frontend"])
    with pytest.raises(InputError, match="cycle"):
        load_project(root)


def test_graph_code_reports_cycles_and_survives_deep_chains(platform):
    from generator.constructs.argocd import compute_waves
    with pytest.raises(InputError, match="cycle: .*order-service"):
        compute_waves({"order-service": ("user-service",), "user-service": ("order-service",)}, platform)
    with pytest.raises(InputError, match="cycle"):
        compute_waves({"addon:a": ("addon:a",)}, platform)
    chain = {f"addon:n{i}": (f"addon:n{i + 1}",) for i in range(5000)}
    waves = compute_waves(chain, platform)
    assert waves["addon:n0"] == waves["addon:n4999"] + 4999  # no recursion limit, no loop


# -- resource waves inside apps, sync policy, ignoreDifferences ----------------------------------------
def test_resource_waves_order_config_before_workloads(renders):
    files = {f.path: f.obj for f in renders["staging"].files}
    ann = lambda p: files[p]["metadata"].get("annotations", {}).get(WAVE)  # noqa: E731
    assert ann("platform/namespace-ecommerce.yaml") == "-3"
    assert ann("order-service/serviceaccount-order-service.yaml") == "-2"
    assert ann("order-service/configmap-order-service-config.yaml") == "-1"
    assert ann("order-service/externalsecret-order-service-secrets.yaml") == "-1"
    assert ann("order-service/deployment-order-service.yaml") is None  # wave 0 is the default
    assert ann("order-service/horizontalpodautoscaler-order-service.yaml") == "1"


def test_existing_waves_and_hooks_are_left_alone():
    from generator.constructs.argocd import stamp_resource_waves
    objects = [
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}},
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "b", "annotations": {WAVE: "5"}}},
        {"apiVersion": "batch/v1", "kind": "Job",
         "metadata": {"name": "c", "annotations": {"argocd.argoproj.io/hook": "PreSync"}}},
        {"apiVersion": "v1", "kind": "ServiceAccount",
         "metadata": {"name": "d", "annotations": {"argocd.argoproj.io/hook": "PreSync"}}},
        {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "e", "annotations": {"keep": "me"}}},
    ]
    stamp_resource_waves(objects)
    out = {o["metadata"]["name"]: o["metadata"].get("annotations", {}) for o in objects}
    assert out["a"] == {WAVE: "-1"}
    assert out["b"] == {WAVE: "5"}
    assert WAVE not in out["c"] and WAVE not in out["d"]
    assert out["e"] == {"keep": "me", WAVE: "-1"}


def test_sync_policy_follows_the_env_file(renders):
    for env, prune in (("dev", True), ("staging", True), ("prod", False)):
        for a in applications(renders[env]):
            policy = a["spec"]["syncPolicy"]
            assert policy["automated"] == {"prune": prune, "selfHeal": True}, (env, a["metadata"]["name"])
            assert policy["retry"]["limit"] == 5 and policy["retry"]["backoff"]["factor"] == 2


def test_ignore_differences_for_hpa_replicas_and_rollouts(renders):
    def ignores(env, folder):
        return folder_apps(renders[env])[folder]["spec"].get("ignoreDifferences", [])
    assert ignores("dev", "order-service") == []  # no autoscaling in dev
    assert {"group": "apps", "kind": "Deployment", "name": "order-service",
            "jsonPointers": ["/spec/replicas"]} in ignores("staging", "order-service")
    prod = ignores("prod", "order-service")
    assert {"group": "argoproj.io", "kind": "Rollout", "name": "order-service",
            "jsonPointers": ["/spec/replicas"]} in prod
    assert any(d["kind"] == "Service" and any("rollouts-pod-template-hash" in e for e in d["jqPathExpressions"])
               for d in prod)
    for env in ENVS:
        for a in applications(renders[env]):
            if a["spec"].get("ignoreDifferences"):
                assert "RespectIgnoreDifferences=true" in a["spec"]["syncPolicy"]["syncOptions"]


# -- input keys ------------------------------------------------------------------------------------
def _edit_env(root: Path, env: str, edit) -> None:
    path = root / "environments" / f"{env}.yaml"
    data = yaml.safe_load(path.read_text())
    edit(data["spec"])
    path.write_text(yaml.safe_dump(data, sort_keys=False))


def test_addon_version_values_namespace_and_argocd_keys_from_the_env_file(tmp_path):
    root = _copy_repo(tmp_path)

    def edit(spec):
        spec["addons"]["cert-manager"] = {"version": "v1.17.1", "values": {"replicaCount": 5, "extra": {"a": [1]}}}
        spec["addons"]["fluent-bit"] = {"enabled": False}
        spec["addons"]["ingress-nginx"] = {"namespace": "edge"}
        spec["argocd"].update({"targetRevision": "v9.9.9", "destination": "https://dev.example.com:6443",
                               "namespace": "gitops", "retry": {"limit": 2, "backoff": {"maxDuration": "10m"}}})
    _edit_env(root, "dev", edit)
    rendered = render_env(load_project(root), "dev")
    apps = addon_apps(rendered)
    cm = apps["cert-manager"]["spec"]["source"]
    assert cm["targetRevision"] == "v1.17.1"
    assert cm["helm"]["valuesObject"]["replicaCount"] == 5
    assert cm["helm"]["valuesObject"]["extra"] == {"a": [1]}
    assert cm["helm"]["valuesObject"]["crds"]["enabled"] is True  # generated values kept
    assert "fluent-bit" not in apps
    assert apps["ingress-nginx"]["spec"]["destination"]["namespace"] == "edge"
    for a in applications(rendered):
        assert a["metadata"]["namespace"] == "gitops"
        assert a["spec"]["syncPolicy"]["retry"] == {"limit": 2, "backoff": {"duration": "5s", "factor": 2,
                                                                              "maxDuration": "10m"}}
    for a in children(rendered):
        assert a["spec"]["destination"]["server"] == "https://dev.example.com:6443"
        if "path" in a["spec"]["source"]:
            assert a["spec"]["source"]["targetRevision"] == "v9.9.9"
    root_app = root_of(rendered)
    assert root_app["spec"]["destination"]["server"] == "https://kubernetes.default.svc"  # where ArgoCD runs


@pytest.mark.parametrize("addons, message", [
    ({"jager": {"enabled": False}}, "unknown add-on 'jager'"),
    ({"cert-manager": {"version": "1.x"}}, "wrong form"),
    ({"cert-manager": {"values": "replicaCount=2"}}, "expected object"),
])
def test_bad_addon_keys_are_input_errors(tmp_path, addons, message):
    root = _copy_repo(tmp_path)
    _edit_env(root, "staging", lambda spec: spec["addons"].update(addons))
    with pytest.raises(InputError) as exc:
        load_project(root)
    assert message in str(exc.value) or any(message in p.message for p in exc.value.problems)


# -- CRD schemas ------------------------------------------------------------------------------------
def _crd_dirs() -> list[Path]:
    return [d for d in (SHARED_CRDS, VENDORED_CRDS) if d.is_dir()]


def _validator(directory: Path, kind: str):
    schema = json.loads((directory / f"{kind.lower()}_v1alpha1.json").read_text())
    return jsonschema.validators.validator_for(schema, default=jsonschema.Draft7Validator)(schema)


@pytest.mark.parametrize("env", ENVS)
def test_generated_objects_match_the_argoproj_crd_schemas(env, renders):
    objs = list(argo_objects(renders[env]).values())
    assert {o["kind"] for o in objs} == {"Application", "AppProject"}
    for directory in _crd_dirs():
        for o in objs:
            errors = sorted(_validator(directory, o["kind"]).iter_errors(o), key=str)
            assert not errors, f"{directory}: {o['metadata']['name']}: {errors[0].message}"


def test_the_schema_check_can_fail(renders):
    app = copy.deepcopy(children(renders["dev"])[0])
    app["spec"]["syncPolicy"]["retry"]["limit"] = "five"
    app["spec"]["sourc"] = app["spec"].pop("source")
    for directory in _crd_dirs():
        assert len(list(_validator(directory, "Application").iter_errors(app))) >= 2


def test_schema_gate_accepts_the_argocd_folder(renders):
    schema = pytest.importorskip("generator.gate.engines.schema")
    docs = [d for d in renders["prod"].documents() if "/argocd/" in d.file]
    findings, skipped = schema.validate_documents(docs, strict_kinds=True)
    assert not findings, [f.message for f in findings][:3]
    assert not skipped
