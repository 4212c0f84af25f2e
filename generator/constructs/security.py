"""Network isolation and secret plumbing.

- `platform/`: default-deny NetworkPolicy (ingress and egress, every pod of the
  namespace), DNS egress to kube-dns, and the `aws-secrets-manager` ClusterSecretStore every ExternalSecret uses.
- `<service>/networkpolicy-<service>.yaml`: the allow rules of one service, generated
  from the dependency graph: callers -> this service's port, ingress-nginx -> public
  services, Prometheus -> metrics port; egress to the services it calls, its datastores
  and queue, and the OpenTelemetry collector when tracing is on.
- `<datastore>/networkpolicy-<datastore>.yaml`: who may reach an in-cluster datastore
  (its users and their migration jobs) and Prometheus on its metrics port.

Managed datastores live outside the cluster behind ExternalName Services. A
NetworkPolicy cannot select a DNS name, so egress to them is allowed by port to the
private VPC range (`MANAGED_CIDRS`): RDS, ElastiCache and Amazon MQ run in private
subnets and Atlas is reached through PrivateLink, so the public internet stays closed.

`sealed_secret()` builds a `bitnami.com/v1alpha1 SealedSecret` from data that is
already encrypted with `kubeseal`; drydock never sees or writes a plaintext Secret.
"""
from __future__ import annotations

from ..model.types import Environment, Platform, Service
from . import datastores, wiring
from .addons import addon_namespace
from .base import MANAGED_BY, PART_OF, RenderContext, emit, labels, selector

# Namespaces of the add-ons come from the env (spec.addons.<name>.namespace) or the catalogue.
ESO_SERVICE_ACCOUNT = "external-secrets"  # the chart's ServiceAccount (release name), annotated for IRSA
INGRESS_POD = {"app.kubernetes.io/name": "ingress-nginx"}
PROMETHEUS_POD = {"app.kubernetes.io/name": "prometheus"}
OTEL_POD = {"app.kubernetes.io/name": "opentelemetry-collector"}
MANAGED_CIDRS = ("10.0.0.0/8",)  # the VPC's private range; see the module docstring


def ns_selector(name: str) -> dict:
    return {"matchLabels": {"kubernetes.io/metadata.name": name}}


def network_policy(name: str, env: Environment, pod_selector: dict, ingress: list[dict], egress: list[dict],
                   meta_labels: dict | None = None, annotations: dict | None = None) -> dict:
    """A NetworkPolicy that always isolates both directions (policyTypes Ingress and Egress)."""
    meta = {"name": name, "namespace": env.namespace, "labels": dict(meta_labels or labels(name, env, "security"))}
    if annotations:
        meta["annotations"] = dict(annotations)
    return {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": meta,
            "spec": {"podSelector": pod_selector, "policyTypes": ["Ingress", "Egress"],
                     "ingress": ingress or None, "egress": egress or None}}


def _tcp(*ports: int | str) -> list[dict]:
    return [{"protocol": "TCP", "port": p} for p in ports]


def _from_pods(sel: dict) -> dict:
    return {"podSelector": {"matchLabels": dict(sel)}}


def _datastore_egress(name: str, env: Environment) -> dict:
    spec = datastores.SPECS[name]
    if datastores.managed(env):
        return {"to": [{"ipBlock": {"cidr": c}} for c in MANAGED_CIDRS], "ports": _tcp(spec.managed_port)}
    return {"to": [_from_pods(selector(name, env))], "ports": _tcp(spec.port)}


def _otel_egress(env: Environment) -> list[dict]:
    if not wiring.tracing(env):
        return []
    return [{"to": [{"namespaceSelector": ns_selector(wiring.otel_namespace(env)), "podSelector": {"matchLabels": OTEL_POD}}],
             "ports": _tcp(wiring.OTEL_PORT)}]


def service_port(service: Service) -> int:
    """The port other workloads (and the ingress controller) call."""
    return service.port_named(service.ingress_port).port


def service_policy(service: Service, env: Environment, services: dict[str, Service]) -> dict:
    ingress: list[dict] = []
    callers = sorted(s.name for s in services.values() if service.name in s.depends_on_services)
    if callers:
        ingress.append({"from": [_from_pods(selector(c, env)) for c in callers], "ports": _tcp(service_port(service))})
    if service.ingress_host:
        ingress.append({"from": [{"namespaceSelector": ns_selector(addon_namespace(env, "ingress-nginx")),
                                  "podSelector": {"matchLabels": INGRESS_POD}}],
                        "ports": _tcp(service_port(service))})
    if service.metrics_port:
        ingress.append({"from": [{"namespaceSelector": ns_selector(addon_namespace(env, "kube-prometheus-stack")),
                                  "podSelector": {"matchLabels": PROMETHEUS_POD}}],
                        "ports": _tcp(service.port_named(service.metrics_port).port)})
    egress = [{"to": [_from_pods(selector(d, env))], "ports": _tcp(service_port(services[d]))}
              for d in sorted(service.depends_on_services)]
    egress += [_datastore_egress(n, env) for n in datastores.uses(service)]
    egress += _otel_egress(env)
    return network_policy(service.name, env, {"matchLabels": selector(service.name, env)}, ingress, egress,
                          labels(service.name, env, service.component, env.version_of(service)))


