"""Held-out variants of the platform gate's classes, found by mutating a render (red-team pass on issue 14).

Each case mutates the clean fixture platform one way and names the rule that must block, or None when
ArgoCD would sync it (no false positive). The CRD-order cases pin the decision in docs/argocd.md
("Custom resources and their CRDs"): within one Application the CRD needs an earlier wave; only a Helm
chart's own CRD may share the wave of that chart's objects.
"""
from __future__ import annotations

import pytest

from .platform_fixture import HELM_PREFIX, ROLE, annotate, by_rule, crd, fresh, obj, run_platform

WAVE, HOOK, OPTS = "argocd.argoproj.io/sync-wave", "argocd.argoproj.io/hook", "argocd.argoproj.io/sync-options"


def _widget(**ann) -> dict:
    w = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w", "namespace": "ecommerce"}}
    return annotate(w, **ann) if ann else w


def _widget_crd(**ann) -> dict:
    c = crd("example.com", "Widget", "widgets")
    return annotate(c, **ann) if ann else c


def _crds_app(tree: dict, wave: int) -> None:
    from .platform_fixture import application
    tree["rendered/dev/argocd/application-dev-crds.yaml"] = [application("dev-crds", "rendered/dev/crds", wave=wave)]
    tree["rendered/dev/crds/crd-widgets.yaml"] = [_widget_crd()]


def same_app(crd_ann: dict, cr_ann: dict):
    def mutate(tree):
        tree["rendered/dev/shop/crd-widgets.yaml"] = [_widget_crd(**crd_ann)]
        tree["rendered/dev/shop/widget.yaml"] = [_widget(**cr_ann)]
    return mutate


def other_app(wave: int):
    def mutate(tree):
        _crds_app(tree, wave)
        tree["rendered/dev/shop/widget.yaml"] = [_widget()]
    return mutate


def chart_cr(**cr_ann):
    def mutate(tree):
        tree[HELM_PREFIX + "dev-cert-manager"] += [_widget_crd(), {**_widget(**cr_ann), "metadata": {
            **_widget(**cr_ann)["metadata"], "namespace": "cert-manager"}}]
    return mutate


CRD_CASES = [
    # (id, mutation, blocks?)
    ("same-app-same-wave", same_app({}, {}), True),
    ("same-app-same-wave-skip-dry-run", same_app({}, {OPTS: "SkipDryRunOnMissingResource=true"}), True),
    ("same-app-crd-earlier-wave", same_app({WAVE: "-3"}, {}), False),
    ("same-app-crd-earlier-wave-skip-dry-run", same_app({WAVE: "-3"}, {OPTS: "SkipDryRunOnMissingResource=true"}), False),
    ("same-app-cr-earlier-wave", same_app({WAVE: "2"}, {}), True),
    ("same-app-cr-presync-hook", same_app({WAVE: "-3"}, {HOOK: "PreSync"}), True),
    ("same-app-crd-presync-hook", same_app({HOOK: "PreSync"}, {}), False),
    ("other-app-later-wave", other_app(5), True),
    ("other-app-same-wave", other_app(1), True),  # dev-shop is wave 1: parallel
    ("other-app-earlier-wave", other_app(-5), False),
    ("chart-cr-with-its-crd", chart_cr(), False),
    ("chart-cr-hook-before-its-crd", chart_cr(**{"helm.sh/hook": "pre-install"}), True),
]


@pytest.mark.parametrize("mutate,blocks", [c[1:] for c in CRD_CASES], ids=[c[0] for c in CRD_CASES])
def test_custom_resource_and_its_crd(mutate, blocks):
    tree = fresh()
    mutate(tree)
    findings = by_rule(run_platform(tree), "DD-ARGO-005")
    if not blocks:
        assert findings == []
        return
    [f] = findings
    assert f.resource.name == "w" and "widgets.example.com" in f.message
    assert f.file and f.line and f.fix
    assert "wave" in f.fix


