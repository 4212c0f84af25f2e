"""The Microservice construct: everything one service needs in one environment.

Emits ServiceAccount, ConfigMap, ExternalSecret (when the service references
secrets), Deployment (or an Argo Rollout with canary steps), Service,
PodDisruptionBudget, and HorizontalPodAutoscaler / VerticalPodAutoscaler when the
environment asks for them. Defaults are the secure ones; loosening one is an
explicit, named opt-out in `MicroserviceProps` that the policy gate still sees.
"""
from __future__ import annotations

from builtins import id as builtins_id
from dataclasses import dataclass, field
from typing import Any

from constructs import Construct

from ..core import SourceRef
from ..model.types import Environment, Service
from . import wiring
from .base import (RenderContext, image_sources, cpu_quantity, emit, labels, restricted_container_security,
                   restricted_pod_security, selector)

SECRET_STORE = "aws-secrets-manager"  # the ClusterSecretStore the platform construct creates


@dataclass(frozen=True)
class MicroserviceProps:
    """How to run one service. Every default is the secure choice.

    replicas:            pods when not autoscaled; the HPA minimum when autoscaled.
    cpu / memory:        requests = limits (Guaranteed QoS: no noisy-neighbour throttling surprises).
    autoscaling:         none | hpa | hpa+vpa (VPA controls memory only, so it never fights the CPU-based HPA).
    strategy:            rolling (Deployment) | canary (Argo Rollout with analysis).
    read_only_root_fs:   opt-out for software that must write to its image; /tmp is always writable.
    allow_privilege_escalation, automount_service_account_token: opt-outs, off by default.
    """

    name: str
    image: str
    version: str
    component: str
    ports: tuple[tuple[str, int, str], ...]
    replicas: int = 1
    max_replicas: int = 3
    target_cpu: int = 70
    cpu: str = "500m"
    memory: str = "512Mi"
    autoscaling: str = "none"
    strategy: str = "rolling"
    canary_steps: tuple[int, ...] = (10, 50, 100)
    pause_seconds: int = 300
    liveness: tuple[str, str] = ("/healthz", "http")
    readiness: tuple[str, str] = ("/ready", "http")
    startup: tuple[str, str] | None = None
    config: dict[str, str] = field(default_factory=dict)
    secrets: tuple[tuple[str, str, str | None], ...] = ()  # (env var, AWS SM key, property)
    extra_env: tuple[dict, ...] = ()
    pod_annotations: dict[str, str] = field(default_factory=dict)
    read_only_root_fs: bool = True
    allow_privilege_escalation: bool = False
    automount_service_account_token: bool = False
    termination_grace_seconds: int = 30
    # canary only: the Ingress (same namespace) whose traffic ingress-nginx splits between the
    # stable and canary Services; None = no ingress, the weight follows the replica ratio.
    stable_ingress: str | None = None
    prometheus_url: str = "http://kube-prometheus-stack-prometheus.monitoring.svc:9090"  # canary analysis


def props_for(service: Service, env: Environment) -> MicroserviceProps:
    override = service.overrides.get(env.name)
    replicas = (override.replicas if override and override.replicas else None) or env.replicas
    config = {**service.config, **(dict(override.config) if override else {})}
    return MicroserviceProps(
        name=service.name, image=env.image_for(service), version=env.version_of(service),
        component=service.component, ports=tuple((p.name, p.port, p.protocol) for p in service.ports),
        replicas=replicas,
        max_replicas=max((override.max_replicas if override and override.max_replicas else None) or env.max_replicas, replicas),
        target_cpu=env.target_cpu,
        cpu=cpu_quantity((override.cpu if override and override.cpu else None) or env.cpu),
        memory=(override.memory if override and override.memory else None) or env.memory,
        autoscaling=env.autoscaling, strategy=env.rollout, canary_steps=env.canary_steps,
        pause_seconds=env.pause_seconds,
        liveness=(service.liveness.path, service.liveness.port),
        readiness=(service.readiness.path, service.readiness.port),
        startup=(service.startup.path, service.startup.port) if service.startup else None,
        config=dict(sorted(config.items())),
        secrets=tuple((s.env, wiring.secret_key(env, s.key), s.property) for s in service.secrets),
        extra_env=tuple(wiring.service_env(service, env)),
        pod_annotations=wiring.pod_annotations(service, env),
        stable_ingress=service.name if service.ingress_host else None,
        prometheus_url=wiring.prometheus_url(env),
    )


