"""Platform add-ons: the public Helm charts every environment runs, as ArgoCD Applications.

This module is data + pure functions (no cdk8s objects): the catalog of charts
(real public repositories and chart names, default pinned versions), which
add-on needs which (for sync waves), the cluster-scoped kinds each installs (for
the AppProject whitelist), and the Helm values generated from the environment.
`argocd.py` turns it into Applications. docs/argocd.md explains the choices.

An environment switches an add-on off with `spec.addons.<name>.enabled: false`,
pins another chart version with `version`, moves it with `namespace`, and
overrides values with `values` (deep-merged over the generated ones; lists are
replaced, not merged).
"""
from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from ..model.types import Environment

# (group, kind) pairs for the AppProject clusterResourceWhitelist.
CRD = ("apiextensions.k8s.io", "CustomResourceDefinition")
CLUSTER_ROLE = ("rbac.authorization.k8s.io", "ClusterRole")
CLUSTER_ROLE_BINDING = ("rbac.authorization.k8s.io", "ClusterRoleBinding")
VALIDATING_WEBHOOK = ("admissionregistration.k8s.io", "ValidatingWebhookConfiguration")
MUTATING_WEBHOOK = ("admissionregistration.k8s.io", "MutatingWebhookConfiguration")
API_SERVICE = ("apiregistration.k8s.io", "APIService")
INGRESS_CLASS = ("networking.k8s.io", "IngressClass")
RBAC = (CLUSTER_ROLE, CLUSTER_ROLE_BINDING)

# Fields that controllers write after the chart is applied: ignored so apps do not flap OutOfSync.
WEBHOOK_CA_BUNDLE = (
    {"group": "admissionregistration.k8s.io", "kind": "ValidatingWebhookConfiguration",
     "jqPathExpressions": [".webhooks[]?.clientConfig.caBundle"]},
    {"group": "admissionregistration.k8s.io", "kind": "MutatingWebhookConfiguration",
     "jqPathExpressions": [".webhooks[]?.clientConfig.caBundle"]},
)
CRD_CONVERSION_CA_BUNDLE = (
    {"group": "apiextensions.k8s.io", "kind": "CustomResourceDefinition",
     "jqPathExpressions": [".spec.conversion.webhook.clientConfig.caBundle"]},
)


@dataclass(frozen=True)
class AddonSpec:
    name: str
    repo: str  # public Helm repository
    chart: str
    version: str  # default pinned chart version; spec.addons.<name>.version overrides
    namespace: str
    summary: str
    crds: bool = False  # ships CRDs: sync with ServerSideApply (large CRDs overflow the last-applied annotation)
    cluster_kinds: tuple[tuple[str, str], ...] = ()
    needs: tuple[str, ...] = ()  # add-ons that must be healthy first (only when both are enabled)
    monitored: bool = False  # its values enable a ServiceMonitor when the env's monitoring allows
    ignore_differences: tuple[dict, ...] = ()
    values: Callable[["AddonEnv"], dict] = field(default=lambda a: {})


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
    """Requests with a memory limit equal to the request (no CPU limit: controllers burst at startup)."""
    return {"requests": {"cpu": cpu, "memory": memory}, "limits": {"memory": memory}}


def _size(a: AddonEnv, small: tuple[str, str], large: tuple[str, str]) -> dict:
    return _resources(*(large if a.ha else small))


# -- values per add-on ----------------------------------------------------------------------
def _ingress_nginx(a: AddonEnv) -> dict:
    autoscale = a.env.autoscaling != "none"
    replicas = max(a.env.replicas, 1)
    config = {"use-forwarded-headers": "true", "enable-opentelemetry": "false"}
    if a.tracing and "opentelemetry-collector" in a.enabled:  # edge spans for full+apm
        config.update({"enable-opentelemetry": "true", "otlp-collector-port": "4317",
                       "otlp-collector-host": f"opentelemetry-collector.{a.namespaces['opentelemetry-collector']}.svc",
                       "otel-sampler-ratio": str(a.env.tracing_sample_rate)})
    return {"controller": {
        "replicaCount": replicas,
        "ingressClassResource": {"name": "nginx", "default": True},
        "config": config,
        "metrics": {"enabled": True, "serviceMonitor": {"enabled": a.service_monitors}},
        "autoscaling": {"enabled": autoscale, "minReplicas": replicas,
                        "maxReplicas": max(replicas, a.env.max_replicas), "targetCPUUtilizationPercentage": a.env.target_cpu},
        "minAvailable": 1,  # the chart adds a PodDisruptionBudget once there is more than one replica
        "resources": _size(a, ("100m", "128Mi"), ("500m", "512Mi")),
        "admissionWebhooks": {"enabled": True},
    }}


