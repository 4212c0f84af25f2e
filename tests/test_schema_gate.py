"""Schema gate: vendored Kubernetes/CRD schemas, field paths and lines, unknown kinds."""
from __future__ import annotations

import copy
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from generator.errors import EngineError
from generator.gate import GateContext
from generator.gate.engines.schema import (
    RULE_INVALID,
    RULE_NO_TYPE,
    RULE_NOT_SERVED,
    RULE_UNKNOWN_KIND,
    SchemaGate,
    format_path,
    get_store,
    validate_documents,
)
from generator.core import Document, Severity
from generator.yamlio import parse_manifests, read_manifests

FIX = Path(__file__).parent / "fixtures" / "schema"
REPO = Path(__file__).resolve().parent.parent

CRD_KINDS = [
    ("argoproj.io/v1alpha1", "Application"), ("argoproj.io/v1alpha1", "AppProject"),
    ("argoproj.io/v1alpha1", "Rollout"), ("argoproj.io/v1alpha1", "AnalysisTemplate"),
    ("cert-manager.io/v1", "Certificate"), ("cert-manager.io/v1", "ClusterIssuer"), ("cert-manager.io/v1", "Issuer"),
    ("monitoring.coreos.com/v1", "ServiceMonitor"), ("monitoring.coreos.com/v1", "PodMonitor"),
    ("monitoring.coreos.com/v1", "PrometheusRule"), ("bitnami.com/v1alpha1", "SealedSecret"),
    ("external-secrets.io/v1", "ExternalSecret"), ("external-secrets.io/v1beta1", "ExternalSecret"),
    ("external-secrets.io/v1", "ClusterSecretStore"), ("external-secrets.io/v1", "SecretStore"),
    ("autoscaling.k8s.io/v1", "VerticalPodAutoscaler"),
]


def run(name: str, **kw):
    docs = read_manifests([FIX / name])
    return validate_documents(docs, **kw)


def line_of(path: Path, needle: str) -> int:
    for i, line in enumerate(path.read_text().splitlines(), 1):
        if needle in line:
            return i
    raise AssertionError(f"{needle!r} not in {path}")


def test_unknown_field_in_deployment_has_path_and_line():
    findings, skipped = run("deployment-unknown-field.yaml")
    assert skipped == []
    assert len(findings) == 1
    f = findings[0]
    assert f.rule_id == RULE_INVALID and f.engine == "schema" and f.severity == Severity.HIGH
    assert f.message == "spec.template.spec.containers[0].imagePullPolcy: unknown field"
    assert f.file.endswith("deployment-unknown-field.yaml")
    assert f.line == line_of(FIX / "deployment-unknown-field.yaml", "imagePullPolcy") == 20
    assert f.resource.kind == "Deployment" and f.resource.name == "order-service" and f.resource.namespace == "shop"
    # the rendered header comment points back at the service file
    assert f.source is not None and f.source.file == "services/order-service.yaml"


def test_string_where_integer_belongs():
    findings, _ = run("bad-port-string.yaml")
    assert [f.message for f in findings] == [
        'spec.template.spec.containers[0].ports[1].containerPort: "http" is not of type integer']
    assert findings[0].line == line_of(FIX / "bad-port-string.yaml", 'containerPort: "http"')


def test_argocd_application_bad_sync_policy():
    findings, _ = run("application-bad-syncpolicy.yaml")
    by_msg = {f.message: f.line for f in findings}
    p = FIX / "application-bad-syncpolicy.yaml"
    assert by_msg == {
        'spec.syncPolicy.automated.prune: "yes" is not of type boolean': line_of(p, "prune:"),
        'spec.syncPolicy.syncOptions: "CreateNamespace=true" is not of type array': line_of(p, "syncOptions:"),
    }
    assert all(f.resource.kind == "Application" for f in findings)


