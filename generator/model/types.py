"""Frozen dataclasses for the validated inputs. Built only by loader.py."""
from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Mapping

from ..core import Severity, SourceRef

DATASTORES = ("postgresql", "mongodb", "redis")
QUEUES = ("rabbitmq",)


@dataclass(frozen=True)
class Port:
    name: str
    port: int
    protocol: str = "TCP"


@dataclass(frozen=True)
class Probe:
    path: str
    port: str


@dataclass(frozen=True)
class SecretRef:
    env: str  # environment variable in the container
    key: str  # AWS Secrets Manager secret name
    property: str | None = None


@dataclass(frozen=True)
class Override:
    replicas: int | None = None
    max_replicas: int | None = None
    cpu: str | None = None
    memory: str | None = None
    config: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))


@dataclass(frozen=True)
class Service:
    name: str
    team: str
    description: str
    component: str  # frontend | gateway | admin | backend
    image: str  # repository, no tag
    ports: tuple[Port, ...]
    metrics_port: str | None
    metrics_path: str
    liveness: Probe
    readiness: Probe
    startup: Probe | None
    depends_on_services: tuple[str, ...]
    datastores: tuple[str, ...]
    queues: tuple[str, ...]
    database_engine: str | None
    database_name: str | None
    migrations: bool
    config: Mapping[str, str]
    secrets: tuple[SecretRef, ...]
    ingress_host: str | None
    ingress_path: str
    ingress_public: bool
    ingress_port: str | None
    business_metrics: tuple[str, ...]
    overrides: Mapping[str, Override]
    source: SourceRef  # services/<name>.yaml:<line of metadata.name>
    lines: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}))  # dotted path -> line

    def line_of(self, dotted: str) -> SourceRef:
        """SourceRef for a key in the service file, falling back to the service name line."""
        return SourceRef(self.source.file, self.lines.get(dotted, self.source.line))

    def declared_deps(self, namespace: str) -> dict:
        """Dependencies as the connectivity check reads them, with the lines that declare them."""
        lines = {}
        for group, names in (("services", self.depends_on_services), ("datastores", self.datastores),
                             ("queues", self.queues)):
            for i, dep in enumerate(names):
                lines[dep] = self.line_of(f"spec.dependsOn.{group}[{i}]").line
        return {"namespace": namespace, "dependsOn": list(self.depends_on_services),
                "datastores": list(self.datastores), "queues": list(self.queues),
                "file": self.source.file, "line": self.line_of("spec.dependsOn").line, "lines": lines,
                "configLines": {k: self.line_of(f"spec.config.{k}").line for k in self.config}}

    @property
    def primary_port(self) -> Port:
        return self.ports[0]

    def port_named(self, name: str | None) -> Port:
        for p in self.ports:
            if p.name == name:
                return p
        return self.ports[0]


