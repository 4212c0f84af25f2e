"""DD-ARGO-*: the ArgoCD simulation catches each class of first-sync failure, and passes a clean platform."""
from __future__ import annotations

import pytest

from generator.platform.argo import destination_permitted, glob_match, kind_permitted, source_permitted
from generator.platform.system import build_system, exists_before, hook_phase

from .platform_fixture import (HELM_PREFIX, annotate, application, by_rule, crd, fresh, obj, run_platform, to_docs)


def test_clean_platform_has_no_findings():
    result = run_platform(fresh())
    assert result.findings == []


def test_system_maps_directory_and_helm_sources_to_their_application():
    system = build_system(to_docs(fresh()), "dev")
    apps = system.apps
    assert [r.name for r in system.roots] == ["dev-root"]
    assert {c.name for c in apps["dev-root"].children} == {"dev-external-secrets", "dev-cert-manager",
                                                          "dev-platform", "dev-shop"}
    assert {o.name for o in apps["dev-shop"].objects} >= {"shop", "shop-migrate", "shop-secrets"}
    assert {o.kind for o in apps["dev-external-secrets"].objects} >= {"CustomResourceDefinition", "Deployment"}
    # root excludes nothing here, but its own file is not its child: no self-parenting
    assert apps["dev-root"].parent is None


# -- destinations -----------------------------------------------------------------------------------

def test_object_in_namespace_outside_project_names_app_project_and_namespace():
    tree = fresh()
    obj(tree, "deployment-shop")["metadata"]["namespace"] = "kube-system"
    [f] = by_rule(run_platform(tree), "DD-ARGO-001")
    assert f.file == "rendered/dev/shop/deployment-shop.yaml"
    assert "dev-shop" in f.message and "kube-system" in f.message and "shop-dev" in f.message
    assert f.line == 5  # metadata.namespace, not the document start
    assert "spec.destinations" in f.fix and "kube-system" in f.fix


def test_chart_object_in_namespace_outside_project_is_caught():
    tree = fresh()
    tree[HELM_PREFIX + "dev-cert-manager"].append({
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
        "metadata": {"name": "cert-manager:leaderelection", "namespace": "kube-system"}, "rules": []})
    [f] = by_rule(run_platform(tree), "DD-ARGO-001")
    assert "Application dev-cert-manager" in f.message and "Role/kube-system/cert-manager:leaderelection" in f.message


def test_namespaced_object_without_namespace_lands_in_app_destination():
    tree = fresh()
    del obj(tree, "configmap-shop")["metadata"]["namespace"]
    obj(tree, "application-dev-shop")["spec"]["destination"]["namespace"] = "payments"
    findings = by_rule(run_platform(tree), "DD-ARGO-001")
    assert any("ConfigMap/payments/shop" in f.message for f in findings)
    assert any("destination namespace 'payments'" in f.message for f in findings)


def test_destination_globs_and_negation_follow_argocd():
    project = {"spec": {"destinations": [{"server": "*", "namespace": "*"},
                                         {"server": "*", "namespace": "!kube-*"}]}}
    assert destination_permitted(project, "https://kubernetes.default.svc", "", "ecommerce")
    assert not destination_permitted(project, "https://kubernetes.default.svc", "", "kube-system")
    named = {"spec": {"destinations": [{"name": "in-cluster", "namespace": "team-?"}]}}
    assert destination_permitted(named, "", "in-cluster", "team-a")
    assert not destination_permitted(named, "", "in-cluster", "team-ab")
    assert not destination_permitted(named, "https://other", "", "team-a")
    assert not destination_permitted({"spec": {}}, "https://kubernetes.default.svc", "", "x")


# -- kinds ------------------------------------------------------------------------------------------

