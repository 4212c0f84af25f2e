"""The add-on Applications, expanded by the real helm, fit the ArgoCD projects and carry the fixes.

Every Helm Application of every env is rendered with `helm template` (the chart at its pinned
version from the offline chart folder, the Application's release name, namespace and values),
as ArgoCD would, and the objects are checked against the project the Application belongs to.
helm is found as the platform engine finds it: DRYDOCK_HELM, else `helm` on PATH, else beside
the Python interpreter (the venv's bin, where the project's provisioning script installs it).
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
import yaml

from generator.model import load_project
from generator.render import render_env

REPO = Path(__file__).resolve().parent.parent
ENVS = ("dev", "staging", "prod")
IRSA = "eks.amazonaws.com/role-arn"
# Kinds that have no namespace (besides CRD-defined ones, read from the charts' CRDs).
CLUSTER_SCOPED = {
    ("", "Namespace"), ("", "PersistentVolume"), ("", "Node"),
    ("apiextensions.k8s.io", "CustomResourceDefinition"), ("apiregistration.k8s.io", "APIService"),
    ("rbac.authorization.k8s.io", "ClusterRole"), ("rbac.authorization.k8s.io", "ClusterRoleBinding"),
    ("admissionregistration.k8s.io", "ValidatingWebhookConfiguration"),
    ("admissionregistration.k8s.io", "MutatingWebhookConfiguration"),
    ("admissionregistration.k8s.io", "ValidatingAdmissionPolicy"),
    ("admissionregistration.k8s.io", "ValidatingAdmissionPolicyBinding"),
    ("networking.k8s.io", "IngressClass"), ("scheduling.k8s.io", "PriorityClass"),
    ("storage.k8s.io", "StorageClass"), ("storage.k8s.io", "CSIDriver"),
}


class _Loader(yaml.SafeLoader):
    pass


# CRDs in these charts contain a bare `=` (YAML's value tag); it is just the string "=".
_Loader.add_constructor("tag:yaml.org,2002:value", lambda loader, node: loader.construct_scalar(node))


def find_helm() -> str:
    candidates = [os.environ.get("DRYDOCK_HELM"), shutil.which("helm"), str(Path(sys.executable).parent / "helm")]
    for c in candidates:
        if c and Path(c).is_file() and os.access(c, os.X_OK):
            return c
    pytest.fail("helm not found (DRYDOCK_HELM, PATH, or the venv's bin): install it with the README's test command")


def charts_dir() -> Path:
    return Path(os.environ.get("DRYDOCK_CHARTS") or REPO / ".." / "shared" / "charts").resolve()


def chart_folder(source: dict) -> Path:
    root = charts_dir()
    index = yaml.safe_load((root / "index.yaml").read_text())["charts"]
    for c in index:
        if (c["repoURL"].rstrip("/"), c["chart"], str(c["version"])) == \
                (source["repoURL"].rstrip("/"), source["chart"], str(source["targetRevision"])):
            return root / c["path"]
    pytest.fail(f"chart {source['chart']} {source['targetRevision']} is not in {root}/index.yaml")


def helm_template(helm: str, app: dict) -> list[dict]:
    src, ns = app["spec"]["source"], app["spec"]["destination"]["namespace"]
    with tempfile.TemporaryDirectory() as home:
        values = Path(home) / "values.yaml"
        values.write_text(yaml.safe_dump(src["helm"].get("valuesObject", {})))
        env = {"PATH": os.environ.get("PATH", ""), "HOME": home, "XDG_CACHE_HOME": home,
               "XDG_CONFIG_HOME": home, "XDG_DATA_HOME": home}
        proc = subprocess.run([helm, "template", src["helm"]["releaseName"], str(chart_folder(src)), "-n", ns,
                               "-f", str(values), "--include-crds"], capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, f"{app['metadata']['name']}: {proc.stderr[-2000:]}"
    return [d for d in yaml.load_all(proc.stdout, Loader=_Loader) if isinstance(d, dict) and d.get("kind")]


@pytest.fixture(scope="module")
def expanded():
    """env -> (rendered objects, {Application name: (Application, [objects])})."""
    helm = find_helm()
    platform = load_project(REPO)
    out = {}
    for env in ENVS:
        objs = [f.obj for f in render_env(platform, env).files]
        apps = {o["metadata"]["name"]: o for o in objs
                if o["kind"] == "Application" and "chart" in o["spec"].get("source", {})}
        out[env] = (objs, {n: (a, helm_template(helm, a)) for n, a in sorted(apps.items())})
    return out


def group_of(obj: dict) -> str:
    return obj["apiVersion"].split("/")[0] if "/" in obj["apiVersion"] else ""


@pytest.mark.parametrize("env", ENVS)
def test_every_addon_object_lands_where_its_project_allows(env, expanded):
    objs, apps = expanded[env]
    projects = {o["metadata"]["name"]: o["spec"] for o in objs if o["kind"] == "AppProject"}
    crd_cluster = {(d["spec"]["group"], d["spec"]["names"]["kind"]) for _, docs in apps.values() for d in docs
                   if d["kind"] == "CustomResourceDefinition" and d["spec"].get("scope") == "Cluster"}
    problems = []
    for name, (app, docs) in apps.items():
        project = projects[app["spec"]["project"]]
        dests = {d["namespace"] for d in project["destinations"]}
        kinds = {(k["group"], k["kind"]) for k in project["clusterResourceWhitelist"]}
        assert app["spec"]["source"]["repoURL"] in project["sourceRepos"]
        for d in docs:
            gk = (group_of(d), d["kind"])
            if gk in CLUSTER_SCOPED or gk in crd_cluster:
                if gk not in kinds:
                    problems.append(f"{name}: cluster-scoped {d['kind']}/{d['metadata']['name']} not whitelisted")
            else:
                ns = d["metadata"].get("namespace") or app["spec"]["destination"]["namespace"]
                if ns not in dests:
                    problems.append(f"{name}: {d['kind']}/{d['metadata']['name']} in {ns}, project allows {sorted(dests)}")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("env", ENVS)
def test_secret_store_and_dns_solver_identities_exist_in_the_expanded_charts(env, expanded):
    objs, apps = expanded[env]
    roles = load_project(REPO).environments[env].aws_roles
    store = next(o for o in objs if o["kind"] == "ClusterSecretStore")
    ref = store["spec"]["provider"]["aws"]["auth"]["jwt"]["serviceAccountRef"]
    sas = {(d["metadata"].get("namespace") or a["spec"]["destination"]["namespace"], d["metadata"]["name"]): d
           for a, docs in apps.values() for d in docs if d["kind"] == "ServiceAccount"}
    sa = sas[(ref["namespace"], ref["name"])]
    assert sa["metadata"]["annotations"][IRSA] == roles["externalSecrets"]
    controller = sas[("cert-manager", "cert-manager")]
    assert controller["metadata"]["annotations"][IRSA] == roles["certManager"]


@pytest.mark.parametrize("env", ENVS)
def test_expanded_addons_carry_the_fixes(env, expanded):
    objs, apps = expanded[env]
    docs = {n.removeprefix(f"{env}-"): d for n, (_, d) in apps.items()}
    fluent = next(d for d in docs["fluent-bit"] if d["kind"] == "DaemonSet")
    assert fluent["spec"]["template"]["metadata"]["annotations"]["fluentbit.io/exclude"] == "true"
    controller_svc = next(d for d in docs["ingress-nginx"] if d["kind"] == "Service"
                          and d["metadata"]["name"] == "ingress-nginx-controller")
    assert controller_svc["spec"]["externalTrafficPolicy"] == "Local"
    config = next(d for d in docs["ingress-nginx"] if d["kind"] == "ConfigMap"
                  and d["metadata"]["name"] == "ingress-nginx-controller")["data"]
    assert config["use-forwarded-headers"] == "true" and config["proxy-real-ip-cidr"] != "0.0.0.0/0"
    if "otel-sampler-ratio" in config:
        assert config["otel-sampler"] == "TraceIdRatioBased"
    if env != "dev":  # Grafana runs from monitoring: full up
        grafana = next(d for d in docs["kube-prometheus-stack"] if d["kind"] == "Deployment"
                       and d["metadata"]["name"].endswith("-grafana"))
        sidecar_env = {e["name"]: e.get("value") for c in grafana["spec"]["template"]["spec"]["containers"]
                       for e in c.get("env", []) if c["name"].startswith("grafana-sc-dashboard")}
        assert sidecar_env.get("FOLDER_ANNOTATION") == "grafana_folder"


def test_tracing_endpoint_resolves_to_the_collector_service(expanded):
    objs, apps = expanded["prod"]
    endpoints = {e["value"] for o in objs if o["kind"] in ("Deployment", "Rollout")
                 for c in o["spec"]["template"]["spec"]["containers"] for e in c.get("env") or []
                 if e["name"] == "OTEL_EXPORTER_OTLP_ENDPOINT"}
    assert len(endpoints) == 1
    host, port = endpoints.pop().removeprefix("http://").split(":")
    name, ns = host.split(".")[:2]
    services = [(a["spec"]["destination"]["namespace"], d) for a, docs in apps.values() for d in docs if d["kind"] == "Service"]
    assert any(sns == ns and svc["metadata"]["name"] == name and int(port) in {p["port"] for p in svc["spec"]["ports"]}
               for sns, svc in services), f"{name}.{ns}:{port} is no Service of the expanded charts"


@pytest.mark.parametrize("env", ENVS)
def test_the_platform_gate_passes_on_the_render_with_its_expanded_addons(env, expanded):
    """ArgoCD projects, CRD order and identity (DD-ARGO-*, DD-ID-*) hold for the whole system."""
    from generator import pipeline
    from generator.core import Document
    from generator.gate.engines.platform import PlatformGate

    platform = load_project(REPO)
    rendered = render_env(platform, env)
    docs = rendered.documents()
    _, apps = expanded[env]
    for name, (app, objs) in apps.items():
        docs += [Document(f"rendered/{env}/argocd/application-{name}.yaml#{i}", 1, o, None, None, app=name)
                 for i, o in enumerate(objs)]
    ctx = pipeline._context(REPO, env, platform, pipeline.GateOptions(), lambda m: None)
    findings = PlatformGate().run(docs, ctx).findings
    assert not findings, "\n".join(f"{f.rule_id} {f.message}" for f in findings)
