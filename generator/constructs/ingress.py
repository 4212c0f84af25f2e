"""Edge: NGINX Ingress per service with `spec.ingress`, TLS from cert-manager.

Host: `spec.ingress.host` + the environment's `spec.domain` (`@` is the apex).
TLS on every host: the `cert-manager.io/cluster-issuer` annotation makes
cert-manager's ingress-shim create and renew the Certificate into the `tls`
secret (`<service>-tls`); drydock emits no Certificate objects, so the secret has
exactly one manager. The ClusterIssuer named by `spec.tls.issuer`
(letsencrypt-staging outside prod, letsencrypt-prod in prod) goes to `platform/`; it
solves ACME challenges with DNS-01 on Route53.

Every Ingress redirects HTTP to HTTPS, bounds body size and proxy timeouts. The
gateway component (the public API) is rate limited per client IP; the limit follows
the service's `RATE_LIMIT_PER_MINUTE` config when set. `public: false` (the admin
panel) restricts the host to the environment's `adminAllowList` CIDRs at NGINX.
"""
from __future__ import annotations

import math

from ..model.types import Environment, Platform, Service
from .base import MANAGED_BY, PART_OF, RenderContext, emit, labels

INGRESS_CLASS = "nginx"
ACME_SERVERS = {
    "letsencrypt-staging": "https://acme-staging-v02.api.letsencrypt.org/directory",
    "letsencrypt-prod": "https://acme-v02.api.letsencrypt.org/directory",
}
DEFAULT_API_RPS = 20
BODY_SIZE = {"frontend": "2m", "gateway": "10m", "admin": "20m", "backend": "10m"}


def hostname(service: Service, env: Environment) -> str:
    return env.domain if service.ingress_host == "@" else f"{service.ingress_host}.{env.domain}"


def tls_secret(service: Service) -> str:
    return f"{service.name}-tls"


def annotations(service: Service, env: Environment) -> dict[str, str]:
    a = {
        "cert-manager.io/cluster-issuer": env.tls_issuer,
        "nginx.ingress.kubernetes.io/ssl-redirect": "true",
        "nginx.ingress.kubernetes.io/force-ssl-redirect": "true",
        "nginx.ingress.kubernetes.io/proxy-body-size": BODY_SIZE.get(service.component, "10m"),
        "nginx.ingress.kubernetes.io/proxy-connect-timeout": "5",
        "nginx.ingress.kubernetes.io/proxy-read-timeout": "60",
        "nginx.ingress.kubernetes.io/proxy-send-timeout": "60",
    }
    if service.component == "gateway":
        per_minute = service.config.get("RATE_LIMIT_PER_MINUTE")
        override = service.overrides.get(env.name)
        if override and "RATE_LIMIT_PER_MINUTE" in override.config:
            per_minute = override.config["RATE_LIMIT_PER_MINUTE"]
        rps = max(1, math.ceil(int(per_minute) / 60)) if per_minute and per_minute.isdigit() else DEFAULT_API_RPS
        a.update({
            "nginx.ingress.kubernetes.io/limit-rps": str(rps),
            "nginx.ingress.kubernetes.io/limit-burst-multiplier": "3",
            "nginx.ingress.kubernetes.io/limit-connections": str(rps * 2),
        })
    if not service.ingress_public:
        a["nginx.ingress.kubernetes.io/whitelist-source-range"] = ",".join(env.admin_allow_list)
    return a


def ingress(service: Service, env: Environment) -> dict:
    host = hostname(service, env)
    port = service.port_named(service.ingress_port)
    return {
        "apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
        "metadata": {"name": service.name, "namespace": env.namespace,
                     "labels": labels(service.name, env, service.component, env.version_of(service)),
                     "annotations": annotations(service, env)},
        "spec": {
            "ingressClassName": INGRESS_CLASS,
            "tls": [{"hosts": [host], "secretName": tls_secret(service)}],
            "rules": [{"host": host, "http": {"paths": [{
                "path": service.ingress_path, "pathType": "Prefix",
                "backend": {"service": {"name": service.name, "port": {"name": port.name}}}}]}}],
        },
    }


def cluster_issuer(env: Environment) -> dict:
    name = env.tls_issuer
    return {
        "apiVersion": "cert-manager.io/v1", "kind": "ClusterIssuer",
        "metadata": {"name": name, "labels": {
            "app.kubernetes.io/name": name, "app.kubernetes.io/component": "tls",
            "app.kubernetes.io/part-of": PART_OF, "app.kubernetes.io/managed-by": MANAGED_BY}},
        "spec": {"acme": {
            "server": ACME_SERVERS[name],
            "email": env.tls_email,
            "privateKeySecretRef": {"name": f"{name}-account-key"},
            # DNS-01 on the environment's Route53 zone (cert-manager authenticates with IRSA:
            # spec.aws.roles.certManager on its ServiceAccount, addons.py):
            # no solver pods or solver Ingresses in the app namespace, so default-deny and the
            # admin allow-list stay untouched while certificates are issued and renewed.
            "solvers": [{"selector": {"dnsZones": [env.domain]},
                         "dns01": {"route53": {"region": env.aws_region}}}],
        }},
    }


def build_ingress(ctx: RenderContext, platform: Platform) -> None:
    env = ctx.env
    exposed = [platform.services[n] for n in platform.service_order() if platform.services[n].ingress_host]
    if not exposed:
        return
    emit(ctx.chart("platform"), ctx, cluster_issuer(env), env.line_of("spec.tls.issuer"))
    for svc in exposed:
        emit(ctx.chart(svc.name), ctx, ingress(svc, env), svc.line_of("spec.ingress"))