class Microservice(Construct):
    def __init__(self, scope: Construct, id: str, props: MicroserviceProps, ctx: RenderContext, service: Service):
        super().__init__(scope, id)
        ctx._folders[builtins_id(self)] = ctx.folder_of(scope)  # objects of this construct land in its chart's folder
        self.props, self.ctx, self.service = props, ctx, service
        env, p = ctx.env, props
        self.namespace = env.namespace
        self.labels = labels(p.name, env, p.component, p.version)
        self.selector = selector(p.name, env)
        src = service.source
        self._emit({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": self._meta(p.name),
                    "automountServiceAccountToken": p.automount_service_account_token}, src)
        self._emit({"apiVersion": "v1", "kind": "ConfigMap", "metadata": self._meta(f"{p.name}-config"),
                    "data": p.config}, service.line_of("spec.config"))
        if p.secrets:
            self._emit(self._external_secret(), service.line_of("spec.secrets"))
        self._emit(self._workload(), src, self._workload_sources(service, env))
        if p.strategy == "canary":
            self._emit(self._analysis_template(), env.line_of("spec.rollout"))
        self._emit({"apiVersion": "v1", "kind": "Service", "metadata": self._meta(p.name),
                    "spec": {"type": "ClusterIP", "selector": self.selector,
                             "ports": [{"name": n, "port": port, "targetPort": n, "protocol": proto}
                                       for n, port, proto in p.ports]}}, service.line_of("spec.ports"))
        if p.strategy == "canary" and p.stable_ingress:
            # Argo Rollouts points this Service at the canary pods and the stable one at the rest.
            self._emit({"apiVersion": "v1", "kind": "Service", "metadata": self._meta(self.canary_service),
                        "spec": {"type": "ClusterIP", "selector": self.selector,
                                 "ports": [{"name": n, "port": port, "targetPort": n, "protocol": proto}
                                           for n, port, proto in p.ports]}}, env.line_of("spec.rollout"))
        # maxUnavailable 1 never blocks every eviction, even with a single replica (dev).
        self._emit({"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": self._meta(p.name),
                    "spec": {"maxUnavailable": 1, "selector": {"matchLabels": self.selector}}}, src)
        if p.autoscaling in ("hpa", "hpa+vpa"):
            self._emit(self._hpa(), env.line_of("spec.autoscaling"))
        if p.autoscaling == "hpa+vpa":
            self._emit(self._vpa(), env.line_of("spec.autoscaling.mode"))

    @property
    def canary_service(self) -> str:
        return f"{self.props.name}-canary"

    # -- helpers -------------------------------------------------------------------------
    def _meta(self, name: str, **extra: Any) -> dict:
        return {"name": name, "namespace": self.namespace, "labels": dict(self.labels), **extra}

    def _emit(self, manifest: dict, source: SourceRef, field_sources: dict | None = None) -> None:
        emit(self, self.ctx, manifest, source, field_sources)

    def _workload_sources(self, service: Service, env) -> dict[tuple, SourceRef]:
        """Input lines behind the workload's fields (findings on them point there)."""
        c = ("spec", "template", "spec", "containers", 0)
        override = f"spec.overrides.{env.name}"
        res = lambda key: (service.line_of(f"{override}.{key}") if f"{override}.{key}" in service.lines  # noqa: E731
                           else env.line_of(f"spec.resources.{key}"))
        return {
            ("spec", "replicas"): (service.line_of(f"{override}.replicas") if f"{override}.replicas" in service.lines
                                   else env.line_of("spec.replicas")),
            **image_sources(service, env, c),
            c + ("ports",): service.line_of("spec.ports"),
            c + ("env",): service.line_of("spec.secrets"),
            c + ("livenessProbe",): service.line_of("spec.probes.liveness"),
            c + ("readinessProbe",): service.line_of("spec.probes.readiness"),
            c + ("resources", "limits", "cpu"): res("cpu"),
            c + ("resources", "requests", "cpu"): res("cpu"),
            c + ("resources", "limits", "memory"): res("memory"),
            c + ("resources", "requests", "memory"): res("memory"),
        }

    @property
    def _workload_ref(self) -> dict:
        if self.props.strategy == "canary":
            return {"apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout", "name": self.props.name}
        return {"apiVersion": "apps/v1", "kind": "Deployment", "name": self.props.name}

    def _probe(self, path_port: tuple[str, str], period: int, failures: int) -> dict:
        path, port = path_port
        return {"httpGet": {"path": path, "port": port}, "periodSeconds": period, "timeoutSeconds": 2,
                "failureThreshold": failures}

    def _container(self) -> dict:
        p = self.props
        env = [{"name": var, "valueFrom": {"secretKeyRef": {"name": f"{p.name}-secrets", "key": var}}}
               for var, _, _ in p.secrets]
        env += list(p.extra_env)
        container = {
            "name": p.name,
            "image": p.image,
            "imagePullPolicy": "IfNotPresent",
            "ports": [{"name": n, "containerPort": port, "protocol": proto} for n, port, proto in p.ports],
            "envFrom": [{"configMapRef": {"name": f"{p.name}-config"}}],
            "env": sorted(env, key=lambda e: e["name"]) or None,
            "resources": {"requests": {"cpu": p.cpu, "memory": p.memory}, "limits": {"cpu": p.cpu, "memory": p.memory}},
            "livenessProbe": self._probe(p.liveness, 10, 3),
            "readinessProbe": self._probe(p.readiness, 5, 3),
            "securityContext": {**restricted_container_security(),
                                "readOnlyRootFilesystem": p.read_only_root_fs,
                                "allowPrivilegeEscalation": p.allow_privilege_escalation},
            "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],
        }
        if p.startup:
            container["startupProbe"] = self._probe(p.startup, 5, 30)
        return container

    def _pod_template(self) -> dict:
        p = self.props
        meta: dict[str, Any] = {"labels": dict(self.labels)}
        if p.pod_annotations:
            meta["annotations"] = dict(p.pod_annotations)
        return {
            "metadata": meta,
            "spec": {
                "serviceAccountName": p.name,
                "automountServiceAccountToken": p.automount_service_account_token,
                "securityContext": restricted_pod_security(),
                "terminationGracePeriodSeconds": p.termination_grace_seconds,
                "containers": [self._container()],
                "volumes": [{"name": "tmp", "emptyDir": {"sizeLimit": "64Mi"}}],
                "topologySpreadConstraints": [{
                    "maxSkew": 1, "topologyKey": "topology.kubernetes.io/zone", "whenUnsatisfiable": "ScheduleAnyway",
                    "labelSelector": {"matchLabels": self.selector}}] if p.replicas > 1 else None,
            },
        }

    def _workload(self) -> dict:
        p = self.props
        spec: dict[str, Any] = {
            "replicas": p.replicas,
            "revisionHistoryLimit": 5,
            "selector": {"matchLabels": self.selector},
            "template": self._pod_template(),
        }
        if p.strategy == "canary":
            steps: list[dict] = []
            for weight in p.canary_steps:
                if weight >= 100:
                    break
                steps += [{"setWeight": weight}, {"pause": {"duration": f"{p.pause_seconds}s"}}]
            canary: dict[str, Any] = {
                "maxSurge": 1, "maxUnavailable": 0, "steps": steps,
                # Background analysis from the first step, without a count: it guards every step
                # until the rollout completes, and one failed measurement aborts it.
                "analysis": {"templates": [{"templateName": f"{p.name}-error-rate"}],
                             "args": [{"name": "service", "value": p.name},
                                      {"name": "canary-hash", "valueFrom": {"podTemplateHashValue": "Latest"}}]},
            }
            if p.stable_ingress:
                # ingress-nginx splits the host's traffic by weight through a canary Ingress
                canary.update({"canaryService": self.canary_service, "stableService": p.name,
                               "trafficRouting": {"nginx": {"stableIngress": p.stable_ingress}}})
            spec["strategy"] = {"canary": canary}
            return {"apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout", "metadata": self._meta(p.name), "spec": spec}
        spec["strategy"] = {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}}
        return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": self._meta(p.name), "spec": spec}

    def _analysis_template(self) -> dict:
        p = self.props
        ns = self.namespace
        # Canary-only: the canary ReplicaSet's pods are named <rollout>-<pod-template-hash>-*, and
        # Prometheus labels every scraped series with its pod. No canary traffic gives an empty
        # result (the denominator filter); errors without any 5xx series give 0 (`or vector(0)`).
        pods = 'pod=~"{{args.service}}-{{args.canary-hash}}-.*"'
        query = (f'(sum(rate(http_requests_total{{namespace="{ns}",{pods},code=~"5.."}}[2m])) or vector(0))'
                 f' / (sum(rate(http_requests_total{{namespace="{ns}",{pods}}}[2m])) > 0)')
        return {
            "apiVersion": "argoproj.io/v1alpha1", "kind": "AnalysisTemplate", "metadata": self._meta(f"{p.name}-error-rate"),
            "spec": {
                "args": [{"name": "service"}, {"name": "canary-hash"}],
                "metrics": [{
                    # no count: measured every minute for as long as the rollout runs (background analysis)
                    "name": "error-rate", "interval": "1m", "failureLimit": 1,
                    # 0.1% is the SLO's whole error budget rate; a canary above it is rolled back.
                    "successCondition": "len(result) == 0 || result[0] < 0.001",
                    "provider": {"prometheus": {"address": p.prometheus_url, "query": query}},
                }],
            },
        }

    def _external_secret(self) -> dict:
        p = self.props
        data = []
        for var, key, prop in p.secrets:
            ref = {"key": key}
            if prop:
                ref["property"] = prop
            data.append({"secretKey": var, "remoteRef": ref})
        return {
            "apiVersion": "external-secrets.io/v1", "kind": "ExternalSecret", "metadata": self._meta(f"{p.name}-secrets"),
            "spec": {
                "refreshInterval": "1h",
                "secretStoreRef": {"kind": "ClusterSecretStore", "name": SECRET_STORE},
                "target": {"name": f"{p.name}-secrets", "creationPolicy": "Owner"},
                "data": data,
            },
        }

    def _hpa(self) -> dict:
        p = self.props
        return {
            "apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "metadata": self._meta(p.name),
            "spec": {
                "scaleTargetRef": self._workload_ref,
                "minReplicas": p.replicas, "maxReplicas": p.max_replicas,
                "metrics": [{"type": "Resource", "resource": {
                    "name": "cpu", "target": {"type": "Utilization", "averageUtilization": p.target_cpu}}}],
                "behavior": {"scaleDown": {"stabilizationWindowSeconds": 300}},
            },
        }

    def _vpa(self) -> dict:
        p = self.props
        # Memory only: the HPA scales on CPU, and two autoscalers on one signal fight each other.
        return {
            "apiVersion": "autoscaling.k8s.io/v1", "kind": "VerticalPodAutoscaler", "metadata": self._meta(p.name),
            "spec": {
                "targetRef": self._workload_ref,
                "updatePolicy": {"updateMode": "Auto"},
                "resourcePolicy": {"containerPolicies": [{
                    "containerName": p.name, "controlledResources": ["memory"],
                    "controlledValues": "RequestsAndLimits",
                    "minAllowed": {"memory": p.memory}}]},
            },
        }