def test_cluster_scoped_kind_not_whitelisted():
    tree = fresh()
    tree["rendered/dev/platform/clusterrole-reader.yaml"] = [{
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": "reader"}, "rules": []}]
    [f] = by_rule(run_platform(tree), "DD-ARGO-002")
    assert "dev-platform" in f.message and "ClusterRole/reader" in f.message
    assert "clusterResourceWhitelist" in f.fix


def test_cluster_scope_comes_from_the_crd_in_the_render():
    tree = fresh()
    tree[HELM_PREFIX + "dev-cert-manager"].append(crd("example.com", "Gadget", "gadgets", "Cluster"))
    tree["rendered/dev/platform/gadget.yaml"] = [{"apiVersion": "example.com/v1", "kind": "Gadget",
                                                  "metadata": {"name": "g"}}]
    [f] = by_rule(run_platform(tree), "DD-ARGO-002")
    assert "Gadget/g" in f.message


def test_blacklists_and_empty_whitelists():
    project = {"spec": {"clusterResourceWhitelist": [{"group": "*", "kind": "*"}],
                        "clusterResourceBlacklist": [{"group": "", "kind": "Namespace"}],
                        "namespaceResourceBlacklist": [{"group": "", "kind": "Secret"}]}}
    assert kind_permitted(project, "rbac.authorization.k8s.io", "ClusterRole", namespaced=False)
    assert not kind_permitted(project, "", "Namespace", namespaced=False)
    assert not kind_permitted(project, "", "Secret", namespaced=True)
    assert kind_permitted(project, "", "ConfigMap", namespaced=True)
    assert not kind_permitted({"spec": {}}, "", "Namespace", namespaced=False)  # empty cluster whitelist: none
    assert not kind_permitted({"spec": {"namespaceResourceWhitelist": []}}, "", "ConfigMap", namespaced=True)
    named = {"spec": {"clusterResourceBlacklist": [{"group": "", "kind": "Namespace", "name": "kube-*"}],
                      "clusterResourceWhitelist": [{"group": "*", "kind": "*"}]}}
    assert kind_permitted(named, "", "Namespace", False, "shop")
    assert not kind_permitted(named, "", "Namespace", False, "kube-public")


def test_namespaced_kind_blacklisted_by_project():
    tree = fresh()
    obj(tree, "appproject-shop-dev.yaml")["spec"]["namespaceResourceBlacklist"] = [{"group": "", "kind": "ConfigMap"}]
    [f] = by_rule(run_platform(tree), "DD-ARGO-003")
    assert "ConfigMap/ecommerce/shop" in f.message


# -- sources ----------------------------------------------------------------------------------------

def test_source_repo_not_in_source_repos():
    tree = fresh()
    obj(tree, "application-dev-cert-manager")["spec"]["source"]["repoURL"] = "https://charts.jetstack.io"
    [f] = by_rule(run_platform(tree), "DD-ARGO-004")
    assert "dev-cert-manager" in f.message and "https://charts.jetstack.io" in f.message
    assert f.file.endswith("application-dev-cert-manager.yaml")


def test_source_repo_globs():
    project = {"spec": {"sourceRepos": ["https://github.com/org/*", "!https://github.com/org/secret"]}}
    assert source_permitted(project, "https://github.com/org/app.git")
    assert not source_permitted(project, "https://github.com/org/secret")
    # * stops at /; (argo-cd counts a `!` entry that does not deny as a match, so test without one)
    assert not source_permitted({"spec": {"sourceRepos": ["https://github.com/org/*"]}}, "https://github.com/org/a/b")
    assert source_permitted({"spec": {"sourceRepos": ["https://github.com/**"]}}, "https://github.com/a/b/c")
    assert glob_match("{a,b}-*", "b-x") and not glob_match("{a,b}-*", "c-x")


# -- CRDs -------------------------------------------------------------------------------------------

def test_custom_resource_before_its_crd_app():
    tree = fresh()
    annotate(obj(tree, "application-dev-external-secrets"), **{"argocd.argoproj.io/sync-wave": "5"})
    findings = by_rule(run_platform(tree), "DD-ARGO-005")
    names = {f.resource.name for f in findings}
    assert {"aws", "shop-secrets", "shop-migrate-credentials"} <= names
    f = next(f for f in findings if f.resource.name == "shop-secrets")
    assert "externalsecrets.external-secrets.io" in f.message and "dev-shop" in f.message and "wave 5" in f.message


def test_custom_resource_in_parallel_app_is_a_race():
    tree = fresh()
    annotate(obj(tree, "application-dev-external-secrets"), **{"argocd.argoproj.io/sync-wave": "-3"})
    names = {f.resource.name for f in by_rule(run_platform(tree), "DD-ARGO-005")}
    assert "aws" in names  # dev-platform is also wave -3: no order between them
    assert "shop-secrets" not in names  # dev-shop (wave 1) comes after both


def test_custom_resource_without_any_crd():
    tree = fresh()
    tree["rendered/dev/shop/servicemonitor-shop.yaml"] = [{
        "apiVersion": "monitoring.coreos.com/v1", "kind": "ServiceMonitor", "metadata": {"name": "shop", "namespace": "ecommerce"},
        "spec": {}}]
    [f] = by_rule(run_platform(tree), "DD-ARGO-005")
    assert "ServiceMonitor" in f.message and "no CustomResourceDefinition" in f.message


def test_crd_in_same_app_needs_an_earlier_wave():
    tree = fresh()
    tree["rendered/dev/shop/crd-widgets.yaml"] = [annotate(crd("example.com", "Widget", "widgets"),
                                                          **{"argocd.argoproj.io/sync-wave": "2"})]
    tree["rendered/dev/shop/widget.yaml"] = [{"apiVersion": "example.com/v1", "kind": "Widget",
                                              "metadata": {"name": "w", "namespace": "ecommerce"}}]
    tree["rendered/dev/argocd/appproject-shop-dev.yaml"][0]["spec"]["clusterResourceWhitelist"].append(
        {"group": "apiextensions.k8s.io", "kind": "CustomResourceDefinition"})
    [f] = by_rule(run_platform(tree), "DD-ARGO-005")
    assert f.resource.name == "w" and "widgets.example.com" in f.message
    obj(tree, "crd-widgets")["metadata"]["annotations"]["argocd.argoproj.io/sync-wave"] = "0"
    [f] = by_rule(run_platform(tree), "DD-ARGO-005")  # same wave: ArgoCD waits only best-effort (3 s)
    assert "best-effort" in f.message
    obj(tree, "crd-widgets")["metadata"]["annotations"]["argocd.argoproj.io/sync-wave"] = "-1"
    assert by_rule(run_platform(tree), "DD-ARGO-005") == []


def test_argocd_own_kinds_need_no_crd():
    system_findings = run_platform(fresh()).findings
    assert not any(f.resource.kind in ("Application", "AppProject") for f in system_findings)


# -- namespaces -------------------------------------------------------------------------------------

def test_namespace_missing_without_create_namespace():
    tree = fresh()
    app = obj(tree, "application-dev-shop")
    app["spec"]["syncPolicy"]["syncOptions"] = []
    app["spec"]["destination"]["namespace"] = "shop"
    obj(tree, "appproject-shop-dev.yaml")["spec"]["destinations"].append({"server": "*", "namespace": "shop"})
    for path, objs in tree.items():
        if "/shop/" in path:
            for o in objs:
                o["metadata"]["namespace"] = "shop"
    findings = by_rule(run_platform(tree), "DD-ARGO-006")
    assert findings and all("'shop'" in f.message and "CreateNamespace" in f.message for f in findings)
    app["spec"]["syncPolicy"]["syncOptions"] = ["CreateNamespace=true"]
    assert by_rule(run_platform(tree), "DD-ARGO-006") == []


def test_create_namespace_covers_only_the_destination_namespace():
    tree = fresh()
    obj(tree, "appproject-shop-dev.yaml")["spec"]["destinations"].append({"server": "*", "namespace": "batch"})
    obj(tree, "configmap-shop")["metadata"]["namespace"] = "batch"
    [f] = by_rule(run_platform(tree), "DD-ARGO-006")
    assert "batch" in f.message and "destination namespace" in f.message


def test_namespace_object_applied_later_does_not_count():
    tree = fresh()
    annotate(obj(tree, "application-dev-platform"), **{"argocd.argoproj.io/sync-wave": "3"})
    obj(tree, "application-dev-shop")["spec"]["syncPolicy"]["syncOptions"] = []
    findings = by_rule(run_platform(tree), "DD-ARGO-006")
    assert findings and "Namespace ecommerce is applied later" in findings[0].message


# -- project, tree ----------------------------------------------------------------------------------

def test_missing_project():
    tree = fresh()
    obj(tree, "application-dev-shop")["spec"]["project"] = "shop-prod"
    [f] = by_rule(run_platform(tree), "DD-ARGO-007")
    assert "shop-prod" in f.message and f.resource.name == "dev-shop"


def test_app_of_apps_cycle():
    tree = fresh()
    tree["rendered/dev/x/application-y.yaml"] = [application("dev-y", "rendered/dev/y")]
    tree["rendered/dev/y/application-x.yaml"] = [application("dev-x", "rendered/dev/x")]
    [f] = by_rule(run_platform(tree), "DD-ARGO-008")
    assert "dev-x" in f.message and "dev-y" in f.message


def test_orphan_application_and_object():
    tree = fresh()
    tree["rendered/dev/extra/application-dev-extra.yaml"] = [application("dev-extra", "rendered/dev/extra2")]
    tree["rendered/dev/stray/configmap-stray.yaml"] = [
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "stray", "namespace": "ecommerce"}}]
    findings = by_rule(run_platform(tree), "DD-ARGO-009")
    assert {f.resource.name for f in findings} == {"dev-extra", "stray"}


