"""`drydock new service NAME`: write a commented services/NAME.yaml and deploy it to dev only.

The new file passes validation as written; the only other edit is one line added under
`spec.images.versions` of the dev environment file (a text edit: comments, order and quoting
stay as they were). Every refusal happens before anything is written, and if the project does
not load afterwards both edits are undone, so a failed scaffold leaves the repo as it was.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from .errors import InputError
from .model.types import DATASTORES, QUEUES

COMPONENTS = ("backend", "frontend", "admin")
FIRST_VERSION = "0.1.0"
# Rendered objects are named <service>-<suffix> and ArgoCD apps <env>-<service>; 40 characters
# keeps every derived name and label value inside Kubernetes' 63-character label limit.
NAME_RULE = re.compile(r"^[a-z]([-a-z0-9]{0,38}[a-z0-9])?$")
NAME_RULE_TEXT = ("1-40 characters: lowercase letters, digits and '-', starting with a letter and "
                  "ending with a letter or digit (e.g. payment-service)")
# Folders of rendered/<env>/ that are not services: a service of that name would collide.
RESERVED = frozenset(DATASTORES + QUEUES + ("platform", "argocd", "default"))


@dataclass(frozen=True)
class NewService:
    name: str
    service_file: Path
    env_file: Path
    env: str
    next_commands: tuple[str, ...]


def new_service(root: Path, name: str, *, component: str = "backend", port: int = 8080,
                depends_on: Sequence[str] = (), datastores: Sequence[str] = (), queues: Sequence[str] = (),
                team: str | None = None, env: str = "dev") -> NewService:
    """Scaffold services/<name>.yaml and add <name>: "0.1.0" to environments/<env>.yaml."""
    from .model import load_project
    from .promote import _decode, _encode, _write_atomic, edit_versions

    root = Path(root)
    _check_args(name, component, port, datastores, queues)
    platform = load_project(root)
    target = root / "services" / f"{name}.yaml"
    if name in platform.services or target.exists() or (root / "services" / f"{name}.yml").exists():
        where = platform.services[name].source.file if name in platform.services else f"services/{name}.yaml"
        raise InputError(f"service '{name}' already exists ({where})",
                         hint="pick another name, or edit the existing file")
    dev = platform.environment(env)
    if dev.image_policy == "digest":
        raise InputError(f"{env} pins images by digest; a new service starts in an env that runs tags",
                         file=dev.source.file, line=dev.lines.get("spec.images.policy"),
                         hint=f"scaffold into dev (the default), then `drydock promote --from dev --to {env} "
                              f"--service {name} --digest {name}=sha256:<digest>`")
    deployed = set(platform.deployed(env))
    for dep in depends_on:
        if dep == name:
            raise InputError("a service cannot depend on itself", hint="remove it from --depends-on")
        if dep not in platform.services:
            raise InputError(f"unknown dependency '{dep}'",
                             hint=f"use one of: {', '.join(platform.services)} (files in services/)")
        if dep not in deployed:
            raise InputError(f"dependency '{dep}' is not deployed to {env}",
                             hint=f"add '{dep}' to spec.images.versions in {dev.source.file} first")

    registry = dev.registries[0] if dev.registries else "registry.example.com/"
    text = service_yaml(name, component, port, list(depends_on), list(datastores), list(queues), team,
                        registry if registry.endswith("/") else registry + "/")
    env_file = root / dev.source.file
    original = env_file.read_bytes()
    new_env_text, _, _ = edit_versions(_decode(original, dev.source.file), dev.source.file, {name: FIRST_VERSION})

    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)  # never replace a file
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(text)
        _write_atomic(env_file, _encode(new_env_text, original))
        load_project(root).for_env(env)  # the promise: the scaffold validates and renders in dev
    except BaseException:
        _write_atomic(env_file, original)
        target.unlink(missing_ok=True)
        raise
    commands = [(f"$EDITOR services/{name}.yaml", "image, config, secrets, probes"),
                (f"drydock synth --env {env}", f"render + gate + write rendered/{env}/"),
                ("drydock diff", "review what changed against HEAD"),
                (f"drydock promote --from {env} --to staging --service {name} --digest {name}=sha256:<digest>",
                 "later: ship it to staging")]
    width = max(len(c) for c, _ in commands[:3])
    return NewService(name, target, env_file, env, tuple(
        f"{c:<{width}}  # {why}" if len(c) <= width else f"{c}  # {why}" for c, why in commands))


def _check_args(name: str, component: str, port: int, datastores: Sequence[str], queues: Sequence[str]) -> None:
    if not NAME_RULE.match(name):
        raise InputError(f"invalid service name '{name}'", hint=f"a service name is {NAME_RULE_TEXT}")
    if name in RESERVED:
        raise InputError(f"'{name}' is reserved (a datastore, queue or rendered/ folder)",
                         hint=f"pick another name, e.g. {name}-service")
    if component not in COMPONENTS:
        raise InputError(f"unknown component '{component}'", hint=f"use one of: {', '.join(COMPONENTS)}")
    if not 1024 <= port <= 65535:
        raise InputError(f"port {port} is outside 1024-65535",
                         hint="containers run as non-root, so they listen on an unprivileged port (e.g. 8080)")
    for value, allowed, flag in ((datastores, DATASTORES, "--datastore"), (queues, QUEUES, "--queue")):
        bad = [v for v in value if v not in allowed]
        if bad:
            raise InputError(f"unknown {flag} value(s): {', '.join(bad)}", hint=f"use one of: {', '.join(allowed)}")


def service_yaml(name: str, component: str, port: int, depends_on: list[str], datastores: list[str],
                 queues: list[str], team: str | None, registry: str) -> str:
    """The commented service file. Every line written here is validated by the loader's schema."""
    out = [
        f"# {name}: scaffolded by `drydock new service`. Reference: docs/inputs.md",
        "apiVersion: drydock/v1",
        "kind: Service",
        "metadata:",
        f"  name: {name}",
    ]
    out.append(f"  team: {team}" if team else "  # team: my-team            # owning team; routes its alerts")
    out += [
        f"  description: {component} service {name} (describe what it does)",
        "spec:",
        f"  component: {component}",
        "  # Repository only: the tag or digest comes from each environment's images.versions.",
        f"  image: {registry}{name}",
        "  ports:",
        "    - name: http",
        f"      port: {port}",
        "  metrics:",
        "    port: http               # Prometheus scrapes /metrics on this port",
        "  probes:",
        "    liveness:",
        "      path: /healthz",
        "    readiness:",
        "      path: /ready",
    ]
    if depends_on or datastores or queues:
        out.append("  # Who this service calls: NetworkPolicies admit it, ArgoCD syncs them first.")
        out.append("  dependsOn:")
        if depends_on:
            out.append(f"    services: [{', '.join(depends_on)}]")
        if datastores:
            out.append(f"    datastores: [{', '.join(datastores)}]")
        if queues:
            out.append(f"    queues: [{', '.join(queues)}]")
    else:
        out += ["  # dependsOn:", "  #   services: [api-gateway]", "  #   datastores: [postgresql]"]
    owned = [d for d in datastores if d in ("postgresql", "mongodb")]
    if owned:
        out += ["  # Owns a database? Uncomment to create it and run migrations before each rollout:",
                "  # database:", f"  #   engine: {owned[0]}", f"  #   name: {name.replace('-', '_')}",
                "  #   migrations: true"]
    out += [
        "  config:                    # plain settings -> ConfigMap (never credentials)",
        "    LOG_FORMAT: json",
        "  # Credentials come from AWS Secrets Manager through an ExternalSecret:",
        "  # secrets:",
        "  #   - env: API_KEY",
        f"  #     key: ecommerce/{name}/api",
        "  #     property: api-key",
    ]
    if component == "frontend":
        out += ["  ingress:                   # served at https://<host>.<env domain>/",
                f"    host: {name}", "    path: /"]
    elif component == "admin":
        out += ["  ingress:                   # reachable only from the env's adminAllowList",
                f"    host: {name}", "    path: /", "    public: false"]
    else:
        out += ["  # ingress:                 # expose it at https://<host>.<env domain>/", f"  #   host: {name}"]
    out += ["  # Per-environment tweaks:", "  # overrides:", "  #   prod:", "  #     maxReplicas: 10"]
    return "\n".join(out) + "\n"