def test_same_wave_message_says_why_and_fix_names_the_wave():
    tree = fresh()
    same_app({}, {})(tree)
    [f] = by_rule(run_platform(tree), "DD-ARGO-005")
    assert "best-effort" in f.message
    assert f.fix.startswith("give widgets.example.com an earlier sync-wave") and "dev-shop" in f.fix


PROD_ROLE = "arn:aws:iam::999988887777:role/prod-secrets-reader"
ROLE_CASES = [
    ("other-account", PROD_ROLE, "DD-ID-003"),
    ("same-account-other-env-name", "arn:aws:iam::123456789012:role/prod-reader", "DD-ID-003"),
    ("not-an-arn", "prod-reader", "DD-ID-002"),
    ("same-account-this-env", "arn:aws:iam::123456789012:role/dev-secrets-reader", None),
    ("the-env-role", ROLE, None),
]


@pytest.mark.parametrize("role,rule", [c[1:] for c in ROLE_CASES], ids=[c[0] for c in ROLE_CASES])
def test_secret_store_assumed_role_belongs_to_the_env(role, rule):
    tree = fresh()
    obj(tree, "clustersecretstore-aws")["spec"]["provider"]["aws"]["role"] = role
    findings = [f for f in run_platform(tree).findings if f.rule_id.startswith("DD-ID")]
    if rule is None:
        assert findings == []
        return
    [f] = findings
    assert f.rule_id == rule and "ClusterSecretStore aws" in f.message
    assert f.file == "rendered/dev/platform/clustersecretstore-aws.yaml" and f.line > 1 and f.fix


def test_tree_copied_outside_rendered_maps_to_the_same_applications():
    """`drydock check /tmp/x/dev` on a copy of rendered/dev: sources say rendered/dev/<folder>, files
    live in /tmp/x/dev/<folder>; the objects still belong to their Applications (no DD-ARGO-006/009)."""
    tree = {(k.replace("rendered/dev/", "/tmp/copy/dev/", 1) if not k.startswith(HELM_PREFIX) else k): v
            for k, v in fresh().items()}
    assert run_platform(tree).findings == []
    obj(tree, "deployment-shop")["metadata"]["namespace"] = "kube-system"
    [f] = by_rule(run_platform(tree), "DD-ARGO-001")
    assert "dev-shop" in f.message and f.file == "/tmp/copy/dev/shop/deployment-shop.yaml"


def test_application_without_destination_namespace():
    """argo-cd matches an empty destination namespace only against `*`: the Application is invalid and
    its namespace-less objects are refused ("namespace  is not permitted in project")."""
    tree = fresh()
    del obj(tree, "application-dev-shop")["spec"]["destination"]["namespace"]
    del obj(tree, "configmap-shop")["metadata"]["namespace"]
    findings = by_rule(run_platform(tree), "DD-ARGO-001")
    app = [f for f in findings if f.resource.kind == "Application"]
    assert app and "(none)" in app[0].message and app[0].file.endswith("application-dev-shop.yaml")
    cm = [f for f in findings if f.resource.name == "shop" and f.resource.kind == "ConfigMap"]
    assert cm and "without a namespace" in cm[0].message and "spec.destination.namespace" in cm[0].fix


def test_custom_resource_in_a_version_its_crd_does_not_serve():
    tree = fresh()
    es = obj(tree, "externalsecret-shop.yaml")
    es["apiVersion"] = "external-secrets.io/v1beta1"
    tree[HELM_PREFIX + "dev-external-secrets"][0]["spec"]["versions"].append(
        {"name": "v1beta1", "served": False, "storage": False})
    [f] = by_rule(run_platform(tree), "DD-ARGO-005")
    assert f.resource.name == "shop-secrets" and "does not serve" in f.message
    assert f.line == 1 and "external-secrets.io/v1" in f.fix  # the apiVersion line; the served version
    es["apiVersion"] = "external-secrets.io/v1"
    assert by_rule(run_platform(tree), "DD-ARGO-005") == []


