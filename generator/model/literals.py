"""Literal credentials typed into inputs, reported as gate findings at the input line.

A service's `config` (and its per-env `overrides.<env>.config`) becomes a ConfigMap, and an
add-on's `values` become the Helm values of an ArgoCD Application: both land in rendered/ in
clear text, in git and in the cluster. Secrets belong in `spec.secrets` (AWS Secrets Manager
through External Secrets), so a value that is a credential by its key or by its shape
(generator.credentials) is a finding:

- DD-CRED-001 (HIGH) when the environment is production (prod, production, prd, live): it
  blocks at any threshold from HIGH down, so the credential never reaches rendered/prod;
- DD-CRED-002 (MEDIUM) elsewhere: blocking or not by that environment's gate threshold.

One severity per rule id, so waivers, SARIF and `drydock rules` stay simple. Messages name the
key and the kind of credential, never the value.
"""
from __future__ import annotations

from typing import Any, Iterator

from ..core import Finding, Resource, SourceRef
from ..credentials import literal_credential
from ..platform.rules import rule
from .types import Platform

PRODUCTION_ENVS = frozenset({"prod", "production", "prd", "live"})
FIX = ("move the value to AWS Secrets Manager and reference it under spec.secrets (env, key, property); "
       "treat the typed value as exposed and rotate it")
_WHY = ("A credential typed into a service `config` or an add-on's `values` is rendered in clear text into "
        "a ConfigMap or an ArgoCD Application: it lands in git, in every clone and in the cluster. Found by key "
        "(DB_PASSWORD, apiKey, STRIPE_KEY) or by shape (URL or JDBC password, password=/token= parameters, AWS "
        "access key id, PEM private key, high-entropy token); the value is never printed.")
RULES = {r.id: r for r in (
    rule("DD-CRED-001", "HIGH", "Literal credential in an input rendered for production", FIX,
         _WHY + " Production envs: prod, production, prd, live.", __name__),
    rule("DD-CRED-002", "MEDIUM", "Literal credential in an input", FIX,
         _WHY + " Non-production envs: blocking by the env's gate threshold.", __name__),
)}


def rule_for(env: str) -> str:
    return "DD-CRED-001" if env in PRODUCTION_ENVS else "DD-CRED-002"


def _walk(value: Any, path: str) -> Iterator[tuple[str, str, Any]]:
    """(dotted path as the loader writes it, last key, scalar) for every scalar under value."""
    if hasattr(value, "items"):  # dict or the loader's read-only MappingProxyType
        for k, v in value.items():
            yield from _walk(v, f"{path}.{k}") if hasattr(v, "items") or isinstance(v, (list, tuple)) else iter([(f"{path}.{k}", str(k), v)])
    elif isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            key = path.rsplit(".", 1)[-1]
            yield from _walk(v, f"{path}[{i}]") if hasattr(v, "items") or isinstance(v, (list, tuple)) else iter([(f"{path}[{i}]", key, v)])


def literal_credentials(platform: Platform, env: str, services: list[str] | None = None) -> list[Finding]:
    """Findings for credentials typed into the inputs that render `env`.

    services: the services deployed in env (default: all of them).
    """
    r = RULES[rule_for(env)]
    out: list[Finding] = []

    def add(file: str, line: int, resource: Resource, where: str, why: str) -> None:
        out.append(Finding(r.id, r.title, r.severity,
                           f"{where}: {why}; it would be written in clear text to rendered/{env}",
                           "drydock", resource, file, line, SourceRef(file, line), fix=FIX))

    for name in services if services is not None else sorted(platform.services):
        svc = platform.services[name]
        resource = Resource("drydock/v1", "Service", "", svc.name)
        items = [(f"spec.config.{k}", k, v) for k, v in svc.config.items()]
        override = svc.overrides.get(env)
        if override is not None:
            items += [(f"spec.overrides.{env}.config.{k}", k, v) for k, v in override.config.items()]
        for dotted, key, value in items:
            why = literal_credential(key, value)
            if why:
                ref = svc.line_of(dotted)
                add(ref.file, ref.line, resource, dotted, why)
    environment = platform.environments[env]
    for addon, spec in sorted(environment.addons.items()):
        values = spec.get("values") if hasattr(spec, "get") else None
        if not hasattr(values, "items"):
            continue
        for dotted, key, value in _walk(values, f"spec.addons.{addon}.values"):
            why = literal_credential(key, value)
            if why:
                ref = environment.line_of(dotted)
                add(ref.file, ref.line, Resource("drydock/v1", "Environment", "", env), dotted, why)
    return out