@dataclass(frozen=True)
class Environment:
    name: str
    description: str
    namespace: str
    domain: str
    replicas: int
    cpu: str
    memory: str
    autoscaling: str  # none | hpa | hpa+vpa
    max_replicas: int
    target_cpu: int
    monitoring: str  # basic | full | full+apm
    tracing_sample_rate: float
    image_policy: str  # tag | digest
    registries: tuple[str, ...]
    versions: Mapping[str, str]
    rollout: str  # rolling | canary
    canary_steps: tuple[int, ...]
    pause_seconds: int
    datastores: str  # in-cluster | managed
    admin_allow_list: tuple[str, ...]
    tls_issuer: str
    tls_email: str
    threshold: Severity
    require_trivy: bool
    allowed_service_types: tuple[str, ...]
    repo_url: str
    target_revision: str
    destination: str
    project: str
    auto_sync: bool
    prune: bool
    self_heal: bool
    addons: Mapping[str, Mapping[str, object]]  # name -> {enabled, version?, namespace?, values?}
    source: SourceRef
    lines: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}))
    # spec.argocd extras (docs/argocd.md); defaults match the loader's.
    argocd_namespace: str = "argocd"
    retry_limit: int = 5
    retry_duration: str = "5s"
    retry_factor: int = 2
    retry_max_duration: str = "3m"
    # Cloud identity and edge (docs/inputs.md): IAM role ARNs for IRSA by role name
    # (externalSecrets, certManager), the AWS region of the secrets and DNS APIs, the load
    # balancer CIDRs ingress-nginx trusts X-Forwarded-For from (empty: trust no proxy header),
    # and the real hostnames of managed datastores (what their TLS certificates name).
    aws_region: str = "us-east-1"
    aws_roles: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    load_balancer_cidrs: tuple[str, ...] = ()
    managed_endpoints: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))

    def line_of(self, dotted: str) -> SourceRef:
        return SourceRef(self.source.file, self.lines.get(dotted, self.source.line))

    def deploys(self, service: str) -> bool:
        """A service runs in this env when images.versions names it or has a `default`."""
        return bool(self.versions.get(service) or self.versions.get("default"))

    def version(self, service: str) -> str:
        return self.versions.get(service) or self.versions.get("default") or "0.0.0"

    def image_for(self, service: Service) -> str:
        return f"{service.image}:{self.version(service.name)}"  # version may carry @sha256:..., a valid reference

    def version_of(self, service: Service) -> str:
        """The version label: the tag part, never the digest."""
        return self.version(service.name).split("@", 1)[0]

    @property
    def secret_prefix(self) -> str:
        """Every AWS Secrets Manager name this env reads starts with it: one env never reads another's."""
        return f"ecommerce/{self.name}"

    def addon_images(self) -> dict[str, list[str]]:
        """Application name -> the image prefixes its add-on's pods may pull (generator/addons.yaml
        `images`). The policy trusts these instead of spec.images.registries for objects expanded
        from that Application's chart, so an add-on image moved elsewhere through values still fails."""
        from .addons import catalogue

        out = {}
        for name, entry in catalogue().items():
            conf = self.addons.get(name) or {}
            if conf.get("enabled", entry.enabled) and entry.images:
                out[f"{self.name}-{name}"] = list(entry.images)  # Application name: constructs/argocd.py
        return out

    def addon_host_paths(self) -> dict[str, list[dict]]:
        """Application name -> host paths its chart mounts by design, for every enabled add-on declaring any."""
        from .addons import catalogue

        out = {}
        for name, entry in catalogue().items():
            conf = self.addons.get(name) or {}
            if conf.get("enabled", entry.enabled) and entry.host_paths:
                out[f"{self.name}-{name}"] = [{"path": p, "readOnly": ro} for p, ro in entry.host_paths]
        return out

    def gate_data(self, services: Mapping[str, "Service"] | None = None) -> dict:
        """What the gates see as input.env; with `services`, their declared dependencies
        (the platform engine's connectivity check compares them with what is reachable)."""
        data = {
            "name": self.name,
            "allowedRegistries": list(self.registries),
            "requireDigest": self.image_policy == "digest",
            "allowedServiceTypes": list(self.allowed_service_types),
            "requiredLabels": ["app.kubernetes.io/name", "app.kubernetes.io/part-of", "app.kubernetes.io/managed-by"],
        }
        if services is not None:
            data["services"] = {name: s.declared_deps(self.namespace) for name, s in sorted(services.items())}
        images = self.addon_images()
        if images:
            data["addonImages"] = images
        host_paths = self.addon_host_paths()
        if host_paths:
            data["addonHostPaths"] = host_paths
        if self.aws_roles:
            data["aws"] = {"region": self.aws_region, "roles": dict(self.aws_roles), "secretPrefix": self.secret_prefix}
        return data


@dataclass(frozen=True)
class Platform:
    """Everything the inputs say: services by name and environments by name."""

    root: str
    services: Mapping[str, Service]
    environments: Mapping[str, Environment]
    # env name -> what stops that env from rendering (a missing digest, an undeployed dependency)
    env_problems: Mapping[str, tuple] = field(default_factory=lambda: MappingProxyType({}))

    def service_order(self) -> list[str]:
        return sorted(self.services)

    def environment(self, name: str) -> Environment:
        """The named environment, or an InputError that lists the ones that exist."""
        from ..errors import InputError

        if name not in self.environments:
            raise InputError(f"unknown environment '{name}'",
                             hint=f"use one of: {', '.join(self.environments)} (files in environments/)")
        return self.environments[name]

    def deployed(self, env_name: str) -> list[str]:
        """Services deployed to the env (named in its images.versions, or all when it has a `default`)."""
        env = self.environment(env_name)
        return [s for s in self.service_order() if env.deploys(s)]

    def not_deployed(self, env_name: str) -> list[str]:
        env = self.environment(env_name)
        return [s for s in self.service_order() if not env.deploys(s)]

    def for_env(self, env_name: str) -> "Platform":
        """This platform as env_name deploys it: only its services. InputError when it cannot render."""
        from ..errors import InputError

        self.environment(env_name)
        if self.env_problems.get(env_name):
            raise InputError(list(self.env_problems[env_name]))
        names = self.deployed(env_name)
        if len(names) == len(self.services):
            return self
        return Platform(self.root, MappingProxyType({n: self.services[n] for n in names}), self.environments)
