"""A small, clean platform for the platform gate's tests: an app-of-apps, an add-on chart
(already "expanded": documents carry Document.app) and one service with a PreSync migration.

`clean_tree()` returns {path: [objects]}; tests mutate it and call `run_platform(tree)`.
Every path is written as YAML text and parsed by the real manifest reader, so findings
carry real file:line.
"""
from __future__ import annotations

import copy
from dataclasses import replace
from pathlib import Path

import yaml

from generator.core import Document
from generator.gate import GateContext
from generator.gate.engines import ENGINES
from generator.yamlio import parse_manifests

REPO_URL = "https://git.example.com/shop/platform.git"
CHART_REPO = "https://charts.example.com/stable"
SERVER = "https://kubernetes.default.svc"
ROLE = "arn:aws:iam::123456789012:role/dev-external-secrets"
HELM_PREFIX = "helm:"  # tree key "helm:<app>" holds documents expanded from that Application's chart


def _meta(name, ns=None, **ann):
    meta = {"name": name}
    if ns:
        meta["namespace"] = ns
    if ann:
        meta["annotations"] = {k.replace("__", "/").replace("_", "-"): v for k, v in ann.items()}
    return meta


def annotate(obj: dict, **ann) -> dict:
    obj["metadata"].setdefault("annotations", {}).update(ann)
    return obj


def application(name, path=None, ns="ecommerce", project="shop-dev", wave=None, chart=None, create_ns=True,
                repo=None):
    source = {"repoURL": repo or (CHART_REPO if chart else REPO_URL), "targetRevision": "1.0.0" if chart else "main"}
    if chart:
        source.update(chart=chart, helm={"releaseName": chart})
    else:
        source.update(path=path, directory={"recurse": False})
    obj = {"apiVersion": "argoproj.io/v1alpha1", "kind": "Application", "metadata": _meta(name, "argocd"),
           "spec": {"project": project, "destination": {"server": SERVER, "namespace": ns}, "source": source,
                    "syncPolicy": {"automated": {"prune": True}, "syncOptions": ["CreateNamespace=true"] if create_ns else []}}}
    if wave is not None:
        annotate(obj, **{"argocd.argoproj.io/sync-wave": str(wave)})
    return obj


def crd(group, kind, plural, scope="Namespaced"):
    return {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": {"name": f"{plural}.{group}"},
            "spec": {"group": group, "scope": scope, "names": {"kind": kind, "plural": plural},
                     "versions": [{"name": "v1", "served": True, "storage": True}]}}


def pod_template(sa, image, secret=None, config=None):
    container = {"name": "main", "image": image}
    if secret:
        container["env"] = [{"name": "TOKEN", "valueFrom": {"secretKeyRef": {"name": secret, "key": "token"}}}]
    if config:
        container["envFrom"] = [{"configMapRef": {"name": config}}]
    return {"metadata": {"labels": {"app": sa}}, "spec": {"serviceAccountName": sa, "containers": [container]}}


def external_secret(name, key, ns="ecommerce", **ann):
    return {"apiVersion": "external-secrets.io/v1", "kind": "ExternalSecret", "metadata": _meta(name, ns, **ann),
            "spec": {"secretStoreRef": {"kind": "ClusterSecretStore", "name": "aws"},
                     "target": {"name": name}, "data": [{"secretKey": "token", "remoteRef": {"key": key}}]}}


