"""The add-on Applications, expanded by the real helm, fit the ArgoCD projects and carry the fixes.

Every Helm Application of every env is expanded as ArgoCD would (the chart at its pinned version
from the offline chart folder, the Application's release name, namespace, values, Kubernetes
version and API list) by drydock's expander running the real helm (tests/test_helm.py checks the
expander itself); the session shares one expansion (conftest `demo_addons`). The objects are
checked against the project the Application belongs to.
"""
from __future__ import annotations

import pytest

from .conftest import REPO
from .test_platform_support import objects, platform, rendered

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


@pytest.fixture(scope="module")
def expanded(demo_addons):
    """env -> (rendered objects, {Application name: (Application, [objects])})."""
    out = {}
    for env in ENVS:
        objs = objects(env)
        apps = {o["metadata"]["name"]: o for o in objs
                if o["kind"] == "Application" and "chart" in o["spec"].get("source", {})}
        out[env] = (objs, {n: (a, [d.obj for d in demo_addons[env] if d.app == n]) for n, a in sorted(apps.items())})
    assert all(docs for _, apps in out.values() for _, docs in apps.values())  # every chart renders something
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
    roles = platform().environments[env].aws_roles
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

    docs = rendered(env).documents()
    _, apps = expanded[env]
    for name, (app, objs) in apps.items():
        docs += [Document(f"rendered/{env}/argocd/application-{name}.yaml#{i}", 1, o, None, None, app=name)
                 for i, o in enumerate(objs)]
    ctx = pipeline._context(REPO, env, platform(), pipeline.GateOptions(), lambda m: None)
    findings = PlatformGate().run(docs, ctx).findings
    assert not findings, "\n".join(f"{f.rule_id} {f.message}" for f in findings)