def test_object_applied_by_two_applications():
    tree = fresh()
    tree["rendered/dev/argocd/application-dev-shop2.yaml"] = [application("dev-shop2", "rendered/dev/shop", wave=1)]
    findings = by_rule(run_platform(tree), "DD-ARGO-011")
    assert findings and all("dev-shop, dev-shop2" in f.message for f in findings)


def test_directory_exclude_and_recurse():
    tree = fresh()
    root = obj(tree, "application-dev-root")
    root["spec"]["source"]["directory"] = {"recurse": False, "exclude": "{application-dev-shop.yaml,nothing.yaml}"}
    system = build_system(to_docs(tree), "dev")
    assert "dev-shop" not in {c.name for c in system.apps["dev-root"].children}
    assert any(f.resource.name == "dev-shop" for f in by_rule(run_platform(tree), "DD-ARGO-009"))


# -- hooks and waves --------------------------------------------------------------------------------

def test_presync_job_needs_sync_phase_service_account():
    tree = fresh()
    del obj(tree, "serviceaccount-shop-migrate")["metadata"]["annotations"]
    [f] = by_rule(run_platform(tree), "DD-ARGO-010")
    assert f.resource.kind == "Job" and "ServiceAccount shop-migrate" in f.message
    assert "PreSync hook" in f.message and "serviceaccount-shop-migrate.yaml" in f.message
    assert f.file.endswith("job-shop-migrate.yaml")


