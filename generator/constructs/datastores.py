"""The data tier: PostgreSQL, MongoDB, Redis (cache) and RabbitMQ (queue).

`spec.datastores` in the environment decides how each one runs:

in-cluster  StatefulSet (one replica, PVC from volumeClaimTemplates, restricted security
            context, probes, requests = limits), a headless Service for the StatefulSet's
            stable pod DNS, a client Service, and an ExternalSecret for the admin account.
managed     an `ExternalName` Service with the same name that points at the managed
            endpoint (RDS, MongoDB Atlas, ElastiCache, Amazon MQ for RabbitMQ), given per env
            in `spec.managedEndpoints`. Clients connect to that real hostname, not to the
            alias: they verify TLS, and the server's certificate names the real endpoint
            (PostgreSQL with sslmode=verify-full, MongoDB TLS, rediss://, AMQPS on 5671).

A datastore is emitted only when some service lists it in `spec.dependsOn.datastores`
or `spec.dependsOn.queues`. Every service that uses one gets its own ExternalSecret
`<svc>-<datastore>-credentials` (its own database user, read from AWS Secrets Manager)
and the connection environment variables from `connection_env`, injected by wiring.py.

Images are mirrored into the environment's first allowed registry under `mirror/`
(the registry policy applies to datastores too) and pinned by tag. An environment can
pin another tag or a digest with `spec.images.versions.<datastore>`; under
`images.policy: digest` an in-cluster datastore must be pinned by digest there (the
loader says so), because the gate would reject a tag-only image.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..errors import InputError
from ..model.types import Environment, Platform, Service
from .base import (RenderContext, emit, labels, restricted_container_security, restricted_pod_security,
                   selector)

SECRET_STORE = "aws-secrets-manager"  # same store as microservice.SECRET_STORE (checked by a test)
MIRROR = "mirror/"  # upstream images are mirrored under <first allowed registry>mirror/


@dataclass(frozen=True)
class DatastoreSpec:
    name: str  # postgresql | mongodb | redis | rabbitmq
    upstream: str  # upstream image repository (docker.io/library/...)
    tag: str  # pinned default tag
    port_name: str
    port: int  # in-cluster port
    managed_port: int  # port of the managed endpoint (Amazon MQ speaks AMQPS on 5671)
    managed_product: str
    data_path: str  # PVC mount
    writable: tuple[str, ...]  # emptyDir mounts (root filesystem is read-only)
    cpu: str
    memory: str
    storage: str
    metrics_port: tuple[str, int] | None = None  # scraped by Prometheus when in-cluster
    extra_ports: tuple[tuple[str, int], ...] = ()


SPECS: dict[str, DatastoreSpec] = {
    "postgresql": DatastoreSpec(
        "postgresql", "postgres", "16.4", "postgresql", 5432, 5432, "Amazon RDS for PostgreSQL",
        "/var/lib/postgresql/data", ("/tmp", "/var/run/postgresql"), "500m", "1Gi", "10Gi"),
    "mongodb": DatastoreSpec(
        "mongodb", "mongo", "7.0.14", "mongodb", 27017, 27017, "MongoDB Atlas (AWS PrivateLink)",
        "/data/db", ("/tmp", "/data/configdb"), "500m", "1Gi", "10Gi"),
    "redis": DatastoreSpec(
        "redis", "redis", "7.4.1", "redis", 6379, 6379, "Amazon ElastiCache for Redis",
        "/data", ("/tmp",), "250m", "512Mi", "2Gi"),
    "rabbitmq": DatastoreSpec(
        "rabbitmq", "rabbitmq", "3.13.7-management", "amqp", 5672, 5671, "Amazon MQ for RabbitMQ",
        "/var/lib/rabbitmq", ("/tmp", "/var/log/rabbitmq"), "500m", "1Gi", "5Gi",
        metrics_port=("prometheus", 15692), extra_ports=(("management", 15672),)),
}
ORDER = ("postgresql", "mongodb", "redis", "rabbitmq")


# -- what the rest of the platform asks about the data tier -----------------------------
def used_by(platform_services: dict[str, Service] | object, name: str) -> list[Service]:
    """Services that depend on datastore/queue `name`, sorted by name."""
    services = platform_services.values() if hasattr(platform_services, "values") else platform_services
    return sorted((s for s in services if name in s.datastores or name in s.queues), key=lambda s: s.name)


def in_use(services: dict[str, Service]) -> list[str]:
    return [n for n in ORDER if used_by(services, n)]


def uses(service: Service) -> list[str]:
    return [n for n in ORDER if n in service.datastores or n in service.queues]


def managed(env: Environment) -> bool:
    return env.datastores == "managed"


def host(name: str, env: Environment) -> str:
    """What clients connect to: the in-cluster Service, or the managed endpoint's real hostname.

    A client that verifies TLS against an ExternalName alias fails: the certificate names the
    managed endpoint, never `<name>.<ns>.svc.cluster.local`.
    """
    return external_host(name, env) if managed(env) else f"{name}.{env.namespace}.svc.cluster.local"


def port(name: str, env: Environment) -> int:
    spec = SPECS[name]
    return spec.managed_port if managed(env) else spec.port


def external_host(name: str, env: Environment) -> str:
    """The managed endpoint of `name` from spec.managedEndpoints (exit 2 when missing)."""
    endpoint = env.managed_endpoints.get(name)
    if not endpoint:
        raise InputError(f"datastores: managed, but spec.managedEndpoints.{name} is not set",
                         file=env.source.file, line=env.lines.get("spec.datastores"),
                         hint=f"add spec.managedEndpoints.{name}: <the {SPECS[name].managed_product} hostname its TLS certificate names>")
    return endpoint


def image(name: str, env: Environment) -> str:
    spec = SPECS[name]
    registry = env.registries[0] if env.registries else ""
    if registry and not registry.endswith("/"):
        registry += "/"
    version = env.versions.get(name) or spec.tag
    return f"{registry}{MIRROR}{spec.upstream}:{version}"


def credentials_secret(service: Service, name: str) -> str:
    return f"{service.name}-{name}-credentials"


def credentials_key(env: Environment, name: str, user: str) -> str:
    """AWS Secrets Manager name: <env.secret_prefix>/<datastore>/<user> (ecommerce/<env>/...)."""
    return f"{env.secret_prefix}/{name}/{user}"


def _secret_env(var: str, secret: str, key: str) -> dict:
    return {"name": var, "valueFrom": {"secretKeyRef": {"name": secret, "key": key}}}


def connection_env(service: Service, name: str, env: Environment, secret: str | None = None) -> list[dict]:
    """Env vars a service (or its migration job, with `secret`) uses to reach datastore `name`."""
    secret = secret or credentials_secret(service, name)
    h, p, tls = host(name, env), port(name, env), managed(env)
    if name in ("postgresql", "mongodb"):
        prefix = "DATABASE" if service.database_engine == name else name.upper()
        out = [
            {"name": f"{prefix}_ENGINE", "value": name},
            {"name": f"{prefix}_HOST", "value": h},
            {"name": f"{prefix}_PORT", "value": str(p)},
            _secret_env(f"{prefix}_USER", secret, "username"),
            _secret_env(f"{prefix}_PASSWORD", secret, "password"),
        ]
        if service.database_engine == name and service.database_name:
            out.append({"name": f"{prefix}_NAME", "value": service.database_name})
        if name == "postgresql":
            # require encrypts but accepts any certificate; verify-full checks the CA and the hostname
            out.append({"name": f"{prefix}_SSLMODE", "value": "verify-full" if tls else "disable"})
        else:
            out.append({"name": f"{prefix}_TLS", "value": "true" if tls else "false"})
            out.append({"name": f"{prefix}_AUTH_SOURCE", "value": "admin"})
        return out
    if name == "redis":
        scheme = "rediss" if tls else "redis"
        return [
            {"name": "REDIS_HOST", "value": h},
            {"name": "REDIS_PORT", "value": str(p)},
            {"name": "REDIS_URL", "value": f"{scheme}://{h}:{p}/0"},
            _secret_env("REDIS_PASSWORD", secret, "password"),
        ]
    if name == "rabbitmq":
        return [
            {"name": "AMQP_HOST", "value": h},
            {"name": "AMQP_PORT", "value": str(p)},
            {"name": "AMQP_VHOST", "value": "ecommerce"},
            {"name": "AMQP_TLS", "value": "true" if tls else "false"},
            _secret_env("AMQP_USERNAME", secret, "username"),
            _secret_env("AMQP_PASSWORD", secret, "password"),
        ]
    raise ValueError(f"unknown datastore {name}")


def external_secret(name: str, namespace: str, meta_labels: dict, keys: dict[str, tuple[str, str]],
                    annotations: dict | None = None) -> dict:
    """An ExternalSecret from the AWS Secrets Manager ClusterSecretStore.

    keys: secret key -> (AWS secret name, JSON property).
    """
    meta = {"name": name, "namespace": namespace, "labels": dict(meta_labels)}
    if annotations:
        meta["annotations"] = dict(annotations)
    return {
        "apiVersion": "external-secrets.io/v1", "kind": "ExternalSecret", "metadata": meta,
        "spec": {
            "refreshInterval": "1h",
            "secretStoreRef": {"kind": "ClusterSecretStore", "name": SECRET_STORE},
            "target": {"name": name, "creationPolicy": "Owner", "deletionPolicy": "Retain"},
            "data": [{"secretKey": k, "remoteRef": {"key": key, "property": prop}}
                     for k, (key, prop) in sorted(keys.items())],
        },
    }


def credential_keys(env: Environment, name: str, user: str) -> dict[str, tuple[str, str]]:
    key = credentials_key(env, name, user)
    if name == "redis":
        return {"password": (key, "password")}
    return {"username": (key, "username"), "password": (key, "password")}


# -- the builder ---------------------------------------------------------------------------
def build_datastores(ctx: RenderContext, platform: Platform) -> None:
    env = ctx.env
    services = dict(platform.services)
    for name in in_use(services):
        users = used_by(services, name)
        # The first user's dependsOn line is where this datastore comes from.
        src = users[0].line_of("spec.dependsOn.queues" if name in users[0].queues else "spec.dependsOn.datastores")
        if managed(env):
            _managed(ctx, name, src)
        else:
            _in_cluster(ctx, name, src)
        for svc in users:
            svc_labels = labels(svc.name, env, svc.component, env.version_of(svc))
            emit(ctx.chart(svc.name), ctx,
                 external_secret(credentials_secret(svc, name), env.namespace, svc_labels,
                                 credential_keys(env, name, svc.name)),
                 svc.line_of("spec.dependsOn.queues" if name in svc.queues else "spec.dependsOn.datastores"))


def _meta(name: str, env: Environment, **extra) -> dict:
    return {"name": name, "namespace": env.namespace,
            "labels": labels(name, env, "queue" if name == "rabbitmq" else "datastore"), **extra}


def _service_ports(spec: DatastoreSpec, managed_mode: bool) -> list[dict]:
    ports = [(spec.port_name, spec.managed_port if managed_mode else spec.port)]
    if not managed_mode:
        ports += list(spec.extra_ports) + ([spec.metrics_port] if spec.metrics_port else [])
    return [{"name": n, "port": p, "targetPort": n if not managed_mode else p, "protocol": "TCP"} for n, p in ports]


def _managed(ctx: RenderContext, name: str, src) -> None:
    env, spec = ctx.env, SPECS[name]
    meta = _meta(name, env, annotations={"drydock.dev/managed-by-provider": spec.managed_product})
    emit(ctx.chart(name), ctx, {
        "apiVersion": "v1", "kind": "Service", "metadata": meta,
        "spec": {"type": "ExternalName", "externalName": external_host(name, env),
                 "ports": _service_ports(spec, True)},
    }, env.line_of("spec.datastores"))


def _probe(name: str, spec: DatastoreSpec, kind: str) -> dict:
    timing = {"liveness": {"initialDelaySeconds": 30, "periodSeconds": 10, "timeoutSeconds": 5, "failureThreshold": 6},
              "readiness": {"initialDelaySeconds": 5, "periodSeconds": 10, "timeoutSeconds": 5, "failureThreshold": 3}}[kind]
    if name == "postgresql":
        check = {"exec": {"command": ["pg_isready", "-h", "127.0.0.1", "-p", str(spec.port)]}}
    elif name == "mongodb" and kind == "readiness":
        check = {"exec": {"command": ["mongosh", "--quiet", "--eval", "db.adminCommand('ping').ok"]}}
    elif name == "rabbitmq" and kind == "readiness":
        check = {"exec": {"command": ["rabbitmq-diagnostics", "-q", "ping"]}}
    else:
        check = {"tcpSocket": {"port": spec.port_name}}
    return {**check, **timing}


def _container_env(name: str, admin: str, spec: DatastoreSpec) -> list[dict]:
    user, pw = _secret_env("", admin, "username"), _secret_env("", admin, "password")
    if name == "postgresql":
        return [{**user, "name": "POSTGRES_USER"}, {**pw, "name": "POSTGRES_PASSWORD"},
                {"name": "PGDATA", "value": f"{spec.data_path}/pgdata"}]
    if name == "mongodb":
        return [{**user, "name": "MONGO_INITDB_ROOT_USERNAME"}, {**pw, "name": "MONGO_INITDB_ROOT_PASSWORD"}]
    if name == "redis":
        return [{**pw, "name": "REDIS_PASSWORD"}, {**pw, "name": "REDISCLI_AUTH"}]
    return [{**user, "name": "RABBITMQ_DEFAULT_USER"}, {**pw, "name": "RABBITMQ_DEFAULT_PASS"},
            {"name": "RABBITMQ_DEFAULT_VHOST", "value": "ecommerce"},
            {"name": "HOME", "value": spec.data_path}]


def _args(name: str, spec: DatastoreSpec) -> list[str] | None:
    if name == "redis":
        # $(REDIS_PASSWORD) is expanded by the kubelet from the secret-backed env var.
        return ["redis-server", "--appendonly", "yes", "--dir", spec.data_path, "--protected-mode", "yes",
                "--requirepass", "$(REDIS_PASSWORD)"]
    if name == "mongodb":
        return ["mongod", "--bind_ip_all", "--auth", "--dbpath", spec.data_path]
    return None


def _in_cluster(ctx: RenderContext, name: str, src) -> None:
    env, spec = ctx.env, SPECS[name]
    chart = ctx.chart(name)
    sel = selector(name, env)
    version = (env.versions.get(name) or spec.tag).split("@", 1)[0]
    pod_labels = labels(name, env, _meta(name, env)["labels"]["app.kubernetes.io/component"], version)
    admin = f"{name}-admin"
    emit(chart, ctx, {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": _meta(name, env),
                      "automountServiceAccountToken": False}, src)
    emit(chart, ctx, external_secret(admin, env.namespace, _meta(name, env)["labels"],
                                     credential_keys(env, name, "admin")), src)
    # Headless Service: stable per-pod DNS for the StatefulSet (name-0.name-headless...).
    emit(chart, ctx, {"apiVersion": "v1", "kind": "Service", "metadata": _meta(f"{name}-headless", env),
                      "spec": {"type": "ClusterIP", "clusterIP": "None", "publishNotReadyAddresses": True,
                               "selector": sel, "ports": _service_ports(spec, False)}}, src)
    emit(chart, ctx, {"apiVersion": "v1", "kind": "Service", "metadata": _meta(name, env),
                      "spec": {"type": "ClusterIP", "selector": sel, "ports": _service_ports(spec, False)}}, src)
    ports = [(spec.port_name, spec.port)] + list(spec.extra_ports) + ([spec.metrics_port] if spec.metrics_port else [])
    mounts = [{"name": "data", "mountPath": spec.data_path}]
    mounts += [{"name": _vol(p), "mountPath": p} for p in spec.writable]
    container = {
        "name": name,
        "image": image(name, env),
        "imagePullPolicy": "IfNotPresent",
        "args": _args(name, spec),
        "ports": [{"name": n, "containerPort": p, "protocol": "TCP"} for n, p in ports],
        "env": sorted(_container_env(name, admin, spec), key=lambda e: e["name"]),
        "resources": {"requests": {"cpu": spec.cpu, "memory": spec.memory},
                      "limits": {"cpu": spec.cpu, "memory": spec.memory}},
        "livenessProbe": _probe(name, spec, "liveness"),
        "readinessProbe": _probe(name, spec, "readiness"),
        "securityContext": restricted_container_security(),
        "volumeMounts": mounts,
    }
    emit(chart, ctx, {
        "apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": _meta(name, env),
        "spec": {
            "serviceName": f"{name}-headless",
            "replicas": 1,
            "revisionHistoryLimit": 5,
            "podManagementPolicy": "OrderedReady",
            "updateStrategy": {"type": "RollingUpdate"},
            "persistentVolumeClaimRetentionPolicy": {"whenDeleted": "Retain", "whenScaled": "Retain"},
            "selector": {"matchLabels": sel},
            "template": {
                "metadata": {"labels": pod_labels},
                "spec": {
                    "serviceAccountName": name,
                    "automountServiceAccountToken": False,
                    "enableServiceLinks": False,
                    "securityContext": {**restricted_pod_security(), "fsGroupChangePolicy": "OnRootMismatch"},
                    "terminationGracePeriodSeconds": 60,
                    "containers": [container],
                    "volumes": [{"name": _vol(p), "emptyDir": {"sizeLimit": "256Mi"}} for p in spec.writable],
                },
            },
            "volumeClaimTemplates": [{
                "metadata": {"name": "data", "labels": sel},
                "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": spec.storage}}},
            }],
        },
    }, src)


def _vol(path: str) -> str:
    return path.strip("/").replace("/", "-").replace("_", "-")