def test_valid_manifests_of_every_crd_kind_and_common_builtins_pass():
    docs = read_manifests([FIX / "valid"])
    kinds = {(d.obj["apiVersion"], d.obj["kind"]) for d in docs}
    assert set(CRD_KINDS) <= kinds, set(CRD_KINDS) - kinds
    for builtin in [("v1", "Service"), ("apps/v1", "Deployment"), ("apps/v1", "StatefulSet"), ("v1", "ConfigMap"),
                    ("networking.k8s.io/v1", "Ingress"), ("policy/v1", "PodDisruptionBudget"), ("batch/v1", "CronJob")]:
        assert builtin in kinds
    findings, skipped = validate_documents(docs, strict_kinds=True)
    assert findings == [] and skipped == []


@pytest.mark.parametrize("api_version,kind", CRD_KINDS)
def test_every_crd_kind_is_strict_at_root_and_in_metadata(api_version, kind):
    doc = next(d for d in read_manifests([FIX / "valid"]) if (d.obj["apiVersion"], d.obj["kind"]) == (api_version, kind))
    obj = copy.deepcopy(doc.obj)
    obj["spce"] = {}
    obj["metadata"]["lables"] = {"a": "b"}
    findings, _ = validate_documents([Document(doc.file, doc.line, obj)])
    assert sorted(f.message for f in findings) == ["metadata.lables: unknown field", "spce: unknown field"]


def test_crd_nested_unknown_field_is_rejected():
    docs = [d for d in read_manifests([FIX / "valid" / "argo.yaml"]) if d.obj["kind"] == "Application"]
    obj = copy.deepcopy(docs[0].obj)
    obj["spec"]["syncPolicy"]["automated"]["selfheal"] = True
    findings, _ = validate_documents([Document("x.yaml", 1, obj)])
    assert [f.message for f in findings] == ["spec.syncPolicy.automated.selfheal: unknown field"]


def test_property_named_description_kept_but_unknown_fields_still_rejected():
    text = "apiVersion: scheduling.k8s.io/v1\nkind: PriorityClass\nmetadata:\n  name: p\nvalue: 1\ndescription: ok\nvalu: 2\n"
    findings, _ = validate_documents(parse_manifests(text, "p.yaml"))
    assert [(f.message, f.line) for f in findings] == [("valu: unknown field", 7)]


def test_missing_required_field_points_at_parent():
    text = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: d\nspec:\n  replicas: 1\n"
    findings, _ = validate_documents(parse_manifests(text, "d.yaml"))
    msgs = {f.message: f.line for f in findings}
    assert msgs == {"spec.selector: required field is missing": 5, "spec.template: required field is missing": 5}


def test_int_or_string_accepts_both_and_rejects_others():
    base = ("apiVersion: v1\nkind: Service\nmetadata:\n  name: s\nspec:\n  ports:\n    - port: 80\n"
            "      targetPort: {}\n")
    for ok in ("http", "8080", "null"):
        assert validate_documents(parse_manifests(base.format(ok), "s.yaml"))[0] == []
    findings, _ = validate_documents(parse_manifests(base.format("1.5"), "s.yaml"))
    assert [(f.message, f.line) for f in findings] == [
        ("spec.ports[0].targetPort: 1.5 is not of type string or integer", 8)]


def test_removed_api_version_or_misspelt_builtin_kind_is_always_a_finding():
    text = ("apiVersion: apps/v1beta1\nkind: Deployment\nmetadata:\n  name: old\n"
            "---\nkind: Deploymnet\napiVersion: apps/v1\nmetadata:\n  name: typo\n"
            "---\napiVersion: v1\nkind: Service\nmetadata:\n  name: s\nspec:\n  type: Public\n")
    findings, skipped = validate_documents(parse_manifests(text, "s.yaml"))
    assert skipped == []
    assert [(f.rule_id, f.line, f.message) for f in findings] == [
        (RULE_NOT_SERVED, 1, "apps/v1beta1 Deployment is not served by Kubernetes v1.31: use apps/v1"),
        (RULE_NOT_SERVED, 6, "apps/v1 Deploymnet is not served by Kubernetes v1.31: no kind Deploymnet in that API group"),
        # Kubernetes' OpenAPI has no enum for Service.spec.type: the API server, not the schema, rejects it
    ]


