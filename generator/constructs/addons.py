"""Platform add-ons: the public Helm charts every environment runs, as ArgoCD Applications.

The catalogue itself (chart, repository, default pinned version, namespace, CRDs, cluster
kinds, needs, static default values) is data: generator/addons.yaml, schema-checked by
model/addons.py. This module adds what depends on the environment: the generated Helm
values per add-on (replicas, sizes, monitoring, endpoints), and resolves which add-ons an
environment runs. `argocd.py` turns them into Applications. docs/argocd.md explains the choices.

An environment switches an add-on off with `spec.addons.<name>.enabled: false`,
pins another chart version with `version`, moves it with `namespace`, and
overrides values with `values` (deep-merged over the generated ones; lists are
replaced, not merged).
"""
from __future__ import annotations

import copy
import ipaddress
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from ..errors import InputError
from ..model.addons import CatalogueEntry, catalogue
from ..model.types import Environment

IRSA = "eks.amazonaws.com/role-arn"  # the ServiceAccount annotation EKS exchanges for the role's credentials


@dataclass(frozen=True)
class AddonSpec:
    """A catalogue entry plus the function that generates its per-environment values."""

    entry: CatalogueEntry
    values: Callable[["AddonEnv"], dict] = field(default=lambda a: {})

    def __getattr__(self, name: str) -> Any:  # name, repo, chart, version, namespace, crds, ...
        if name.startswith("__") or name == "entry":
            raise AttributeError(name)
        return getattr(self.entry, name)

    def all_values(self, a: "AddonEnv") -> dict:
        """Catalogue defaults with the generated values merged over them."""
        return deep_merge(self.entry.values, self.values(a))


@dataclass(frozen=True)
class AddonEnv:
    """What values functions see: the environment and which add-ons are on."""

    env: Environment
    enabled: frozenset[str]
    namespaces: Mapping[str, str]

    @property
    def ha(self) -> bool:
        return self.env.replicas > 1

    @property
    def controller_replicas(self) -> int:
        """Controllers with leader election gain nothing past 2 replicas."""
        return 2 if self.ha else 1

    @property
    def service_monitors(self) -> bool:
        return self.env.monitoring != "basic" and "kube-prometheus-stack" in self.enabled

    @property
    def tracing(self) -> bool:
        return self.env.monitoring == "full+apm"


def _resources(cpu: str, memory: str) -> dict:
    """Requests with a memory limit equal to the request and a CPU limit of 4x the request
    (controllers burst at startup; the limit bounds a runaway one, DD-WKL-003)."""
    return {"requests": {"cpu": cpu, "memory": memory}, "limits": {"cpu": _times(cpu, 4), "memory": memory}}