def test_presync_job_needs_secret_of_later_wave():
    tree = fresh()
    obj(tree, "externalsecret-shop-migrate")["metadata"]["annotations"]["argocd.argoproj.io/sync-wave"] = "3"
    [f] = by_rule(run_platform(tree), "DD-ARGO-010")
    assert "Secret shop-migrate-credentials" in f.message and "ExternalSecret" in f.message


def test_deployment_needs_configmap_of_later_wave():
    tree = fresh()
    annotate(obj(tree, "configmap-shop"), **{"argocd.argoproj.io/sync-wave": "4"})
    [f] = by_rule(run_platform(tree), "DD-ARGO-010")
    assert f.resource.kind == "Deployment" and "ConfigMap shop" in f.message


def test_helm_hooks_map_as_argocd_maps_them():
    assert hook_phase({"annotations": {"helm.sh/hook": "pre-install,pre-upgrade"}}) == (0, True)
    assert hook_phase({"annotations": {"helm.sh/hook": "post-install"}}) == (2, True)
    assert hook_phase({"annotations": {"helm.sh/hook": "test"}}) == (None, True)
    # an ArgoCD hook annotation wins over Helm's
    assert hook_phase({"annotations": {"helm.sh/hook": "pre-install", "argocd.argoproj.io/hook": "PostSync"}}) == (2, True)
    assert hook_phase({"annotations": {"argocd.argoproj.io/hook": "Skip"}})[0] is None
    assert hook_phase({}) == (1, False)


