"""How a service is wired to the rest of the platform: extra env vars and pod annotations.

Kept apart from the Microservice construct so the data tier, observability and
tracing parts can add their connection settings without touching it.

- data tier: connection settings for every datastore/queue in `spec.dependsOn`
  (credentials by `valueFrom.secretKeyRef` of `<svc>-<datastore>-credentials`),
- tracing: OpenTelemetry SDK settings when the environment's monitoring is `full+apm`,
- logs: `fluentbit.io/parser: json` so Fluent Bit parses the JSON log lines
  (`LOG_FORMAT=json`) instead of shipping them as one opaque string.
"""
from __future__ import annotations

from ..model.types import Environment, Service
from . import datastores
from .addons import addon_enabled, addon_namespace

OTEL_ADDON = "opentelemetry-collector"  # Service name = release name = add-on name
OTEL_PORT = 4317
LOG_FORMAT_KEY = "LOG_FORMAT"
PLATFORM_SECRET_PREFIX = "ecommerce/"  # service files may name secrets with it; it is not the env scope


def tracing(env: Environment) -> bool:
    """Workloads send traces when monitoring is full+apm and the collector add-on runs."""
    return env.monitoring == "full+apm" and addon_enabled(env, OTEL_ADDON)


def otel_namespace(env: Environment) -> str:
    return addon_namespace(env, OTEL_ADDON)


def otel_endpoint(env: Environment) -> str:
    """The collector's OTLP/gRPC endpoint, in the namespace the add-on really runs in."""
    return f"http://{OTEL_ADDON}.{otel_namespace(env)}.svc.cluster.local:{OTEL_PORT}"


def prometheus_url(env: Environment) -> str:
    """kube-prometheus-stack's Prometheus Service (release kube-prometheus-stack), for canary analysis."""
    return f"http://kube-prometheus-stack-prometheus.{addon_namespace(env, 'kube-prometheus-stack')}.svc:9090"


def secret_key(env: Environment, key: str) -> str:
    """The AWS Secrets Manager name of a service secret in `env`: always under env.secret_prefix.

    Service files name a secret once for every env (`ecommerce/api-gateway/jwt` or
    `api-gateway/jwt`); each env reads its own copy (`ecommerce/<env>/api-gateway/jwt`), so
    dev can never read prod's keys and the env's IAM role can be limited to its prefix.
    """
    prefix = env.secret_prefix + "/"
    if key.startswith(prefix):
        return key
    return prefix + key.removeprefix(PLATFORM_SECRET_PREFIX)


def tracing_env(name: str, version: str, env: Environment) -> list[dict]:
    """OpenTelemetry SDK env vars for one workload; empty unless tracing is on (see `tracing`)."""
    if not tracing(env):
        return []
    return [
        {"name": "OTEL_EXPORTER_OTLP_ENDPOINT", "value": otel_endpoint(env)},
        {"name": "OTEL_EXPORTER_OTLP_PROTOCOL", "value": "grpc"},
        {"name": "OTEL_SERVICE_NAME", "value": name},
        {"name": "OTEL_RESOURCE_ATTRIBUTES",
         "value": f"deployment.environment={env.name},service.namespace={env.namespace},service.version={version}"},
        {"name": "OTEL_TRACES_SAMPLER", "value": "parentbased_traceidratio"},
        {"name": "OTEL_TRACES_SAMPLER_ARG", "value": _rate(env.tracing_sample_rate)},
        {"name": "OTEL_PROPAGATORS", "value": "tracecontext,baggage"},
    ]


def _rate(rate: float) -> str:
    text = f"{rate:.6f}".rstrip("0").rstrip(".")
    return text or "0"


def service_env(service: Service, env: Environment) -> list[dict]:
    """Environment variables injected into the service's container (sorted by the construct)."""
    out = [{"name": "DEPLOY_ENV", "value": env.name}]
    for name in datastores.uses(service):
        out += datastores.connection_env(service, name, env)
    out += tracing_env(service.name, env.version_of(service), env)
    return out


def json_logs(service: Service, env: Environment) -> bool:
    override = service.overrides.get(env.name)
    fmt = (override.config.get(LOG_FORMAT_KEY) if override else None) or service.config.get(LOG_FORMAT_KEY, "json")
    return fmt == "json"


def pod_annotations(service: Service, env: Environment) -> dict[str, str]:
    if json_logs(service, env):
        return {"fluentbit.io/parser": "json"}
    return {}
