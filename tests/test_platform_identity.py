"""DD-ID-*: secret stores and DNS solvers have a working identity; secret paths stay in their env."""
from __future__ import annotations

from .platform_fixture import HELM_PREFIX, ROLE, by_rule, context, fresh, obj, run_platform


def _store_auth(tree):
    return obj(tree, "clustersecretstore-aws")["spec"]["provider"]["aws"]["auth"]["jwt"]["serviceAccountRef"]


def _sa(tree, app, name):
    return next(o for o in tree[HELM_PREFIX + app] if o["kind"] == "ServiceAccount" and o["metadata"]["name"] == name)


def test_store_names_missing_service_account():
    tree = fresh()
    _store_auth(tree)["name"] = "eso"
    [f] = by_rule(run_platform(tree), "DD-ID-001")
    assert f.resource.kind == "ClusterSecretStore" and "external-secrets/eso" in f.message
    assert f.line > 1  # points into spec.provider.aws.auth


def test_store_service_account_without_role_annotation():
    tree = fresh()
    del _sa(tree, "dev-external-secrets", "external-secrets")["metadata"]["annotations"]
    [f] = by_rule(run_platform(tree), "DD-ID-002")
    assert f.resource.kind == "ServiceAccount" and "ClusterSecretStore aws" in f.message
    assert "eks.amazonaws.com/role-arn" in f.fix


def test_role_annotation_that_is_not_an_arn():
    tree = fresh()
    _sa(tree, "dev-external-secrets", "external-secrets")["metadata"]["annotations"]["eks.amazonaws.com/role-arn"] = "dev"
    [f] = by_rule(run_platform(tree), "DD-ID-002")
    assert "not an IAM role ARN" in f.message


def test_role_must_match_the_environment_file():
    tree = fresh()
    other = "arn:aws:iam::123456789012:role/prod-external-secrets"
    _sa(tree, "dev-external-secrets", "external-secrets")["metadata"]["annotations"]["eks.amazonaws.com/role-arn"] = other
    [f] = by_rule(run_platform(tree), "DD-ID-003")
    assert other in f.message and ROLE in f.message
    # without a role in the env data any well-formed ARN is accepted
    assert by_rule(run_platform(tree, context(roleArns=[])), "DD-ID-003") == []


def test_namespaced_store_defaults_to_its_namespace_and_other_providers():
    tree = fresh()
    tree["rendered/dev/shop/secretstore-gcp.yaml"] = [{
        "apiVersion": "external-secrets.io/v1", "kind": "SecretStore", "metadata": {"name": "gcp", "namespace": "ecommerce"},
        "spec": {"provider": {"gcpsm": {"projectID": "p", "auth": {"workloadIdentity": {
            "clusterLocation": "eu", "clusterName": "c", "serviceAccountRef": {"name": "shop"}}}}}}}]
    tree[HELM_PREFIX + "dev-external-secrets"].append({
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition", "metadata": {"name": "secretstores.external-secrets.io"},
        "spec": {"group": "external-secrets.io", "scope": "Namespaced", "names": {"kind": "SecretStore"}}})
    [f] = by_rule(run_platform(tree), "DD-ID-002")
    assert "ServiceAccount ecommerce/shop" in f.message and "iam.gke.io/gcp-service-account" in f.message


def test_store_without_auth_uses_the_controller_identity():
    tree = fresh()
    del obj(tree, "clustersecretstore-aws")["spec"]["provider"]["aws"]["auth"]
    assert by_rule(run_platform(tree), "DD-ID-002") == []
    del _sa(tree, "dev-external-secrets", "external-secrets")["metadata"]["annotations"]
    [f] = by_rule(run_platform(tree), "DD-ID-002")
    assert "ambient" in f.message


def test_route53_ambient_needs_cert_manager_role():
    tree = fresh()
    del _sa(tree, "dev-cert-manager", "cert-manager")["metadata"]["annotations"]
    [f] = by_rule(run_platform(tree), "DD-ID-002")
    assert "ClusterIssuer letsencrypt" in f.message and f.resource.name == "cert-manager"