def clean_tree() -> dict[str, list[dict]]:
    presync = {"argocd.argoproj.io/hook": "PreSync", "argocd.argoproj.io/sync-wave": "-1"}
    return {
        "rendered/dev/argocd/application-dev-root.yaml": [{
            **application("dev-root", "rendered/dev/argocd", ns="argocd", project="shop-dev-bootstrap", create_ns=False),
        }],
        "rendered/dev/argocd/appproject-shop-dev-bootstrap.yaml": [{
            "apiVersion": "argoproj.io/v1alpha1", "kind": "AppProject", "metadata": _meta("shop-dev-bootstrap", "argocd"),
            "spec": {"destinations": [{"server": SERVER, "namespace": "argocd"}], "sourceRepos": [REPO_URL],
                     "namespaceResourceWhitelist": [{"group": "argoproj.io", "kind": "*"}]}}],
        "rendered/dev/argocd/appproject-shop-dev.yaml": [{
            "apiVersion": "argoproj.io/v1alpha1", "kind": "AppProject", "metadata": _meta("shop-dev", "argocd"),
            "spec": {"destinations": [{"server": SERVER, "namespace": ns}
                                      for ns in ("ecommerce", "external-secrets", "cert-manager")],
                     "sourceRepos": [REPO_URL, "https://charts.example.com/*"],
                     "clusterResourceWhitelist": [{"group": "", "kind": "Namespace"},
                                                  {"group": "apiextensions.k8s.io", "kind": "CustomResourceDefinition"},
                                                  {"group": "external-secrets.io", "kind": "ClusterSecretStore"},
                                                  {"group": "cert-manager.io", "kind": "ClusterIssuer"}]}}],
        "rendered/dev/argocd/application-dev-external-secrets.yaml": [
            application("dev-external-secrets", ns="external-secrets", wave=-10, chart="external-secrets")],
        "rendered/dev/argocd/application-dev-cert-manager.yaml": [
            application("dev-cert-manager", ns="cert-manager", wave=-10, chart="cert-manager")],
        "rendered/dev/argocd/application-dev-platform.yaml": [
            application("dev-platform", "rendered/dev/platform", wave=-3)],
        "rendered/dev/argocd/application-dev-shop.yaml": [application("dev-shop", "rendered/dev/shop", wave=1)],
        "helm:dev-external-secrets": [
            crd("external-secrets.io", "ExternalSecret", "externalsecrets"),
            crd("external-secrets.io", "ClusterSecretStore", "clustersecretstores", "Cluster"),
            {"apiVersion": "v1", "kind": "ServiceAccount",
             "metadata": _meta("external-secrets", "external-secrets", **{"eks.amazonaws.com/role-arn": ROLE})},
            {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": _meta("external-secrets", "external-secrets"),
             "spec": {"template": pod_template("external-secrets", "ghcr.io/external-secrets/external-secrets:v0.19.2")}},
        ],
        "helm:dev-cert-manager": [
            crd("cert-manager.io", "ClusterIssuer", "clusterissuers", "Cluster"),
            crd("cert-manager.io", "Issuer", "issuers"),
            {"apiVersion": "v1", "kind": "ServiceAccount",
             "metadata": _meta("cert-manager", "cert-manager", **{"eks.amazonaws.com/role-arn": ROLE})},
            {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": _meta("cert-manager", "cert-manager"),
             "spec": {"template": pod_template("cert-manager", "quay.io/jetstack/cert-manager-controller:v1.16.2")}},
        ],
        "rendered/dev/platform/namespace-ecommerce.yaml": [
            {"apiVersion": "v1", "kind": "Namespace", "metadata": _meta("ecommerce")}],
        "rendered/dev/platform/clustersecretstore-aws.yaml": [{
            "apiVersion": "external-secrets.io/v1", "kind": "ClusterSecretStore", "metadata": _meta("aws"),
            "spec": {"provider": {"aws": {"service": "SecretsManager", "region": "us-east-1", "auth": {"jwt": {
                "serviceAccountRef": {"name": "external-secrets", "namespace": "external-secrets"}}}}}}}],
        "rendered/dev/platform/clusterissuer-letsencrypt.yaml": [{
            "apiVersion": "cert-manager.io/v1", "kind": "ClusterIssuer", "metadata": _meta("letsencrypt"),
            "spec": {"acme": {"server": "https://acme-v02.api.letsencrypt.org/directory", "privateKeySecretRef": {"name": "le"},
                              "solvers": [{"dns01": {"route53": {"region": "us-east-1"}}}]}}}],
        "rendered/dev/shop/configmap-shop.yaml": [
            {"apiVersion": "v1", "kind": "ConfigMap", "metadata": _meta("shop", "ecommerce"), "data": {"A": "1"}}],
        "rendered/dev/shop/serviceaccount-shop.yaml": [
            {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": _meta("shop", "ecommerce")}],
        "rendered/dev/shop/externalsecret-shop.yaml": [external_secret("shop-secrets", "ecommerce/dev/shop/api")],
        "rendered/dev/shop/deployment-shop.yaml": [
            {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": _meta("shop", "ecommerce"),
             "spec": {"template": pod_template("shop", "registry.example.com/shop:1.0", "shop-secrets", "shop")}}],
        "rendered/dev/shop/serviceaccount-shop-migrate.yaml": [
            {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": _meta("shop-migrate", "ecommerce", **presync)}],
        "rendered/dev/shop/externalsecret-shop-migrate.yaml": [
            external_secret("shop-migrate-credentials", "ecommerce/dev/postgresql/shop-migrator", **presync)],
        "rendered/dev/shop/job-shop-migrate.yaml": [
            {"apiVersion": "batch/v1", "kind": "Job",
             "metadata": _meta("shop-migrate", "ecommerce", **{"argocd.argoproj.io/hook": "PreSync",
                                                               "argocd.argoproj.io/sync-wave": "0"}),
             "spec": {"template": pod_template("shop-migrate", "registry.example.com/shop:1.0",
                                               "shop-migrate-credentials")}}],
    }


def obj(tree: dict, path_part: str, index: int = 0) -> dict:
    """The object of the (only) tree entry whose key contains path_part."""
    keys = [k for k in tree if path_part in k]
    assert len(keys) == 1, keys
    return tree[keys[0]][index]


def to_docs(tree: dict[str, list[dict]]) -> list[Document]:
    docs: list[Document] = []
    for path, objs in tree.items():
        text = yaml.safe_dump_all(objs, sort_keys=False)
        if path.startswith(HELM_PREFIX):
            app = path[len(HELM_PREFIX):]
            docs += [replace(d, app=app) for d in parse_manifests(text, f"charts/{app}.yaml")]
        else:
            docs += parse_manifests(text, path)
    return docs


def write_tree(tree: dict[str, list[dict]], root: Path) -> None:
    """Write the directory part of a tree (not the helm: entries) under root, and under root/charts
    a chart folder whose charts render nothing (for `--charts charts`: the add-ons stay unexpanded)."""
    charts = []
    for path, objs in tree.items():
        if not path.startswith(HELM_PREFIX):
            (root / path).parent.mkdir(parents=True, exist_ok=True)
            (root / path).write_text(yaml.safe_dump_all(objs, sort_keys=False))
            for o in objs:
                src = (o.get("spec") or {}).get("source") or {} if o.get("kind") == "Application" else {}
                if src.get("chart"):
                    charts.append((src["repoURL"], src["chart"], src["targetRevision"]))
    rows = []
    for repo, chart, version in sorted(set(charts)):
        folder = root / "charts" / f"{chart}-{version}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "Chart.yaml").write_text(f"apiVersion: v2\nname: {chart}\nversion: {version}\n")
        rows.append({"repoURL": repo, "chart": chart, "version": version, "path": folder.name})
    if rows:
        (root / "charts" / "index.yaml").write_text(yaml.safe_dump({"charts": rows}))


def context(env="dev", **env_data) -> GateContext:
    return GateContext(env=env, env_data={"environments": ["dev", "prod"], "roleArns": [ROLE], **env_data})


def run_platform(tree: dict[str, list[dict]], ctx: GateContext | None = None):
    return ENGINES["platform"].run(to_docs(tree), ctx or context())


def by_rule(result, rule_id: str):
    return [f for f in result.findings if f.rule_id == rule_id]


def fresh() -> dict:
    return copy.deepcopy(clean_tree())