def migration_policy(service: Service, env: Environment, annotations: dict) -> dict:
    name = f"{service.name}-migrate"
    egress = [_datastore_egress(service.database_engine, env)] + _otel_egress(env)
    return network_policy(name, env, {"matchLabels": selector(name, env)}, [], egress,
                          labels(name, env, "migration", env.version_of(service)), annotations)


def datastore_policy(name: str, env: Environment, services: dict[str, Service]) -> dict:
    spec = datastores.SPECS[name]
    users = datastores.used_by(services, name)
    sources = [_from_pods(selector(s.name, env)) for s in users]
    sources += [_from_pods(selector(f"{s.name}-migrate", env)) for s in users
                if s.migrations and s.database_engine == name]
    ingress = [{"from": sources, "ports": _tcp(spec.port)}]
    if spec.metrics_port:
        ingress.append({"from": [{"namespaceSelector": ns_selector(addon_namespace(env, "kube-prometheus-stack")),
                                  "podSelector": {"matchLabels": PROMETHEUS_POD}}],
                        "ports": _tcp(spec.metrics_port[1])})
    return network_policy(name, env, {"matchLabels": selector(name, env)}, ingress, [],
                          datastores._meta(name, env)["labels"])


def cluster_secret_store(env: Environment) -> dict:
    return {
        "apiVersion": "external-secrets.io/v1", "kind": "ClusterSecretStore",
        "metadata": {"name": datastores.SECRET_STORE, "labels": {
            "app.kubernetes.io/name": datastores.SECRET_STORE, "app.kubernetes.io/component": "security",
            "app.kubernetes.io/part-of": PART_OF, "app.kubernetes.io/managed-by": MANAGED_BY}},
        "spec": {
            # Only the platform's namespace may read through this store.
            "conditions": [{"namespaces": [env.namespace]}],
            "provider": {"aws": {
                "service": "SecretsManager", "region": env.aws_region,
                # external-secrets' ServiceAccount carries spec.aws.roles.externalSecrets (IRSA, addons.py)
                "auth": {"jwt": {"serviceAccountRef": {"name": ESO_SERVICE_ACCOUNT,
                                                       "namespace": addon_namespace(env, "external-secrets")}}},
            }},
        },
    }


def sealed_secret(name: str, namespace: str, encrypted_data: dict[str, str], meta_labels: dict,
                  secret_type: str = "Opaque") -> dict:
    """A SealedSecret from values already encrypted by `kubeseal` (base64 ciphertext)."""
    if not encrypted_data:
        raise ValueError("a SealedSecret needs at least one encrypted value")
    for key, value in encrypted_data.items():
        if not isinstance(value, str) or len(value) < 32 or not value.startswith("Ag"):
            # kubeseal output is base64 of a v1 envelope that always starts with 0x02 ("Ag...").
            raise ValueError(f"{key}: not kubeseal output (expected base64 ciphertext starting with 'Ag')")
    return {
        "apiVersion": "bitnami.com/v1alpha1", "kind": "SealedSecret",
        "metadata": {"name": name, "namespace": namespace, "labels": dict(meta_labels)},
        "spec": {
            "encryptedData": dict(sorted(encrypted_data.items())),
            "template": {"type": secret_type, "metadata": {"name": name, "namespace": namespace,
                                                           "labels": dict(meta_labels)}},
        },
    }


def build_security(ctx: RenderContext, platform: Platform) -> None:
    env = ctx.env
    chart = ctx.chart("platform")
    ns_src = env.line_of("spec.namespace")
    emit(chart, ctx, network_policy("default-deny-all", env, {}, [], []), ns_src)
    emit(chart, ctx, network_policy("allow-dns-egress", env, {}, [], [{
        "to": [{"namespaceSelector": ns_selector("kube-system"),
                "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}}}],
        "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}]}]), ns_src)
    emit(chart, ctx, cluster_secret_store(env), ns_src)
    services = dict(platform.services)
    for name in platform.service_order():
        svc = services[name]
        emit(ctx.chart(name), ctx, service_policy(svc, env, services), svc.line_of("spec.dependsOn"))
    if not datastores.managed(env):
        for name in datastores.in_use(services):
            users = datastores.used_by(services, name)
            emit(ctx.chart(name), ctx, datastore_policy(name, env, services),
                 users[0].line_of("spec.dependsOn"))