def test_secret_store_service_account_is_in_the_store_namespace():
    """external-secrets honours serviceAccountRef.namespace only for a ClusterSecretStore."""
    tree = fresh()
    tree["rendered/dev/shop/secretstore-shop.yaml"] = [{
        "apiVersion": "external-secrets.io/v1", "kind": "SecretStore",
        "metadata": {"name": "shop", "namespace": "ecommerce"},
        "spec": {"provider": {"aws": {"service": "SecretsManager", "region": "us-east-1", "auth": {"jwt": {
            "serviceAccountRef": {"name": "external-secrets", "namespace": "external-secrets"}}}}}}}]
    tree[HELM_PREFIX + "dev-external-secrets"][0]["spec"]["names"]["kind"] = "ExternalSecret"
    tree[HELM_PREFIX + "dev-external-secrets"].append(crd("external-secrets.io", "SecretStore", "secretstores"))
    [f] = by_rule(run_platform(tree), "DD-ID-001")
    assert "ecommerce/external-secrets" in f.message and f.file.endswith("secretstore-shop.yaml")


def test_route53_solver_assuming_another_envs_role():
    tree = fresh()
    obj(tree, "clusterissuer-letsencrypt")["spec"]["acme"]["solvers"][0]["dns01"]["route53"]["role"] = PROD_ROLE
    [f] = by_rule(run_platform(tree), "DD-ID-003")
    assert "Route53 solver" in f.message and f.file.endswith("clusterissuer-letsencrypt.yaml") and f.line > 1


# -- ExternalName aliases of in-cluster Services (network fixture: tests/fixtures/network/shop.yaml) --------

ALIAS = """
---
apiVersion: v1
kind: Service
metadata: {name: apidb, namespace: shop}
spec: {type: ExternalName, externalName: %s}
"""


@pytest.mark.parametrize("target, port, rule", [
    ("db.shop.svc.cluster.local", 5432, None),        # the alias resolves to db, whose port is 5432
    ("db.shop.svc.cluster.local", 5433, "DD-NET-003"),  # followed through: db does not expose 5433
    ("db.billing.svc.cluster.local", 5432, "DD-NET-002"),  # db runs in shop, not billing
    ("payments.shop.svc.cluster.local", 5432, "DD-NET-001"),  # nothing answers to the aliased name
    ("db.example-rds.amazonaws.com", 5432, "DD-NET-006"),  # a real host: not followed; api's egress has no ipBlock
])
def test_externalname_alias_of_an_in_cluster_service(target, port, rule):
    from .test_network import run
    findings, _, _ = run(("jdbc:postgresql://db.shop.svc:5432/app", f"jdbc:postgresql://apidb.shop.svc:{port}/app"),
                         extra=ALIAS % target)
    got = [f for f in findings if f.rule_id.startswith("DD-NET-00") and f.rule_id != "DD-NET-008"]
    if rule is None:
        assert got == []
        return
    assert [f.rule_id for f in got] == [rule]
    if rule in ("DD-NET-001", "DD-NET-002"):  # the alias itself is what resolves nowhere: point at its externalName
        assert "ExternalName alias" in got[0].message and got[0].resource.name == "apidb"


@pytest.mark.parametrize("edit, why", [
    (("selector: {app.kubernetes.io/name: api}", "selector: {app.kubernetes.io/name: apix}"), "selects no pod"),
    (("{name: http, port: 8080, targetPort: http}", "{name: http, port: 8080, targetPort: grpc}"),
     "targets port(s) grpc"),
])
def test_declared_dependency_on_a_service_without_backends_says_why(edit, why):
    """No endpoint names the dependency (web's API_URL is gone), so only the declared-dependency check sees
    it: the finding names the Service, where it is, and why it has no backends."""
    from .test_network import run
    findings, _, _ = run(("value: http://api:8080/v1", "value: none"), edit)
    [f] = [f for f in findings if f.rule_id == "DD-NET-007"]
    assert "dependency on api" in f.message and why in f.message and "Service api (shop.yaml:" in f.message


# -- a host path smuggled into an add-on whose intrinsic host paths are waived (real helm) ---------------

