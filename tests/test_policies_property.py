"""No policy errs on valid Kubernetes, under regorus and under OPA.

Hypothesis builds renders of every kind the rules read, in the shapes real
manifests take (several Ingress rules, many containers, empty lists, optional
fields left out, List and typed Lists, CronJobs, Argo Rollouts, OpenShift
DeploymentConfigs, Knative Services, RBAC without subjects, ...). Each render
goes through the real loader (so lines are mapped from real YAML text) and the
real policy bundle. The property: evaluation never raises, every deny entry is
well formed, every finding points at a line of its document, and OPA (the real
Go engine, tests/opa_double.py) reports exactly what regorus reports.
"""
from __future__ import annotations

import json

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from generator.gate.engines.rego import build_input, evaluate, findings_from_result, load_policies
from generator.yamlio import parse_manifests

# Slow (deselect with -m 'not slow'): the hypothesis property; the unmarked test is the quick case.

NAMES = st.sampled_from(["web", "api", "db", "cache", "worker", "default", "shop-frontend"])
NAMESPACES = st.sampled_from(["shop", "default", "kube-system", "payments"])
LABELS = st.dictionaries(st.sampled_from(["app", "tier", "app.kubernetes.io/name", "app.kubernetes.io/part-of"]),
                         st.sampled_from(["web", "api", "db", "frontend"]), max_size=3)
IMAGES = st.sampled_from([
    "nginx", "nginx:latest", "nginx:1.25", "docker.io/library/redis:7", "registry.example.com/ecommerce/api:1.2.3",
    "ghcr.io/org/app@sha256:" + "a" * 64, "localhost:5000/app:dev", "quay.io/prometheus/node-exporter:v1.8.0",
])
QUANTITY = st.sampled_from(["100m", "1", "0.5", "128Mi", "1Gi", 2])


def opt(strategy):
    """A field that may be left out (None is dropped before dumping)."""
    return st.one_of(st.none(), strategy)