def test_unknown_kind_is_skipped_then_a_finding_under_strict_kinds():
    findings, skipped = run("unknown-kind.yaml")
    assert findings == []
    assert len(skipped) == 1 and skipped[0].startswith("example.com/v1 Widget (no schema): ")
    assert skipped[0].endswith("unknown-kind.yaml:1")
    findings, skipped = run("unknown-kind.yaml", strict_kinds=True)
    assert skipped == []
    assert [(f.rule_id, f.line, f.severity) for f in findings] == [(RULE_UNKNOWN_KIND, 1, Severity.HIGH)]
    assert "example.com/v1 Widget" in findings[0].message


def test_missing_api_version_or_kind_is_a_finding():
    findings, _ = run("missing-kind.yaml")
    assert [(f.rule_id, f.line, f.message) for f in findings] == [
        (RULE_NO_TYPE, 1, "apiVersion and kind: missing or not a string")]
    findings, _ = validate_documents(parse_manifests("apiVersion: v1\nmetadata: {name: x}\n", "k.yaml"))
    assert [f.message for f in findings] == ["kind: missing or not a string"]


def test_many_errors_are_capped_per_document():
    data = {f"f{i}": i for i in range(40)}
    obj = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}, **data}
    findings, _ = validate_documents([Document("c.yaml", 1, obj)])
    assert len(findings) == 21
    assert findings[-1].message == "... and 20 more schema errors" or \
        sum(f.message == "... and 20 more schema errors" for f in findings) == 1


def test_yaml_only_values_are_judged_as_kubernetes_sees_them():
    # int keys and dates become strings in Kubernetes' YAML->JSON decoding
    text = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\ndata:\n  1: one\n  day: 2024-01-01\n"
    findings, _ = validate_documents(parse_manifests(text, "c.yaml"))
    assert findings == []


def test_gate_protocol_and_skipped_warning():
    warnings: list[str] = []
    gate = SchemaGate()
    assert gate.name == "schema"
    docs = read_manifests([FIX / "unknown-kind.yaml", FIX / "bad-port-string.yaml"])
    findings = gate.run(docs, GateContext(warn=warnings.append))
    assert [f.rule_id for f in findings] == [RULE_INVALID]
    assert gate.skipped and warnings == [f"schema: skipped {gate.skipped[0]}"]


def test_each_schema_is_compiled_once():
    store = get_store()
    a = store.validator("apps/v1", "Deployment")
    assert a is store.validator("apps/v1", "Deployment")
    assert store.validator("example.com/v1", "Widget") is None


def test_format_path_quotes_dotted_keys():
    assert format_path(["metadata", "labels", "app.kubernetes.io/name"]) == 'metadata.labels["app.kubernetes.io/name"]'
    assert format_path(["spec", "ports", 0, "port"]) == "spec.ports[0].port"
    assert format_path([]) == "(document)"


def test_kubeconform_missing_is_an_engine_error():
    if shutil.which("kubeconform"):
        pytest.skip("kubeconform is installed here; the missing-binary path cannot be exercised")
    docs = read_manifests([FIX / "bad-port-string.yaml"])
    with pytest.raises(EngineError) as exc:
        validate_documents(docs, validator="kubeconform")
    assert "kubeconform is not on PATH" in str(exc.value)
    assert "kubeconform" in exc.value.problems[0].hint


@pytest.mark.skipif(not shutil.which("kubeconform"), reason="kubeconform is not on PATH (installed in GitHub Actions only)")
def test_kubeconform_reports_the_same_defect():
    docs = read_manifests([FIX / "bad-port-string.yaml"])
    findings, _ = validate_documents(docs, validator="kubeconform")
    assert findings and findings[0].rule_id == RULE_INVALID
    assert "containerPort" in findings[0].message


