"""How a service is wired to the rest of the platform: extra env vars and pod annotations.

Kept apart from the Microservice construct so the data tier, observability and
tracing parts can add their connection settings without touching it.
"""
from __future__ import annotations

from ..model.types import Environment, Service


def service_env(service: Service, env: Environment) -> list[dict]:
    """Environment variables injected into the service's container (sorted by the construct)."""
    return [{"name": "DEPLOY_ENV", "value": env.name}]


def pod_annotations(service: Service, env: Environment) -> dict[str, str]:
    return {}
