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

OTEL_COLLECTOR = "http://opentelemetry-collector.monitoring.svc.cluster.local:4317"
OTEL_PORT = 4317
LOG_FORMAT_KEY = "LOG_FORMAT"


def tracing_env(name: str, version: str, env: Environment) -> list[dict]:
    """OpenTelemetry SDK env vars for one workload; empty unless monitoring is full+apm."""
    if env.monitoring != "full+apm":
        return []
    return [
        {"name": "OTEL_EXPORTER_OTLP_ENDPOINT", "value": OTEL_COLLECTOR},
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