def _times(cpu: str, n: int) -> str:
    millis = int(cpu[:-1]) if cpu.endswith("m") else int(float(cpu) * 1000)
    return f"{millis * n}m" if (millis * n) % 1000 else str(millis * n // 1000)


# The restricted Pod Security profile for a container and a pod, for charts that do not set it
# themselves (DD-PSS-*, DD-WKL-001, KSV-0118). Add-ons that need the host are waived, not loosened.
_CONTAINER_RESTRICTED = {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True, "runAsNonRoot": True,
                         "capabilities": {"drop": ["ALL"]}, "seccompProfile": {"type": "RuntimeDefault"}}


def _pod_restricted(uid: int = 65534) -> dict:
    return {"runAsNonRoot": True, "runAsUser": uid, "runAsGroup": uid, "fsGroup": uid,
            "seccompProfile": {"type": "RuntimeDefault"}}


def _size(a: AddonEnv, small: tuple[str, str], large: tuple[str, str]) -> dict:
    return _resources(*(large if a.ha else small))


# -- generated values per add-on (static defaults are in generator/addons.yaml) -----------------
def _ingress_nginx(a: AddonEnv) -> dict:
    autoscale = a.env.autoscaling != "none"
    replicas = max(a.env.replicas, 1)
    config = {"enable-opentelemetry": "false", **_forwarded_headers(a.env)}
    if a.tracing and "opentelemetry-collector" in a.enabled:  # edge spans for full+apm
        # the controller's default sampler is AlwaysOn: the ratio only applies with TraceIdRatioBased
        config.update({"enable-opentelemetry": "true", "otlp-collector-port": "4317",
                       "otlp-collector-host": f"opentelemetry-collector.{a.namespaces['opentelemetry-collector']}.svc",
                       "otel-sampler": "TraceIdRatioBased", "otel-sampler-ratio": str(a.env.tracing_sample_rate)})
    return {"controller": {
        "replicaCount": replicas,
        "config": config,
        # Local: the load balancer's connection keeps the client's source address (no SNAT hop)
        "service": {"externalTrafficPolicy": "Local"},
        "metrics": {"serviceMonitor": {"enabled": a.service_monitors}},
        "autoscaling": {"enabled": autoscale, "minReplicas": replicas,
                        "maxReplicas": max(replicas, a.env.max_replicas), "targetCPUUtilizationPercentage": a.env.target_cpu},
        "resources": _size(a, ("100m", "128Mi"), ("500m", "512Mi")),
        "podSecurityContext": {"seccompProfile": {"type": "RuntimeDefault"}},
        "admissionWebhooks": {"createSecretJob": {"resources": _resources("10m", "32Mi")},
                              "patchWebhookJob": {"resources": _resources("10m", "32Mi")},
                              # pod securityContext of both certificate Jobs (the chart leaves it empty)
                              "patch": {"securityContext": {"runAsNonRoot": True, "runAsUser": 65532,
                                                            "seccompProfile": {"type": "RuntimeDefault"}}}},
    }}


def _forwarded_headers(env: Environment) -> dict:
    """Trust X-Forwarded-For only from the load balancer's CIDRs; without them, trust no proxy header.

    ingress-nginx's proxy-real-ip-cidr defaults to 0.0.0.0/0: anyone could then spoof the client
    address past whitelist-source-range and the per-IP rate limits.
    """
    if not env.load_balancer_cidrs:
        return {"use-forwarded-headers": "false"}
    for cidr in env.load_balancer_cidrs:
        try:
            net = ipaddress.ip_network(cidr, strict=False)
        except ValueError:
            net = None
        if net is None or net.prefixlen == 0:
            raise InputError(f"spec.ingress.loadBalancerCIDRs: '{cidr}' is not a load balancer's CIDR",
                             file=env.source.file, line=env.lines.get("spec.ingress.loadBalancerCIDRs"),
                             hint="list the subnets the load balancer connects from (e.g. 10.30.0.0/20), never 0.0.0.0/0")
    return {"use-forwarded-headers": "true", "proxy-real-ip-cidr": ",".join(env.load_balancer_cidrs)}


def _role(env: Environment, role: str, addon: str, required: bool) -> dict:
    """The IRSA annotation for an add-on's ServiceAccount, from spec.aws.roles.<role>."""
    arn = env.aws_roles.get(role)
    if not arn:
        if not required:
            return {}
        raise InputError(f"add-on {addon} needs an IAM role: spec.aws.roles.{role} is not set",
                         file=env.source.file, line=env.lines.get("spec.aws", env.lines.get("spec.addons")),
                         hint=f"add spec.aws.roles.{role}: arn:aws:iam::<account>:role/<name> (docs/inputs.md)")
    return {"serviceAccount": {"annotations": {IRSA: arn}}}


def _cert_manager(a: AddonEnv) -> dict:
    # The Route53 DNS-01 solver (ingress.py) uses the controller's ambient credentials: IRSA.
    return {
        **_role(a.env, "certManager", "cert-manager", required=True),
        # the chart puts its leader-election Roles in kube-system unless told otherwise
        "global": {"leaderElection": {"namespace": a.namespaces["cert-manager"]}},
        "replicaCount": a.controller_replicas,
        "podDisruptionBudget": {"enabled": a.ha},
        "resources": _size(a, ("50m", "128Mi"), ("100m", "256Mi")),
        "webhook": {"replicaCount": a.controller_replicas, "resources": _resources("50m", "64Mi")},
        "cainjector": {"replicaCount": a.controller_replicas, "resources": _resources("50m", "256Mi")},
        "startupapicheck": {"resources": _resources("10m", "32Mi")},
        "prometheus": {"servicemonitor": {"enabled": a.service_monitors}},
    }


def _metrics_server(a: AddonEnv) -> dict:
    return {
        "replicas": a.controller_replicas,
        "podDisruptionBudget": {"enabled": a.ha, "maxUnavailable": 1},
        "resources": _size(a, ("50m", "64Mi"), ("100m", "200Mi")),
        "podSecurityContext": {"seccompProfile": {"type": "RuntimeDefault"}},
        "metrics": {"enabled": a.service_monitors},
        "serviceMonitor": {"enabled": a.service_monitors},
    }


_RETENTION = {"basic": "2d", "full": "7d", "full+apm": "15d"}


def _kube_prometheus_stack(a: AddonEnv) -> dict:
    level = a.env.monitoring
    prometheus_spec: dict[str, Any] = {
        "replicas": a.controller_replicas,
        "retention": _RETENTION[level],
        "resources": _size(a, ("200m", "1Gi"), ("1", "4Gi")),
        # pick up the ServiceMonitors/PrometheusRules of every app, not only this chart's
        "serviceMonitorSelectorNilUsesHelmValues": False,
        "podMonitorSelectorNilUsesHelmValues": False,
        "ruleSelectorNilUsesHelmValues": False,
    }
    if level != "basic":
        prometheus_spec["storageSpec"] = {"volumeClaimTemplate": {"spec": {
            "accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "50Gi" if a.ha else "20Gi"}}}}}
    return {
        "prometheus": {"prometheusSpec": prometheus_spec},
        "alertmanager": {"enabled": level != "basic",
                         # Alertmanager never calls the Kubernetes API: no token (DD-WKL-013, KSV-0036)
                         "serviceAccount": {"automountServiceAccountToken": False},
                         "alertmanagerSpec": {"replicas": a.controller_replicas if level != "basic" else 1,
                                              "resources": _resources("50m", "128Mi"),
                                              "automountServiceAccountToken": False}},
        "grafana": {"enabled": level != "basic", "resources": _resources("100m", "256Mi"),
                    # Grafana writes only to its storage volume (/var/lib/grafana) and /tmp (emptyDir)
                    "containerSecurityContext": {"readOnlyRootFilesystem": True},
                    # the dashboard/datasource sidecars write only to their shared emptyDir folders
                    "sidecar": {"resources": _resources("50m", "128Mi"),
                                "securityContext": {"readOnlyRootFilesystem": True, "allowPrivilegeEscalation": False,
                                                    "capabilities": {"drop": ["ALL"]},
                                                    "seccompProfile": {"type": "RuntimeDefault"}}}},
        "kube-state-metrics": {"resources": _resources("50m", "128Mi")},
        "prometheus-node-exporter": {
            "resources": _resources("50m", "64Mi"),
            # host namespaces and read-only host mounts are the exporter's job (waived); nothing else
            "securityContext": {"seccompProfile": {"type": "RuntimeDefault"}},
            "containerSecurityContext": {"readOnlyRootFilesystem": True, "allowPrivilegeEscalation": False,
                                         "capabilities": {"drop": ["ALL"]}},
        },
        "prometheusOperator": {"resources": _resources("100m", "256Mi"),
                               "admissionWebhooks": {"patch": {"resources": _resources("10m", "32Mi")}}},
    }


def _external_secrets(a: AddonEnv) -> dict:
    # The ClusterSecretStore authenticates with this ServiceAccount's token (security.py): IRSA.
    return {
        **_role(a.env, "externalSecrets", "external-secrets", required=True),
        "replicaCount": a.controller_replicas,
        "leaderElect": a.ha,
        "podDisruptionBudget": {"enabled": a.ha},
        "resources": _resources("50m", "128Mi"),
        "podSecurityContext": {"enabled": True, **_pod_restricted(1000)},
        "serviceMonitor": {"enabled": a.service_monitors},
        "webhook": {"replicaCount": a.controller_replicas, "resources": _resources("50m", "64Mi"),
                    "podSecurityContext": {"enabled": True, **_pod_restricted(1000)}},
        "certController": {"resources": _resources("50m", "128Mi"),
                           "podSecurityContext": {"enabled": True, **_pod_restricted(1000)}},
    }


def _sealed_secrets(a: AddonEnv) -> dict:
    return {
        "resources": _resources("50m", "64Mi"),
        "podSecurityContext": {"enabled": True, "fsGroup": 65534, "seccompProfile": {"type": "RuntimeDefault"}},
        "containerSecurityContext": {"enabled": True, "allowPrivilegeEscalation": False,
                                     "seccompProfile": {"type": "RuntimeDefault"}},
        "metrics": {"serviceMonitor": {"enabled": a.service_monitors}},
    }


def _argo_rollouts(a: AddonEnv) -> dict:
    return {"controller": {
        "replicas": a.controller_replicas,
        "resources": _resources("100m", "256Mi"),
        "metrics": {"serviceMonitor": {"enabled": a.service_monitors}},
    }}


def _vpa(a: AddonEnv) -> dict:
    # The HPA scales on CPU; the workloads' VPAs control memory only, so both can run (microservice.py).
    return {
        "recommender": {"resources": _resources("50m", "500Mi")},
        "updater": {"resources": _resources("50m", "500Mi")},
        "admissionController": {"replicaCount": a.controller_replicas, "resources": _resources("50m", "200Mi"),
                                "certGen": {"resources": _resources("10m", "32Mi"),
                                            "securityContext": _CONTAINER_RESTRICTED,
                                            "podSecurityContext": _pod_restricted()}},
    }


def _fluent_bit(a: AddonEnv) -> dict:
    if "opentelemetry-collector" in a.enabled:
        otel_ns = a.namespaces["opentelemetry-collector"]
        output = ("[OUTPUT]\n    Name opentelemetry\n    Match kube.*\n"
                  f"    Host opentelemetry-collector.{otel_ns}.svc\n    Port 4318\n    Logs_uri /v1/logs\n")
    else:
        # No collector in this env: keep logs on the node's stdout stream (kubectl logs of fluent-bit).
        # Point spec.addons.fluent-bit.values.config.outputs at your backend (docs/argocd.md).
        output = "[OUTPUT]\n    Name stdout\n    Match kube.*\n    Format json_lines\n"
    return {
        "resources": _resources("50m", "128Mi"),
        # root (uid 0) to read the root-owned node logs is waived; everything else is restricted
        "podSecurityContext": {"seccompProfile": {"type": "RuntimeDefault"}},
        "securityContext": {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
                            "capabilities": {"drop": ["ALL"]}},
        "serviceMonitor": {"enabled": a.service_monitors},
        "config": {
            "filters": ("[FILTER]\n    Name kubernetes\n    Match kube.*\n    Merge_Log On\n"
                        "    Keep_Log Off\n    K8S-Logging.Parser On\n    K8S-Logging.Exclude On\n"),
            "outputs": output,
        },
    }


def _otel_collector(a: AddonEnv) -> dict:
    exporters: dict[str, Any] = {"debug": {"verbosity": "basic"}}
    trace_exporters = ["debug"]
    if "jaeger" in a.enabled:
        exporters["otlp/jaeger"] = {"endpoint": f"jaeger-collector.{a.namespaces['jaeger']}.svc:4317",
                                    "tls": {"insecure": True}}
        trace_exporters = ["otlp/jaeger"]
    return {
        "replicaCount": a.controller_replicas,
        "resources": _resources("100m", "256Mi"),
        "podSecurityContext": _pod_restricted(10001),
        "securityContext": _CONTAINER_RESTRICTED,
        "serviceMonitor": {"enabled": a.service_monitors},
        "config": {
            "exporters": exporters,
            "service": {"pipelines": {
                "traces": {"receivers": ["otlp"], "processors": ["memory_limiter", "batch"], "exporters": trace_exporters},
                "logs": {"receivers": ["otlp"], "processors": ["memory_limiter", "batch"], "exporters": ["debug"]},
            }},
        },
    }


def _jaeger(a: AddonEnv) -> dict:
    return {"allInOne": {
        "resources": _size(a, ("100m", "256Mi"), ("500m", "1Gi")),
        "podSecurityContext": _pod_restricted(10001),
        "securityContext": _CONTAINER_RESTRICTED,
        # all-in-one never calls the Kubernetes API
        "serviceAccount": {"automountServiceAccountToken": False},
    }}


# Generated values by add-on name; an add-on of the catalogue without an entry gets only its
# catalogue values (and the environment's overrides).
VALUES: dict[str, Callable[[AddonEnv], dict]] = {
    "cert-manager": _cert_manager, "external-secrets": _external_secrets, "sealed-secrets": _sealed_secrets,
    "argo-rollouts": _argo_rollouts, "kube-prometheus-stack": _kube_prometheus_stack,
    "metrics-server": _metrics_server, "vertical-pod-autoscaler": _vpa, "ingress-nginx": _ingress_nginx,
    "jaeger": _jaeger, "opentelemetry-collector": _otel_collector, "fluent-bit": _fluent_bit,
}


def addon_namespace(env: Environment, name: str) -> str:
    """Where add-on `name` runs in this env (spec.addons.<name>.namespace, else the catalogue's)."""
    return str((env.addons.get(name) or {}).get("namespace") or catalogue()[name].namespace)


def addon_enabled(env: Environment, name: str) -> bool:
    return name in catalogue() and bool((env.addons.get(name) or {}).get("enabled", catalogue()[name].enabled))


def specs(path=None) -> dict[str, AddonSpec]:
    """The catalogue (generator/addons.yaml, or `path`) joined with the values functions."""
    return {name: AddonSpec(entry, VALUES.get(name, lambda a: {})) for name, entry in catalogue(path).items()}


def deep_merge(base: Any, override: Any) -> Any:
    """Helm-style merge: maps merge key by key, anything else (lists included) is replaced."""
    if isinstance(base, Mapping) and isinstance(override, Mapping):
        out = {k: copy.deepcopy(v) for k, v in base.items()}
        for k, v in override.items():
            out[k] = deep_merge(out[k], v) if k in out else copy.deepcopy(_plain(v))
        return out
    return copy.deepcopy(_plain(override))


def _plain(v: Any) -> Any:
    if isinstance(v, Mapping):
        return {k: _plain(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    return v


def _prune_none(v: Any) -> Any:
    if isinstance(v, dict):
        return {k: _prune_none(x) for k, x in v.items() if x is not None}
    if isinstance(v, list):
        return [_prune_none(x) for x in v]
    return v


@dataclass(frozen=True)
class Addon:
    """One enabled add-on in one environment, resolved."""

    spec: AddonSpec
    version: str
    namespace: str
    needs: tuple[str, ...]
    values: dict


def enabled_addons(env: Environment, catalogue_path=None) -> dict[str, Addon]:
    """The add-ons this environment runs, by name (sorted), with versions, namespaces, needs and values."""
    cat = specs(catalogue_path)
    enabled = frozenset(n for n, spec in cat.items()
                        if (env.addons.get(n) or {}).get("enabled", spec.enabled))
    namespaces = {n: str((env.addons.get(n) or {}).get("namespace") or cat[n].namespace) for n in cat}
    a = AddonEnv(env, enabled, namespaces)
    out = {}
    for name in sorted(enabled):
        spec, conf = cat[name], env.addons.get(name) or {}
        needs = [n for n in spec.needs if n in enabled]
        if spec.monitored and a.service_monitors:
            needs.append("kube-prometheus-stack")  # its ServiceMonitor needs the CRD first
        values = _prune_none(deep_merge(spec.all_values(a), conf.get("values") or {}))
        out[name] = Addon(spec, str(conf.get("version") or spec.version), namespaces[name],
                          tuple(sorted(set(needs))), values)
    return out