def test_normalize_kubeconform_output():
    from generator.gate.engines.schema import normalize_kubeconform

    docs = read_manifests([FIX / "bad-port-string.yaml", FIX / "unknown-kind.yaml"])
    out = {"resources": [
        {"filename": "/t/0.yaml", "kind": "Deployment", "name": "cart", "version": "apps/v1", "status": "statusInvalid",
         "msg": "", "validationErrors": [{"path": "/spec/template/spec/containers/0/ports/1/containerPort",
                                         "msg": "expected integer, but got string"}]},
        {"filename": "/t/1.yaml", "kind": "Widget", "name": "w", "version": "example.com/v1", "status": "statusSkipped", "msg": ""},
    ]}
    findings, skipped = normalize_kubeconform(out, {"/t/0.yaml": docs[0], "/t/1.yaml": docs[1]})
    assert [(f.message, f.line) for f in findings] == [
        ("spec.template.spec.containers[0].ports[1].containerPort: expected integer, but got string", 21)]
    assert skipped == [f"example.com/v1 Widget (skipped by kubeconform): {docs[1].file}:1"]


def test_cli_exit_codes():
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    cmd = [sys.executable, "-m", "generator.gate.engines.schema"]
    ok = subprocess.run(cmd + [str(FIX / "valid")], capture_output=True, text=True, env=env)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    bad = subprocess.run(cmd + [str(FIX / "bad-port-string.yaml")], capture_output=True, text=True, env=env)
    assert bad.returncode == 1 and "containerPort" in bad.stdout
    broken = subprocess.run(cmd + [str(FIX / "broken-yaml.yaml")], capture_output=True, text=True, env=env)
    assert broken.returncode == 2 and "broken-yaml.yaml:7" in broken.stderr and "fix:" in broken.stderr
    assert "Traceback" not in broken.stderr


def _tree(tmp_path, n=420, bad_at=None, broken_at=None):
    src = (FIX / "valid" / "builtin.yaml").read_text().split("---\n")
    for i in range(n):
        text = src[i % len(src)]
        if i == bad_at:
            text = (FIX / "bad-port-string.yaml").read_text()
        if i == broken_at:
            text = (FIX / "broken-yaml.yaml").read_text()
        d = tmp_path / f"app-{i % 7}"
        d.mkdir(exist_ok=True)
        (d / f"doc-{i:03d}.yaml").write_text(text)
    (tmp_path / "widget.yaml").write_text((FIX / "unknown-kind.yaml").read_text())
    return tmp_path


def test_validate_paths_same_result_with_one_or_two_workers(tmp_path):
    from generator.gate.engines.schema import validate_paths

    root = _tree(tmp_path, bad_at=361)  # 421 files: two workers of >= MIN_FILES_PER_WORKER each
    one = validate_paths([root], workers=1)
    two = validate_paths([root], workers=2)
    assert one == two
    findings, skipped, n = two
    assert n == 421 and len(findings) == 1 and findings[0].file.endswith("doc-361.yaml") and findings[0].line == 21
    assert len(skipped) == 1 and "Widget" in skipped[0]


def test_validate_paths_raises_a_workers_input_error(tmp_path):
    from generator.errors import InputError
    from generator.gate.engines.schema import validate_paths

    root = _tree(tmp_path, broken_at=400)
    for workers in (1, 2):
        with pytest.raises(InputError) as exc:
            validate_paths([root], workers=workers)
        assert exc.value.problems[0].file.endswith("doc-400.yaml") and exc.value.problems[0].line == 7


def test_normalize_kubeconform_missing_schema_and_missing_kind():
    from generator.gate.engines.schema import normalize_kubeconform

    docs = read_manifests([FIX / "unknown-kind.yaml", FIX / "missing-kind.yaml"])
    out = {"resources": [
        {"filename": "a", "kind": "Widget", "version": "example.com/v1", "status": "statusError",
         "msg": "could not find schema for Widget"},
        {"filename": "b", "kind": "", "version": "", "status": "statusError", "msg": "missing 'kind' key"},
    ]}
    by_file = {"a": docs[0], "b": docs[1]}
    findings, skipped = normalize_kubeconform(out, by_file)
    assert [f.rule_id for f in findings] == [RULE_NO_TYPE] and len(skipped) == 1
    findings, skipped = normalize_kubeconform(out, by_file, strict_kinds=True)
    assert sorted(f.rule_id for f in findings) == sorted([RULE_NO_TYPE, RULE_UNKNOWN_KIND]) and skipped == []