@pytest.mark.parametrize("addon,values,volume", [
    ("fluent-bit", {"daemonSetVolumes": [
        {"name": "varlog", "hostPath": {"path": "/var/log"}},
        {"name": "varlibdockercontainers", "hostPath": {"path": "/var/lib/docker/containers"}},
        {"name": "etcmachineid", "hostPath": {"path": "/etc/machine-id", "type": "File"}},
        {"name": "hostroot", "hostPath": {"path": "/"}}]}, "hostroot"),
    ("kube-prometheus-stack", {"prometheus-node-exporter": {"extraHostVolumeMounts": [
        {"name": "hostetc", "hostPath": "/etc", "mountPath": "/host/etc", "readOnly": False}]}}, "hostetc"),
])
def test_host_path_smuggled_past_an_addon_waiver_is_caught(repo_copy, addon, values, volume):
    """waivers/<add-on>.yaml waives the hostPath rule (DD-PSS-005) for fluent-bit and node-exporter as a
    whole; DD-PSS-019 still flags any host path the catalogue does not declare for that add-on."""
    import json

    from .conftest import run_drydock
    from .test_helm import CHARTS, _inject

    line = _inject(repo_copy, "dev", addon, values)
    r = run_drydock("synth", "--env", "dev", "--engines", "policy,platform", "--format", "json",
                    cwd=repo_copy, env={"DRYDOCK_CHARTS": str(CHARTS)})
    assert r.code == 1, r.err
    report = json.loads(r.out)
    hits = [f for f in report["findings"] if f["rule_id"] == "DD-PSS-019" and f["waived"] is None]
    assert len(hits) == 1, [(f["rule_id"], f["waived"] is None) for f in report["findings"]][:30]
    f = hits[0]
    assert f"volume \"{volume}\"" in f["message"] and f"dev-{addon}" in f["message"]
    assert f["file"].startswith(f"rendered/dev/argocd/application-dev-{addon}.yaml#") and f["line"]
    assert f["source"] == {"file": "environments/dev.yaml", "line": line} and f["fix"]


# -- Helm inputs the offline expansion cannot read: fail closed (exit 2), never a partial expansion -------

MS_REPO = "https://kubernetes-sigs.github.io/metrics-server/"


@pytest.mark.parametrize("helm, extra_sources, what", [
    ({"valueFiles": ["$values/addons/privileged.yaml"]}, [{"repoURL": "https://git.example.com/cfg.git", "ref": "values"}],
     "valueFiles $values/addons/privileged.yaml"),
    ({"valueFiles": ["https://example.com/values.yaml"]}, [], "valueFiles https://example.com/values.yaml"),
    ({"valueFiles": ["values-privileged.yaml"]}, [], "values-privileged.yaml (not in the chart)"),
    ({"fileParameters": [{"name": "securityContext", "path": "sc.yaml"}]}, [], "fileParameters securityContext"),
])
def test_helm_inputs_not_readable_offline_are_exit_2(helm, extra_sources, what):
    from generator.errors import InputError
    from generator.platform.helm import expand_applications

    from .test_helm import CHARTS, application

    app = application("metrics-server", "3.12.2", MS_REPO, helm)
    if extra_sources:
        app.obj["spec"]["sources"] = [app.obj["spec"].pop("source"), *extra_sources]
    with pytest.raises(InputError) as err:
        expand_applications([app], CHARTS)
    [problem] = err.value.problems
    assert what in problem.message and "t-app" in problem.message and "valuesObject" in problem.hint


def test_helm_value_file_inside_the_chart_is_passed_to_helm(tmp_path):
    from generator.platform.helm import expand_applications

    from .test_helm import CHARTS, application

    plain = expand_applications([application("metrics-server", "3.12.2", MS_REPO, {})], CHARTS, tmp_path)
    same = expand_applications([application("metrics-server", "3.12.2", MS_REPO, {"valueFiles": ["values.yaml"]})],
                               CHARTS, tmp_path)
    assert [d.obj for d in same] == [d.obj for d in plain]  # the chart's own values.yaml: nothing changes