def _cert_manager(a: AddonEnv) -> dict:
    return {
        "crds": {"enabled": True, "keep": True},
        "replicaCount": a.controller_replicas,
        "podDisruptionBudget": {"enabled": a.ha},
        "resources": _size(a, ("50m", "128Mi"), ("100m", "256Mi")),
        "webhook": {"replicaCount": a.controller_replicas, "resources": _resources("50m", "64Mi")},
        "cainjector": {"replicaCount": a.controller_replicas, "resources": _resources("50m", "256Mi")},
        "prometheus": {"enabled": True, "servicemonitor": {"enabled": a.service_monitors}},
    }


def _metrics_server(a: AddonEnv) -> dict:
    return {
        "replicas": a.controller_replicas,
        "podDisruptionBudget": {"enabled": a.ha, "maxUnavailable": 1},
        "resources": _size(a, ("50m", "64Mi"), ("100m", "200Mi")),
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
        "crds": {"enabled": True},
        "prometheus": {"prometheusSpec": prometheus_spec},
        "alertmanager": {"enabled": level != "basic",
                         "alertmanagerSpec": {"replicas": a.controller_replicas if level != "basic" else 1}},
        "grafana": {"enabled": level != "basic", "replicas": 1},
        "prometheusOperator": {"resources": _resources("100m", "256Mi")},
        "nodeExporter": {"enabled": True},
        "kubeStateMetrics": {"enabled": True},
    }


def _external_secrets(a: AddonEnv) -> dict:
    return {
        "installCRDs": True,
        "replicaCount": a.controller_replicas,
        "leaderElect": a.ha,
        "podDisruptionBudget": {"enabled": a.ha},
        "resources": _resources("50m", "128Mi"),
        "serviceMonitor": {"enabled": a.service_monitors},
        "webhook": {"replicaCount": a.controller_replicas, "resources": _resources("50m", "64Mi")},
        "certController": {"replicaCount": 1, "resources": _resources("50m", "128Mi")},
    }


def _sealed_secrets(a: AddonEnv) -> dict:
    # Not in kube-system (the project never needs write access there): use
    # `kubeseal --controller-namespace sealed-secrets` (docs/argocd.md). The name is kubeseal's default.
    return {
        "fullnameOverride": "sealed-secrets-controller",
        "resources": _resources("50m", "64Mi"),
        "metrics": {"serviceMonitor": {"enabled": a.service_monitors}},
    }


def _argo_rollouts(a: AddonEnv) -> dict:
    return {
        "installCRDs": True,
        "controller": {
            "replicas": a.controller_replicas,
            "resources": _resources("100m", "256Mi"),
            "metrics": {"enabled": True, "serviceMonitor": {"enabled": a.service_monitors}},
        },
        "dashboard": {"enabled": False},
    }


def _vpa(a: AddonEnv) -> dict:
    # The HPA scales on CPU; the workloads' VPAs control memory only, so both can run (microservice.py).
    return {
        "recommender": {"enabled": True, "resources": _resources("50m", "500Mi")},
        "updater": {"enabled": True, "resources": _resources("50m", "500Mi")},
        "admissionController": {"enabled": True, "replicaCount": a.controller_replicas,
                                "resources": _resources("50m", "200Mi")},
        "metrics-server": {"enabled": False},  # the metrics-server add-on is the single source of metrics
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
        "mode": "deployment",
        "image": {"repository": "otel/opentelemetry-collector-contrib"},
        "replicaCount": a.controller_replicas,
        "resources": _resources("100m", "256Mi"),
        "serviceMonitor": {"enabled": a.service_monitors},
        "ports": {"metrics": {"enabled": True}},
        "config": {
            "exporters": exporters,
            "processors": {"batch": {}, "memory_limiter": {"check_interval": "5s", "limit_percentage": 80,
                                                           "spike_limit_percentage": 25}},
            "service": {"pipelines": {
                "traces": {"receivers": ["otlp"], "processors": ["memory_limiter", "batch"], "exporters": trace_exporters},
                "logs": {"receivers": ["otlp"], "processors": ["memory_limiter", "batch"], "exporters": ["debug"]},
            }},
        },
    }


def _jaeger(a: AddonEnv) -> dict:
    # All-in-one with in-memory storage: traces survive only until the pod restarts. Production
    # tracing storage (Elasticsearch/Cassandra) is a values override (docs/argocd.md).
    return {
        "provisionDataStore": {"cassandra": False},
        "storage": {"type": "memory"},
        "allInOne": {"enabled": True, "resources": _size(a, ("100m", "256Mi"), ("500m", "1Gi"))},
        "agent": {"enabled": False},
        "collector": {"enabled": False},
        "query": {"enabled": False},
    }