def test_helm_hook_weight_orders_chart_hooks():
    tree = fresh()
    hooks = {"helm.sh/hook": "pre-install"}
    tree[HELM_PREFIX + "dev-external-secrets"] += [
        {"apiVersion": "v1", "kind": "ServiceAccount",
         "metadata": {"name": "patch", "namespace": "external-secrets",
                      "annotations": {**hooks, "helm.sh/hook-weight": "5"}}},
        {"apiVersion": "batch/v1", "kind": "Job",
         "metadata": {"name": "patch", "namespace": "external-secrets",
                      "annotations": {**hooks, "helm.sh/hook-weight": "1"}},
         "spec": {"template": {"spec": {"serviceAccountName": "patch", "containers": [{"name": "c", "image": "x"}]}}}},
    ]
    [f] = by_rule(run_platform(tree), "DD-ARGO-010")
    assert "ServiceAccount patch" in f.message and "wave 5" in f.message


def test_exists_before_across_sibling_apps():
    system = build_system(to_docs(fresh()), "dev")
    ns = system.find("Namespace", "", "ecommerce")[0]
    cm = system.find("ConfigMap", "ecommerce", "shop")[0]
    assert exists_before(ns, cm) and not exists_before(cm, ns)


# -- odd but valid input ----------------------------------------------------------------------------

@pytest.mark.parametrize("odd", [
    {"apiVersion": "v1", "kind": "List", "items": [{"apiVersion": "v1", "kind": "ConfigMap"}]},
    {"apiVersion": "argoproj.io/v1alpha1", "kind": "Application", "metadata": {"name": "bare"}},
    {"apiVersion": "argoproj.io/v1alpha1", "kind": "Application", "metadata": {"name": "odd"},
     "spec": {"source": [], "destination": None, "syncPolicy": {"syncOptions": None}}},
    {"apiVersion": "argoproj.io/v1alpha1", "kind": "AppProject", "metadata": {"name": "p"},
     "spec": {"destinations": [None, {"namespace": 3}], "sourceRepos": None}},
    {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d", "annotations": {"argocd.argoproj.io/sync-wave": "x"}},
     "spec": {"template": {"spec": {"containers": [{"env": [{"valueFrom": None}], "envFrom": "x"}], "volumes": [None]}}}},
    {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition", "metadata": {"name": "c"}, "spec": None},
    {"kind": "ConfigMap"},
])
def test_odd_input_does_not_crash(odd):
    tree = fresh()
    tree["rendered/dev/shop/odd.yaml"] = [odd]
    run_platform(tree)  # must not raise


def test_no_applications_means_nothing_to_simulate():
    tree = {k: v for k, v in fresh().items() if "/shop/" in k}
    assert [f for f in run_platform(tree).findings if f.rule_id.startswith("DD-ARGO")] == []


def test_multi_source_application():
    tree = fresh()
    app = obj(tree, "application-dev-shop")
    src = app["spec"].pop("source")
    app["spec"]["sources"] = [src, {"repoURL": "https://evil.example.org/charts", "chart": "x", "targetRevision": "1"}]
    result = run_platform(tree)
    assert by_rule(result, "DD-ARGO-009") == []  # the directory source still applies rendered/dev/shop
    [f] = by_rule(result, "DD-ARGO-004")
    assert "https://evil.example.org/charts" in f.message
    lines = (f.file, f.line)
    assert lines[0].endswith("application-dev-shop.yaml") and f.line > 10