def clean(value):
    if isinstance(value, dict):
        return {k: clean(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [clean(v) for v in value]
    return value


security_context = st.fixed_dictionaries({}, optional={
    "privileged": st.booleans(),
    "allowPrivilegeEscalation": st.booleans(),
    "readOnlyRootFilesystem": st.booleans(),
    "runAsNonRoot": st.booleans(),
    "runAsUser": st.sampled_from([0, 1000, 65534]),
    "procMount": st.sampled_from(["Default", "Unmasked"]),
    "capabilities": st.fixed_dictionaries({}, optional={
        "add": st.lists(st.sampled_from(["NET_ADMIN", "NET_BIND_SERVICE", "CAP_SYS_ADMIN"]), max_size=2),
        "drop": st.lists(st.sampled_from(["ALL", "NET_RAW", "all"]), max_size=2)}),
    "seccompProfile": st.fixed_dictionaries({"type": st.sampled_from(["RuntimeDefault", "Unconfined", "Localhost"])}),
    "appArmorProfile": st.fixed_dictionaries({"type": st.sampled_from(["RuntimeDefault", "Unconfined"])}),
    "seLinuxOptions": st.fixed_dictionaries({}, optional={"type": st.sampled_from(["container_t", "spc_t"]),
                                                           "user": st.sampled_from(["", "system_u"])}),
    "windowsOptions": st.fixed_dictionaries({"hostProcess": st.booleans()}),
})

env_var = st.one_of(
    st.fixed_dictionaries({"name": st.sampled_from(["DB_PASSWORD", "API_KEY", "LOG_LEVEL", "TOKEN_FILE"]),
                           "value": st.sampled_from(["", "hunter2", "info"])}),
    st.fixed_dictionaries({"name": st.sampled_from(["DB_PASSWORD", "TOKEN"]),
                           "valueFrom": st.one_of(
                               st.fixed_dictionaries({"secretKeyRef": st.fixed_dictionaries({"name": NAMES, "key": st.just("k")})}),
                               st.fixed_dictionaries({"configMapKeyRef": st.fixed_dictionaries({"name": NAMES, "key": st.just("k")})}),
                               st.fixed_dictionaries({"fieldRef": st.fixed_dictionaries({"fieldPath": st.just("metadata.name")})}))}),
    st.fixed_dictionaries({"name": st.just("EMPTY")}),
)

probe = st.fixed_dictionaries({"httpGet": st.fixed_dictionaries({"path": st.just("/healthz"), "port": st.sampled_from([8080, "http"])})})

container = st.fixed_dictionaries({"name": NAMES}, optional={
    "image": IMAGES,
    "ports": st.lists(st.fixed_dictionaries({"containerPort": st.integers(1, 65535)},
                                            optional={"hostPort": st.sampled_from([0, 8080]), "name": st.sampled_from(["http", "metrics"]),
                                                      "protocol": st.sampled_from(["TCP", "UDP"])}), max_size=2),
    "env": st.lists(env_var, max_size=3),
    "envFrom": st.lists(st.fixed_dictionaries({"secretRef": st.fixed_dictionaries({"name": NAMES})}), max_size=1),
    "resources": st.fixed_dictionaries({}, optional={
        "limits": st.dictionaries(st.sampled_from(["cpu", "memory"]), QUANTITY, max_size=2),
        "requests": st.dictionaries(st.sampled_from(["cpu", "memory"]), QUANTITY, max_size=2)}),
    "securityContext": security_context,
    "livenessProbe": probe,
    "readinessProbe": probe,
    "volumeMounts": st.lists(st.fixed_dictionaries({"name": NAMES, "mountPath": st.sampled_from(["/data", "/var/run/secrets/x"])}), max_size=2),
})

volume = st.one_of(
    st.fixed_dictionaries({"name": NAMES, "emptyDir": st.just({})}),
    st.fixed_dictionaries({"name": NAMES, "hostPath": st.fixed_dictionaries(
        {"path": st.sampled_from(["/var/log", "/var/run/docker.sock", "/run/containerd/containerd.sock/", "/"])},
        optional={"type": st.sampled_from(["Directory", "Socket"])})}),
    st.fixed_dictionaries({"name": NAMES, "secret": st.fixed_dictionaries({"secretName": NAMES})}),
    st.fixed_dictionaries({"name": NAMES, "nfs": st.fixed_dictionaries({"server": st.just("nfs"), "path": st.just("/x")})}),
    st.fixed_dictionaries({"name": NAMES, "configMap": st.fixed_dictionaries({"name": NAMES})}),
)

pod_spec = st.fixed_dictionaries({"containers": st.lists(container, max_size=4)}, optional={
    "initContainers": st.lists(container, max_size=2),
    "ephemeralContainers": st.lists(container, max_size=1),
    "volumes": st.lists(volume, max_size=3),
    "hostNetwork": st.booleans(), "hostPID": st.booleans(), "hostIPC": st.booleans(),
    "serviceAccountName": NAMES,
    "automountServiceAccountToken": st.booleans(),
    "securityContext": st.fixed_dictionaries({}, optional={
        "runAsNonRoot": st.booleans(), "runAsUser": st.sampled_from([0, 1000]),
        "seccompProfile": st.fixed_dictionaries({"type": st.sampled_from(["RuntimeDefault", "Unconfined"])}),
        "sysctls": st.lists(st.fixed_dictionaries({"name": st.sampled_from(["net.ipv4.tcp_syncookies", "kernel.msgmax"]),
                                                   "value": st.just("1")}), max_size=2),
        "seLinuxOptions": st.fixed_dictionaries({"type": st.sampled_from(["container_t", "spc_t"])}),
        "windowsOptions": st.fixed_dictionaries({"hostProcess": st.booleans()}),
        "appArmorProfile": st.fixed_dictionaries({"type": st.sampled_from(["RuntimeDefault", "Unconfined"])})}),
})


@st.composite
def meta(draw, namespaced=True):
    m = {"name": draw(NAMES)}
    if namespaced:
        m["namespace"] = draw(opt(NAMESPACES))
    m["labels"] = draw(opt(LABELS))
    m["annotations"] = draw(opt(st.dictionaries(
        st.sampled_from(["cert-manager.io/cluster-issuer", "container.apparmor.security.beta.kubernetes.io/app"]),
        st.sampled_from(["letsencrypt", "runtime/default", "unconfined", "localhost/p"]), max_size=2)))
    return m


@st.composite
def template(draw):
    return clean({"metadata": draw(opt(st.fixed_dictionaries({}, optional={"labels": LABELS}))), "spec": draw(pod_spec)})


@st.composite
def workload(draw):
    kind, api = draw(st.sampled_from([
        ("Deployment", "apps/v1"), ("StatefulSet", "apps/v1"), ("DaemonSet", "apps/v1"), ("ReplicaSet", "apps/v1"),
        ("Job", "batch/v1"), ("ReplicationController", "v1"), ("Rollout", "argoproj.io/v1alpha1"),
        ("DeploymentConfig", "apps.openshift.io/v1"), ("Service", "serving.knative.dev/v1")]))
    spec = {"replicas": draw(opt(st.integers(0, 5))), "selector": draw(opt(st.fixed_dictionaries({"matchLabels": LABELS})))}
    if draw(st.integers(0, 9)):  # now and then a workload without a pod template (a patch, a kustomize base)
        spec["template"] = draw(template())
    return {"apiVersion": api, "kind": kind, "metadata": draw(meta()), "spec": spec}


@st.composite
def pod(draw):
    return {"apiVersion": "v1", "kind": "Pod", "metadata": draw(meta()), "spec": draw(pod_spec)}


@st.composite
def cronjob(draw):
    return {"apiVersion": "batch/v1", "kind": "CronJob", "metadata": draw(meta()),
            "spec": {"schedule": "*/5 * * * *", "jobTemplate": {"spec": {"template": draw(template())}}}}


backend = st.fixed_dictionaries({"service": st.fixed_dictionaries(
    {"name": NAMES, "port": st.one_of(st.fixed_dictionaries({"number": st.integers(1, 65535)}),
                                      st.fixed_dictionaries({"name": st.sampled_from(["http", "grpc"])}))})})
ingress_rule = st.fixed_dictionaries({}, optional={
    "host": st.sampled_from(["a.example.com", "b.example.com", "*.example.com"]),
    "http": st.fixed_dictionaries({"paths": st.lists(st.fixed_dictionaries(
        {"path": st.sampled_from(["/", "/api"]), "pathType": st.just("Prefix"), "backend": backend}), max_size=3)})})


@st.composite
def ingress(draw):
    spec = clean({"rules": draw(opt(st.lists(ingress_rule, max_size=4))), "defaultBackend": draw(opt(backend)),
                  "tls": draw(opt(st.lists(st.fixed_dictionaries({}, optional={
                      "hosts": st.lists(st.sampled_from(["a.example.com", "b.example.com"]), max_size=2),
                      "secretName": NAMES}), max_size=2)))})
    return {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": draw(meta()), "spec": spec}


selector = st.fixed_dictionaries({}, optional={
    "matchLabels": LABELS,
    "matchExpressions": st.lists(st.fixed_dictionaries({
        "key": st.sampled_from(["app", "tier"]), "operator": st.sampled_from(["In", "NotIn", "Exists", "DoesNotExist"])},
        optional={"values": st.lists(st.sampled_from(["web", "db"]), max_size=2)}), max_size=2)})


@st.composite
def other(draw):
    kind = draw(st.sampled_from(["Service", "NetworkPolicy", "PodDisruptionBudget", "HorizontalPodAutoscaler",
                                 "VerticalPodAutoscaler", "Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding",
                                 "ServiceAccount", "Secret", "Namespace", "ConfigMap", "Application"]))
    m = draw(meta(namespaced=kind not in ("ClusterRole", "ClusterRoleBinding", "Namespace")))
    if kind == "Service":
        body = {"spec": clean({"type": draw(opt(st.sampled_from(["ClusterIP", "NodePort", "LoadBalancer", "ExternalName"]))),
                               "selector": draw(opt(LABELS)),
                               "ports": draw(opt(st.lists(st.fixed_dictionaries({"port": st.integers(1, 65535)},
                                                                                 optional={"name": st.sampled_from(["http", "grpc"])}), max_size=2)))})}
        api = "v1"
    elif kind == "NetworkPolicy":
        body = {"spec": clean({"podSelector": draw(selector), "policyTypes": draw(opt(st.lists(st.sampled_from(["Ingress", "Egress"]), max_size=2)))})}
        api = "networking.k8s.io/v1"
    elif kind == "PodDisruptionBudget":
        body = {"spec": clean({"selector": draw(opt(selector)), "minAvailable": draw(opt(st.sampled_from([0, 1, 3, "50%", "100%"]))),
                               "maxUnavailable": draw(opt(st.sampled_from([0, 1, "0%", "0"])))})}
        api = "policy/v1"
    elif kind in ("HorizontalPodAutoscaler", "VerticalPodAutoscaler"):
        field = "scaleTargetRef" if kind == "HorizontalPodAutoscaler" else "targetRef"
        body = {"spec": clean({field: {"apiVersion": "apps/v1", "kind": draw(st.sampled_from(["Deployment", "StatefulSet", "Rollout"])),
                                       "name": draw(NAMES)}, "minReplicas": draw(opt(st.integers(1, 3)))})}
        api = "autoscaling/v2" if kind == "HorizontalPodAutoscaler" else "autoscaling.k8s.io/v1"
    elif kind in ("Role", "ClusterRole"):
        body = clean({"rules": draw(opt(st.lists(st.fixed_dictionaries({"verbs": st.lists(st.sampled_from(["get", "list", "*", "bind", "escalate"]), max_size=3)}, optional={
            "apiGroups": st.lists(st.sampled_from(["", "*", "apps"]), max_size=2),
            "resources": st.lists(st.sampled_from(["secrets", "pods", "*"]), max_size=2),
            "resourceNames": st.lists(NAMES, max_size=1)}), max_size=3)))})
        api = "rbac.authorization.k8s.io/v1"
    elif kind in ("RoleBinding", "ClusterRoleBinding"):
        body = clean({"roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": draw(st.sampled_from(["Role", "ClusterRole"])),
                                  "name": draw(st.sampled_from(["cluster-admin", "admin", "edit", "view", "reader"]))},
                      "subjects": draw(opt(st.lists(st.fixed_dictionaries({"kind": st.sampled_from(["ServiceAccount", "User", "Group"]), "name": NAMES},
                                                                          optional={"namespace": NAMESPACES}), max_size=2)))})
        api = "rbac.authorization.k8s.io/v1"
    elif kind == "ServiceAccount":
        body = clean({"automountServiceAccountToken": draw(opt(st.booleans()))})
        api = "v1"
    elif kind == "Secret":
        body = clean({"data": draw(opt(st.dictionaries(st.sampled_from(["password", "token"]), st.just("aHVudGVyMg=="), max_size=2))),
                      "stringData": draw(opt(st.dictionaries(st.just("key"), st.just("x"), max_size=1)))})
        api = "v1"
    elif kind == "Namespace":
        api, body = "v1", {}
    elif kind == "ConfigMap":
        api, body = "v1", {"data": draw(st.dictionaries(st.sampled_from(["a", "b"]), st.just("x"), max_size=2))}
    else:
        src = st.fixed_dictionaries({"repoURL": st.just("https://git.example.com/repo.git")},
                                    optional={"path": st.sampled_from(["rendered/prod/web", "./prod/api/", "elsewhere"]),
                                              "chart": st.just("redis"), "targetRevision": st.just("main")})
        spec = draw(st.one_of(st.fixed_dictionaries({"source": src}), st.fixed_dictionaries({"sources": st.lists(src, max_size=2)})))
        api, body = "argoproj.io/v1alpha1", {"spec": spec}
    return {"apiVersion": api, "kind": kind, "metadata": m, **body}


objects = st.one_of(workload(), pod(), cronjob(), ingress(), other())


@st.composite
def render(draw):
    """YAML text of one file: plain documents, and now and then a List or a typed List."""
    objs = [clean(o) for o in draw(st.lists(objects, min_size=1, max_size=8))]
    docs = []
    while objs:
        take = draw(st.integers(1, 3))
        chunk, objs = objs[:take], objs[take:]
        form = draw(st.sampled_from(["plain", "plain", "List", "typed"]))
        if form == "plain" or (form == "typed" and len({(o["apiVersion"], o["kind"]) for o in chunk}) > 1):
            docs.extend(chunk)
        elif form == "List":
            docs.append({"apiVersion": "v1", "kind": "List", "items": chunk})
        else:  # a typed list leaves its items' kind and apiVersion out, as the API server does
            docs.append({"apiVersion": chunk[0]["apiVersion"], "kind": chunk[0]["kind"] + "List",
                         "items": [{k: v for k, v in o.items() if k not in ("apiVersion", "kind")} for o in chunk]})
    return yaml.safe_dump_all(docs, sort_keys=False)


ENV = {"allowedRegistries": ["registry.example.com/ecommerce/"], "requireDigest": True,
       "existingPaths": ["prod/web"], "allowedServiceTypes": ["ClusterIP"]}


@pytest.fixture(scope="module")
def opa():
    """The real OPA Go engine with drydock's policies loaded (helpers first, as OPA compiles per upload)."""
    pytest.importorskip("opa_bindings")
    from tests.opa_double import _Store

    bundle = load_policies()
    store = _Store()
    for m in sorted(bundle.modules, key=lambda m: (m.package.startswith("drydock.rules."), m.rel)):
        store.put(m.rel, m.text)
    return bundle, store


def _key(findings):
    return sorted((f.rule_id, f.message, f.line, f.end_line) for f in findings)


@pytest.mark.slow
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(text=render(), env=st.sampled_from([{}, ENV]))
def test_no_policy_errs_on_valid_manifests(opa, text, env):
    docs = parse_manifests(text, "gen.yaml")
    found = evaluate(docs, env)  # regorus: an error would raise EngineError here
    n_lines = text.count("\n") + 1
    for f in found:
        assert 1 <= f.line <= n_lines and (f.end_line is None or f.line < f.end_line <= n_lines), f
    bundle, store = opa
    value = store.query("drydock.rules", json.loads(json.dumps(build_input(docs, env))))
    from_opa = findings_from_result(value, bundle, docs, "opa")
    assert _key(from_opa) == _key(found)


def test_multi_rule_ingress_is_judged_per_backend():
    """The regression that crashed the gate: an Ingress with two rules."""
    text = """\
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: shop, namespace: shop}
spec:
  rules:
    - host: a.example.com
      http:
        paths:
          - {path: /, pathType: Prefix, backend: {service: {name: web, port: {number: 80}}}}
    - host: b.example.com
      http:
        paths:
          - {path: /, pathType: Prefix, backend: {service: {name: api, port: {number: 80}}}}
"""
    found = [f for f in evaluate(parse_manifests(text, "ing.yaml"), {}) if f.rule_id == "DD-XRS-006"]
    assert sorted((f.line, f.message.split(" backend")[0]) for f in found) == [
        (9, "Ingress rules[0].http.paths[0]"), (13, "Ingress rules[1].http.paths[0]")]