CATALOG: dict[str, AddonSpec] = {s.name: s for s in (
    AddonSpec("cert-manager", "https://charts.jetstack.io", "cert-manager", "v1.16.2", "cert-manager",
              "TLS certificates (ClusterIssuer/Certificate CRDs)", crds=True,
              cluster_kinds=(CRD, *RBAC, VALIDATING_WEBHOOK, MUTATING_WEBHOOK), monitored=True,
              ignore_differences=WEBHOOK_CA_BUNDLE, values=_cert_manager),
    AddonSpec("external-secrets", "https://charts.external-secrets.io", "external-secrets", "0.19.2",
              "external-secrets", "ExternalSecret/ClusterSecretStore CRDs (AWS Secrets Manager)", crds=True,
              cluster_kinds=(CRD, *RBAC, VALIDATING_WEBHOOK), monitored=True,
              ignore_differences=WEBHOOK_CA_BUNDLE + CRD_CONVERSION_CA_BUNDLE, values=_external_secrets),
    AddonSpec("sealed-secrets", "https://bitnami-labs.github.io/sealed-secrets", "sealed-secrets", "2.16.2",
              "sealed-secrets", "SealedSecret controller", crds=True, cluster_kinds=(CRD, *RBAC), monitored=True,
              values=_sealed_secrets),
    AddonSpec("argo-rollouts", "https://argoproj.github.io/argo-helm", "argo-rollouts", "2.37.7", "argo-rollouts",
              "Rollout/AnalysisTemplate CRDs and controller (canary releases)", crds=True,
              cluster_kinds=(CRD, *RBAC), monitored=True, values=_argo_rollouts),
    AddonSpec("kube-prometheus-stack", "https://prometheus-community.github.io/helm-charts",
              "kube-prometheus-stack", "65.1.1", "monitoring",
              "Prometheus operator, Prometheus, Alertmanager, Grafana (ServiceMonitor/PrometheusRule CRDs)",
              crds=True, cluster_kinds=(CRD, *RBAC, VALIDATING_WEBHOOK, MUTATING_WEBHOOK),
              ignore_differences=WEBHOOK_CA_BUNDLE, values=_kube_prometheus_stack),
    AddonSpec("metrics-server", "https://kubernetes-sigs.github.io/metrics-server/", "metrics-server", "3.12.2",
              "metrics-server", "resource metrics API for HPA and kubectl top",
              cluster_kinds=(*RBAC, API_SERVICE), monitored=True, values=_metrics_server),
    AddonSpec("vertical-pod-autoscaler", "https://charts.fairwinds.com/stable", "vpa", "4.6.0", "vpa",
              "VerticalPodAutoscaler CRD, recommender, updater, admission controller", crds=True,
              cluster_kinds=(CRD, *RBAC, MUTATING_WEBHOOK), needs=("metrics-server",),
              ignore_differences=WEBHOOK_CA_BUNDLE, values=_vpa),
    AddonSpec("ingress-nginx", "https://kubernetes.github.io/ingress-nginx", "ingress-nginx", "4.11.3",
              "ingress-nginx", "ingress controller (IngressClass nginx)",
              cluster_kinds=(*RBAC, INGRESS_CLASS, VALIDATING_WEBHOOK), monitored=True,
              ignore_differences=WEBHOOK_CA_BUNDLE, values=_ingress_nginx),
    AddonSpec("jaeger", "https://jaegertracing.github.io/helm-charts", "jaeger", "3.3.1", "observability",
              "trace storage and UI (all-in-one)", cluster_kinds=RBAC, values=_jaeger),
    AddonSpec("opentelemetry-collector", "https://open-telemetry.github.io/opentelemetry-helm-charts",
              "opentelemetry-collector", "0.108.0", "observability", "OTLP receiver; traces to Jaeger",
              cluster_kinds=RBAC, needs=("jaeger",), monitored=True, values=_otel_collector),
    AddonSpec("fluent-bit", "https://fluent.github.io/helm-charts", "fluent-bit", "0.47.10", "logging",
              "node log shipper (DaemonSet)", cluster_kinds=RBAC, needs=("opentelemetry-collector",),
              monitored=True, values=_fluent_bit),
)}


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


def enabled_addons(env: Environment) -> dict[str, Addon]:
    """The add-ons this environment runs, by name (sorted), with versions, namespaces, needs and values."""
    enabled = frozenset(n for n, conf in env.addons.items() if conf.get("enabled", True) and n in CATALOG)
    namespaces = {n: str(env.addons.get(n, {}).get("namespace") or CATALOG[n].namespace) for n in CATALOG}
    a = AddonEnv(env, enabled, namespaces)
    out = {}
    for name in sorted(enabled):
        spec, conf = CATALOG[name], env.addons[name]
        needs = [n for n in spec.needs if n in enabled]
        if spec.monitored and a.service_monitors:
            needs.append("kube-prometheus-stack")  # its ServiceMonitor needs the CRD first
        values = _prune_none(deep_merge(spec.values(a), conf.get("values") or {}))
        out[name] = Addon(spec, str(conf.get("version") or spec.version), namespaces[name],
                          tuple(sorted(set(needs))), values)
    return out