def test_route53_with_role_or_service_account():
    tree = fresh()
    del _sa(tree, "dev-cert-manager", "cert-manager")["metadata"]["annotations"]
    r53 = obj(tree, "clusterissuer-letsencrypt")["spec"]["acme"]["solvers"][0]["dns01"]["route53"]
    r53["role"] = ROLE
    assert run_platform(tree).findings == []
    r53["auth"] = {"kubernetes": {"serviceAccountRef": {"name": "route53"}}}
    [f] = by_rule(run_platform(tree), "DD-ID-004")
    assert "cert-manager/route53" in f.message
    del r53["role"]
    [f] = by_rule(run_platform(tree), "DD-ID-004")
    assert "no `role`" in f.message


def test_namespaced_issuer_cannot_use_ambient_credentials():
    tree = fresh()
    issuer = obj(tree, "clusterissuer-letsencrypt")
    issuer["kind"] = "Issuer"
    issuer["metadata"]["namespace"] = "ecommerce"
    [f] = by_rule(run_platform(tree), "DD-ID-004")
    assert "ambient" in f.message and f.resource.kind == "Issuer"


def test_unscoped_secret_path_with_suggested_key():
    tree = fresh()
    obj(tree, "externalsecret-shop.yaml")["spec"]["data"][0]["remoteRef"]["key"] = "ecommerce/shop/api"
    [f] = by_rule(run_platform(tree), "DD-ID-005")
    assert "'ecommerce/shop/api'" in f.message and "ecommerce/dev/shop/api" in f.fix
    assert f.line > 1


def test_secret_path_of_another_environment():
    tree = fresh()
    obj(tree, "externalsecret-shop.yaml")["spec"]["data"][0]["remoteRef"]["key"] = "ecommerce/prod/shop/api"
    [f] = by_rule(run_platform(tree), "DD-ID-006")
    assert f.severity.name == "CRITICAL" and "prod" in f.message


def test_names_that_contain_an_env_name_are_not_that_env():
    tree = fresh()
    obj(tree, "externalsecret-shop.yaml")["spec"]["data"][0]["remoteRef"]["key"] = "ecommerce/dev/product-service/api"
    assert run_platform(tree).findings == []


def test_secret_path_template_from_env_data():
    tree = fresh()
    ctx = context(secretPathTemplate="teams/{env}/")
    findings = by_rule(run_platform(tree, ctx), "DD-ID-005")
    assert {f.resource.name for f in findings} == {"shop-secrets", "shop-migrate-credentials"}
    assert all("teams/dev/" in f.fix for f in findings)


def test_datafrom_keys_are_judged_too():
    tree = fresh()
    es = obj(tree, "externalsecret-shop.yaml")
    es["spec"]["dataFrom"] = [{"extract": {"key": "ecommerce/prod/all"}}]
    [f] = by_rule(run_platform(tree), "DD-ID-006")
    assert "ecommerce/prod/all" in f.message


def test_external_secret_names_a_missing_store_or_one_that_excludes_its_namespace():
    tree = fresh()
    obj(tree, "externalsecret-shop.yaml")["spec"]["secretStoreRef"]["name"] = "vault"
    [f] = by_rule(run_platform(tree), "DD-ID-007")
    assert "ClusterSecretStore vault" in f.message and f.resource.name == "shop-secrets"
    tree = fresh()
    obj(tree, "clustersecretstore-aws")["spec"]["conditions"] = [{"namespaces": ["payments"]}]
    findings = by_rule(run_platform(tree), "DD-ID-007")
    assert {f.resource.name for f in findings} == {"shop-secrets", "shop-migrate-credentials"}
    obj(tree, "clustersecretstore-aws")["spec"]["conditions"] = [{"namespaceRegexes": ["^ecom"]}]
    assert by_rule(run_platform(tree), "DD-ID-007") == []