def test_binary_values_are_checked_as_base64_strings():
    text = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\ndata:\n  key: !!binary aGk=\n"
    assert validate_documents(parse_manifests(text, "s.yaml"))[0] == []
    bad = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\ndata:\n  key: !!binary aGk=\n  n: 3\n"
    findings, _ = validate_documents(parse_manifests(bad, "s.yaml"))
    assert [(f.message, f.line) for f in findings] == [("data.n: 3 is not of type string", 7)]


def test_metadata_name_is_required_like_the_api_server_does():
    text = ("apiVersion: v1\nkind: ConfigMap\ndata: {}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  labels: {a: b}\n"
            "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  generateName: cm-\n"
            "---\napiVersion: v1\nkind: ConfigMapList\nitems: []\n")
    findings, _ = validate_documents(parse_manifests(text, "n.yaml"))
    assert [(f.message, f.line) for f in findings] == [("metadata.name: required field is missing", 1),
                                                       ("metadata.name: required field is missing", 7)]


def _named(kind: str, name: str, api_version: str = "v1", extra: str = "") -> str:
    return f"apiVersion: {api_version}\nkind: {kind}\nmetadata:\n  name: {name}\n{extra}"


@pytest.mark.parametrize("kind, api_version, name", [
    ("ConfigMap", "v1", '"\u0441\u0430fe-config"'),  # Cyrillic lookalikes
    ("ConfigMap", "v1", "My-Config"),
    ("Deployment", "apps/v1", "api_gateway"),
    ("Secret", "v1", "db-creds-"),
    ("Service", "v1", "1api"),                          # a Service name must start with a letter
    ("Service", "v1", "orders.v2"),                     # ... and holds no dot
    ("Namespace", "v1", "shop.prod"),
    ("ServiceAccount", "v1", "x" * 254),
    ("CronJob", "batch/v1", "nightly-" + "x" * 50),     # the Jobs it creates append 11 characters
    ("ClusterRole", "rbac.authorization.k8s.io/v1", "team/readers"),
    ("Certificate", "cert-manager.io/v1", "Shop-TLS"),  # custom resources follow the same rule
])
def test_a_name_the_api_server_refuses_is_a_finding_at_its_line(kind, api_version, name):
    findings, _ = validate_documents(parse_manifests(_named(kind, name, api_version), "n.yaml"))
    name_findings = [f for f in findings if f.message.startswith("metadata.name:")]
    assert len(name_findings) == 1 and name_findings[0].line == 4 and name_findings[0].rule_id == RULE_INVALID
    assert f"is not a valid {kind} name: it must be" in name_findings[0].message


@pytest.mark.parametrize("kind, api_version, name", [
    ("ConfigMap", "v1", "kube-root-ca.crt"),
    ("Deployment", "apps/v1", "a"),
    ("Service", "v1", "api-gateway"),
    ("ClusterRole", "rbac.authorization.k8s.io/v1", "system:aggregate-to-edit"),
    ("ClusterRoleBinding", "rbac.authorization.k8s.io/v1", "system:Controller:x"),
    ("Secret", "v1", "sh.helm.release.v1.shop.v3"),
])
def test_names_the_api_server_takes_are_not_findings(kind, api_version, name):
    findings, _ = validate_documents(parse_manifests(_named(kind, name, api_version), "n.yaml"))
    assert [f.message for f in findings if f.message.startswith("metadata.name:")] == []


def test_configmap_and_secret_keys_must_be_file_names():
    text = _named("ConfigMap", "c", extra='data:\n  app.properties: x\n  "a/b": y\n  "..": z\n  "caf\u00e9": w\n') + \
        "---\n" + _named("Secret", "s", extra='stringData:\n  "tls key": x\n  tls.key: y\n')
    findings, _ = validate_documents(parse_manifests(text, "k.yaml"))
    assert [(f.resource.name, f.message.split(": key ")[0], f.line) for f in findings] == [
        ("c", "data.a/b", 7), ("c", 'data[".."]', 8), ("c", "data.caf\u00e9", 9), ("s", "stringData.tls key", 16)]
    assert all(f.rule_id == RULE_INVALID and "is not a valid" in f.message for f in findings)