ANALYSIS = """
---
apiVersion: argoproj.io/v1alpha1
kind: AnalysisTemplate
metadata: {name: api-error-rate, namespace: shop}
spec:
  metrics:
  - name: error-rate
    provider:
      prometheus: {address: '%s', query: 'sum(up)'}
"""


@pytest.mark.parametrize("address, rule", [
    ("http://collector.obs.svc:4317", None),
    ("http://prometheus.obs.svc:9090", "DD-NET-001"),  # the release was renamed: nothing answers
    ("http://collector.monitoring.svc:4317", "DD-NET-002"),
    ("http://collector.obs.svc:9090", "DD-NET-003"),
    ("http://{{args.prometheus}}:9090", None),  # templated: known only when the AnalysisRun starts
])
def test_analysis_template_provider_address_resolves(address, rule):
    from .test_network import run
    findings, _, _ = run(extra=ANALYSIS % address)
    got = [f for f in findings if f.rule_id.startswith("DD-NET")]
    if rule is None:
        assert got == []
        return
    [f] = got
    assert f.rule_id == rule and "AnalysisTemplate api-error-rate" in f.message and f.line > 1


def test_service_of_operator_created_pods_is_backed():
    """kube-prometheus-stack's Service selects the pods prometheus-operator creates from the Prometheus CR
    (no pod template in the render): an address of it resolves (the selector value names the CR)."""
    from .test_network import run
    extra = """
---
apiVersion: monitoring.coreos.com/v1
kind: Prometheus
metadata: {name: kps-prometheus, namespace: obs}
spec: {}
---
apiVersion: v1
kind: Service
metadata: {name: kps-prometheus, namespace: obs}
spec:
  selector: {app.kubernetes.io/name: prometheus, operator.prometheus.io/name: kps-prometheus}
  ports: [{name: http-web, port: 9090, targetPort: 9090}]
"""
    findings, _, _ = run(extra=extra + ANALYSIS % "http://kps-prometheus.obs.svc:9090")
    assert [f for f in findings if f.rule_id.startswith("DD-NET")] == []
    findings, _, _ = run(extra=extra.replace("name: kps-prometheus, namespace: obs}\nspec: {}", "name: other, namespace: obs}\nspec: {}")
                         + ANALYSIS % "http://kps-prometheus.obs.svc:9090")
    assert [f.rule_id for f in findings if f.rule_id.startswith("DD-NET")] == ["DD-NET-004"]


HEADLESS = """
---
apiVersion: v1
kind: Service
metadata: {name: db-headless, namespace: shop}
spec:
  clusterIP: None
  selector: {app.kubernetes.io/name: db}
  ports: [{name: pg, port: 5432, targetPort: pg}]
"""


@pytest.mark.parametrize("host, service_name, why", [
    ("db-0.db-headless.shop.svc.cluster.local", "db-headless", None),
    ("db-0.db-headless.shop.svc", "db-headless", None),
    ("db-0.db-headless", "db-headless", None),  # short form: resolved in the client's namespace
    ("db-0.db-headless.shop.svc", "db", "no StatefulSet names Service db-headless"),
    ("db-2.db-headless.shop.svc", "db-headless", "run only db-0"),  # one replica
    ("db-0.db.shop.svc", "db", "is not headless"),  # no per-pod records for a ClusterIP Service
])
def test_statefulset_pod_dns_names(host, service_name, why):
    from .test_network import run
    findings, _, _ = run(("jdbc:postgresql://db.shop.svc:5432/app", f"jdbc:postgresql://{host}:5432/app"),
                         ("serviceName: db\n", f"serviceName: {service_name}\n"), extra=HEADLESS)
    got = [f for f in findings if f.rule_id.startswith("DD-NET-00") and f.rule_id != "DD-NET-008"]
    if why is None:
        assert got == []
        return
    [f] = got
    assert f.rule_id == "DD-NET-001" and why in f.message
