"""Load services/ and environments/: parse, schema-check, cross-check, freeze.

All problems across all files are collected and raised together, so a user
fixes everything in one round instead of one error per run.
"""
from __future__ import annotations

import re
from pathlib import Path
from types import MappingProxyType
from typing import Any

from ..errors import InputError, Problem
from ..core import Severity, SourceRef
from .types import DATASTORES, QUEUES, Environment, Override, Platform, Port, Probe, SecretRef, Service
from .inputschema import input_problems
from .versions import upgrade
from .yamlload import format_path, load_document, read_text

DNS1123 = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")



def _addon_defaults() -> dict[str, bool]:
    """Add-on name -> on by default, from the catalogue (generator/addons.yaml)."""
    from .addons import catalogue

    return {name: entry.enabled for name, entry in catalogue().items()}


def _display(path: Path, root: Path) -> str:
    try:
        return str(path.resolve().relative_to(root.resolve()))
    except ValueError:
        return str(path)


def _read(path: Path, root: Path, kind: str, raw: dict | None = None) -> tuple[dict | None, dict, str, list[Problem]]:
    """Parse and schema-check one file. `raw`, when given, receives the parsed data even if invalid."""
    display = _display(path, root)
    try:
        text = read_text(path, display, root=root)
        data, lines = load_document(text, display)
    except InputError as exc:
        return None, {}, display, exc.problems
    data, problems = upgrade(data, lines, display)  # an older apiVersion in today's form, or unknown: exit 2
    if problems:
        return None, lines, display, problems
    if raw is not None:
        raw.update(data=data, lines=lines)
    problems = input_problems(data, lines, kind, display)
    if not problems and kind == "environment":
        problems += _check_addons(data, lines, display)
    if not problems and isinstance(data, dict):
        stem = path.stem
        if data["metadata"]["name"] != stem:
            line, col = lines[("metadata", "name")]
            problems.append(Problem(f"name '{data['metadata']['name']}' does not match the file name '{path.name}'",
                                    display, line, col, "metadata.name",
                                    f"rename the file to {data['metadata']['name']}{path.suffix} or change the name"))
    return (None if problems else data), lines, display, problems


def _check_addons(data: dict, lines: dict, display: str) -> list[Problem]:
    out = []
    known = _addon_defaults()
    for name in data["spec"].get("addons", {}):
        if name not in known:
            line, col = lines.get(("spec", "addons", name), (None, None))
            out.append(Problem(f"unknown add-on '{name}'", display, line, col, f"spec.addons.{name}",
                               f"use one of: {', '.join(sorted(known))} (docs/argocd.md)"))
    return out


def _dotted_lines(lines: dict) -> MappingProxyType:
    return MappingProxyType({format_path(k): v[0] for k, v in lines.items() if k and not str(k[0]).startswith("#")})


def _build_service(d: dict, lines: dict, display: str) -> Service:
    s = d["spec"]
    ports = tuple(Port(p["name"], p["port"], p.get("protocol", "TCP")) for p in s["ports"])
    probes = s.get("probes", {})
    default_probe = {"path": "/healthz"}

    def probe(p: dict | None) -> Probe | None:
        return None if p is None else Probe(p["path"], p.get("port", ports[0].name))

    dep = s.get("dependsOn", {})
    db = s.get("database")
    ing = s.get("ingress")
    overrides = {
        env: Override(o.get("replicas"), o.get("maxReplicas"), o.get("resources", {}).get("cpu"),
                      o.get("resources", {}).get("memory"),
                      MappingProxyType({k: _str(v) for k, v in sorted(o.get("config", {}).items())}))
        for env, o in sorted(s.get("overrides", {}).items())
    }
    return Service(
        name=d["metadata"]["name"], team=d["metadata"].get("team", "platform"),
        description=d["metadata"].get("description", ""), component=s["component"], image=s["image"], ports=ports,
        metrics_port=s.get("metrics", {}).get("port"), metrics_path=s.get("metrics", {}).get("path", "/metrics"),
        liveness=probe(probes.get("liveness", default_probe)), readiness=probe(probes.get("readiness", default_probe)),
        startup=probe(probes.get("startup")),
        depends_on_services=tuple(dep.get("services", ())), datastores=tuple(dep.get("datastores", ())),
        queues=tuple(dep.get("queues", ())),
        database_engine=db["engine"] if db else None, database_name=db["name"] if db else None,
        migrations=bool(db and db.get("migrations", False)),
        config=MappingProxyType({k: _str(v) for k, v in sorted(s.get("config", {}).items())}),
        secrets=tuple(SecretRef(x["env"], x["key"], x.get("property")) for x in s.get("secrets", ())),
        ingress_host=ing["host"] if ing else None, ingress_path=ing.get("path", "/") if ing else "/",
        ingress_public=ing.get("public", True) if ing else False, ingress_port=ing.get("port") if ing else None,
        business_metrics=tuple(s.get("businessMetrics", ())), overrides=MappingProxyType(overrides),
        source=SourceRef(display, lines[("metadata", "name")][0]), lines=_dotted_lines(lines),
    )


def _str(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def _build_environment(d: dict, lines: dict, display: str) -> Environment:
    s = d["spec"]
    a = s["autoscaling"]
    argo = s.get("argocd", {})
    retry = argo.get("retry", {})
    backoff = retry.get("backoff", {})
    rollout = s["rollout"]
    addons = {name: MappingProxyType({"enabled": enabled}) for name, enabled in _addon_defaults().items()}
    for name, conf in s.get("addons", {}).items():
        addons[name] = MappingProxyType({**addons.get(name, {"enabled": True}), **conf})
    return Environment(
        name=d["metadata"]["name"], description=d["metadata"].get("description", ""), namespace=s["namespace"],
        domain=s["domain"], replicas=s["replicas"], cpu=s["resources"]["cpu"], memory=s["resources"]["memory"],
        autoscaling=a["mode"], max_replicas=a.get("maxReplicas", max(s["replicas"] * 3, 3)),
        target_cpu=a.get("targetCPUUtilization", 70), monitoring=s["monitoring"],
        tracing_sample_rate=float(s.get("tracingSampleRate", 0.1)),
        image_policy=s["images"]["policy"], registries=tuple(_registry_prefix(r) for r in s["images"]["registries"]),
        versions=MappingProxyType(dict(sorted(s["images"]["versions"].items()))),
        rollout=rollout["strategy"], canary_steps=tuple(rollout.get("canarySteps", (10, 50, 100))),
        pause_seconds=rollout.get("pauseSeconds", 300), datastores=s.get("datastores", "in-cluster"),
        admin_allow_list=tuple(s.get("adminAllowList", ("10.0.0.0/8",))),
        tls_issuer=s.get("tls", {}).get("issuer", "letsencrypt-staging"),
        tls_email=s.get("tls", {}).get("email", "platform@example.com"),
        threshold=Severity.parse(s["gate"]["threshold"]), require_trivy=s["gate"].get("requireTrivy", False),
        allowed_service_types=tuple(s["gate"].get("allowedServiceTypes", ("ClusterIP", "ExternalName"))),
        repo_url=argo.get("repoURL", "https://github.com/example/ecommerce-platform.git"),
        target_revision=argo.get("targetRevision", "main"),
        destination=argo.get("destination", "https://kubernetes.default.svc"),
        project=argo.get("project", f"ecommerce-{d['metadata']['name']}"),
        auto_sync=argo.get("autoSync", True), prune=argo.get("prune", True), self_heal=argo.get("selfHeal", True),
        addons=MappingProxyType(dict(sorted(addons.items()))),
        source=SourceRef(display, lines[("metadata", "name")][0]), lines=_dotted_lines(lines),
        argocd_namespace=argo.get("namespace", "argocd"),
        retry_limit=retry.get("limit", 5), retry_duration=backoff.get("duration", "5s"),
        retry_factor=backoff.get("factor", 2), retry_max_duration=backoff.get("maxDuration", "3m"),
        aws_region=s.get("aws", {}).get("region", "us-east-1"),
        aws_roles=MappingProxyType(dict(sorted(s.get("aws", {}).get("roles", {}).items()))),
        load_balancer_cidrs=tuple(s.get("ingress", {}).get("loadBalancerCIDRs", ())),
        managed_endpoints=MappingProxyType(dict(sorted(s.get("managedEndpoints", {}).items()))),
    )


def _registry_prefix(registry: str) -> str:
    """A registry (or registry/path) trusts what is under it: `registry.example.com` must not
    also trust `registry.example.com.evil.io/x` or `registry.example.com-mirror/x`."""
    return registry if registry.endswith("/") else registry + "/"


def _input_files(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.suffix in (".yaml", ".yml") and not p.name.startswith("."))


def load_project(root: Path) -> Platform:
    """Load and cross-check every input under root; raise InputError with all problems."""
    root = Path(root)
    problems: list[Problem] = []
    services: dict[str, Service] = {}
    environments: dict[str, Environment] = {}
    svc_files, env_files = _input_files(root / "services"), _input_files(root / "environments")
    if not env_files:
        raise InputError(f"no environment files in {root / 'environments'}", hint="create environments/<name>.yaml (see docs/inputs.md)")
    if not svc_files:
        raise InputError(f"no service files in {root / 'services'}", hint="create services/<name>.yaml (see docs/inputs.md)")
    raw_services: dict[str, tuple[dict, dict, str]] = {}
    broken: set[str] = set()  # files that failed to load still name a service: avoid follow-on errors
    half_read: list[tuple[dict, dict, str]] = []  # schema-invalid files: still check their dependencies
    for path in svc_files:
        raw: dict = {}
        data, lines, display, errs = _read(path, root, "service", raw)
        problems += errs
        if data is None:
            broken.add(path.stem)
            if raw:
                half_read.append((raw["data"], raw["lines"], display))
            continue
        name = data["metadata"]["name"]
        if name in raw_services:
            problems.append(Problem(f"duplicate service name '{name}' (also in {raw_services[name][2]})", display,
                                    lines[("metadata", "name")][0], field="metadata.name", hint="give each service a unique name"))
            continue
        raw_services[name] = (data, lines, display)
    for path in env_files:
        data, lines, display, errs = _read(path, root, "environment")
        problems += errs
        if data is not None:
            environments[data["metadata"]["name"]] = _build_environment(data, lines, display)
    for name, (data, lines, display) in raw_services.items():
        problems += _check_service(data, lines, display, set(raw_services) | broken, set(environments) if environments else None)
        services[name] = _build_service(data, lines, display)
    known = set(raw_services) | broken
    for data, lines, display in half_read:
        problems += _check_dependencies(data, lines, display, known)
    for env in environments.values():
        for svc in env.versions:
            if svc != "default" and svc not in raw_services and svc not in broken and svc not in DATASTORES + QUEUES:
                line = env.lines.get(f"spec.images.versions.{svc}")
                problems.append(Problem(f"image version for unknown service '{svc}'", env.source.file, line,
                                        field=f"spec.images.versions.{svc}", hint="remove it or add services/" + svc + ".yaml"))
    if not problems:
        problems += _check_cycles(raw_services)  # only meaningful once every dependency resolves
    if problems:
        raise InputError(problems)
    # What an env needs is checked per env: a missing prod digest stops a prod render, not dev's.
    env_problems = {name: tuple(_env_problems(env, raw_services)) for name, env in sorted(environments.items())}
    return Platform(str(root), MappingProxyType(dict(sorted(services.items()))),
                    MappingProxyType(dict(sorted(environments.items()))),
                    MappingProxyType({k: v for k, v in env_problems.items() if v}))


def _env_problems(env: Environment, raw_services: dict[str, tuple[dict, dict, str]]) -> list[Problem]:
    """What rendering `env` needs: digests under a digest policy, and every dependency deployed there."""
    problems: list[Problem] = []
    deployed = [s for s in sorted(raw_services) if env.deploys(s)]
    versions_line = env.lines.get("spec.images.versions", env.source.line)
    for svc in deployed:
        line = env.lines.get(f"spec.images.versions.{svc}", versions_line)
        if env.image_policy == "digest" and "@sha256:" not in env.version(svc):
            problems.append(Problem(f"'{svc}' is not pinned by digest but images.policy is digest",
                                    env.source.file, line, field=f"spec.images.versions.{svc}",
                                    hint="set it to <tag>@sha256:<digest> (drydock promote copies it from the previous "
                                         "env; `--digest SVC=sha256:...` supplies one)"))
        data, lines, display = raw_services[svc]
        for i, dep in enumerate(data["spec"].get("dependsOn", {}).get("services", [])):
            if dep in raw_services and not env.deploys(dep):
                problems.append(Problem(
                    f"'{svc}' is deployed to {env.name} and depends on '{dep}' "
                    f"[{display}:{lines[('spec', 'dependsOn', 'services', i)][0]}], which {env.name} does not deploy",
                    env.source.file, line, field=f"spec.images.versions.{svc}",
                    hint=f"add '{dep}' to spec.images.versions in {env.source.file}, or remove '{svc}' from it"))
    if env.image_policy == "digest" and env.datastores == "in-cluster":
        # In-cluster datastores run mirrored upstream images; under a digest policy they
        # must be pinned too (spec.images.versions.<datastore>: <tag>@sha256:<digest>).
        used = sorted({n for s in deployed for n in raw_services[s][0]["spec"].get("dependsOn", {}).get("datastores", [])
                       + raw_services[s][0]["spec"].get("dependsOn", {}).get("queues", [])})
        for ds in used:
            if "@sha256:" not in (env.versions.get(ds) or ""):
                problems.append(Problem(f"in-cluster datastore '{ds}' is not pinned by digest but images.policy is digest",
                                        env.source.file, env.lines.get(f"spec.images.versions.{ds}", versions_line),
                                        field=f"spec.images.versions.{ds}",
                                        hint=f"set spec.images.versions.{ds} to <tag>@sha256:<digest> of the mirrored image, "
                                             "or use spec.datastores: managed"))
    return problems


def _check_dependencies(data: Any, lines: dict, display: str, known: set[str]) -> list[Problem]:
    """Each dependsOn.services entry must name another service. Tolerates otherwise invalid files."""
    out: list[Problem] = []
    try:
        name = data["metadata"]["name"]
        deps = data["spec"]["dependsOn"]["services"]
    except (KeyError, TypeError):
        return out
    if not isinstance(deps, list):
        return out
    for i, dep in enumerate(deps):
        if not isinstance(dep, str):
            continue
        path = ("spec", "dependsOn", "services", i)
        line, col = lines.get(path, (None, None))
        if dep == name:
            out.append(Problem("service depends on itself", display, line, col, format_path(path), "remove the entry"))
        elif dep not in known:
            others = sorted(known - {name})
            out.append(Problem(f"unknown dependency '{dep}'", display, line, col, format_path(path),
                               f"use one of: {', '.join(others)}, or add services/{dep}.yaml"))
    return out


def _check_service(data: dict, lines: dict, display: str, known: set[str], envs: set[str] | None) -> list[Problem]:
    spec = data["spec"]
    out = _check_dependencies(data, lines, display, known)
    seen_names, seen_ports = {}, {}
    for i, port in enumerate(spec["ports"]):
        for key, seen in (("name", seen_names), ("port", seen_ports)):
            val = port[key]
            if val in seen:
                line, col = lines[("spec", "ports", i, key)]
                out.append(Problem(f"port {key} {val!r} is used twice (also ports[{seen[val]}])", display, line, col,
                                   f"spec.ports[{i}].{key}", "give every port a unique name and number"))
            seen[val] = i
    port_names = set(seen_names)
    refs = [(("spec", "metrics", "port"), spec.get("metrics", {}).get("port")),
            (("spec", "ingress", "port"), spec.get("ingress", {}).get("port"))]
    refs += [(("spec", "probes", k, "port"), v.get("port")) for k, v in spec.get("probes", {}).items()]
    for path, ref in refs:
        if ref is not None and ref not in port_names:
            line, col = lines[path]
            out.append(Problem(f"port '{ref}' is not declared in spec.ports", display, line, col, format_path(path),
                               f"use one of: {', '.join(sorted(port_names))}"))
    db = spec.get("database")
    if db and db["engine"] not in spec.get("dependsOn", {}).get("datastores", []):
        line, col = lines[("spec", "database", "engine")]
        out.append(Problem(f"owns a {db['engine']} database but does not list it in dependsOn.datastores", display,
                           line, col, "spec.database.engine", f"add {db['engine']} to spec.dependsOn.datastores"))
    if envs is not None:
        for env in spec.get("overrides", {}):
            if env not in envs:
                line, col = lines[("spec", "overrides", env)]
                out.append(Problem(f"override for unknown environment '{env}'", display, line, col,
                                   f"spec.overrides.{env}", f"use one of: {', '.join(sorted(envs))}"))
    return out


def _check_cycles(raw: dict[str, tuple[dict, dict, str]]) -> list[Problem]:
    graph = {n: d["spec"].get("dependsOn", {}).get("services", []) for n, (d, _, _) in raw.items()}
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(n: str) -> list[str] | None:
        state[n] = 1
        stack.append(n)
        for m in graph.get(n, []):
            if state.get(m) == 1:
                return stack[stack.index(m):] + [m]
            if m not in state:
                found = visit(m)
                if found:
                    return found
        state[n] = 2
        stack.pop()
        return None

    for n in sorted(graph):
        if n not in state:
            cycle = visit(n)
            if cycle:
                data, lines, display = raw[cycle[0]]
                idx = graph[cycle[0]].index(cycle[1])
                line, col = lines[("spec", "dependsOn", "services", idx)]
                return [Problem(f"dependency cycle: {' -> '.join(cycle)}", display, line, col,
                                f"spec.dependsOn.services[{idx}]", "break the cycle: one of these services must not call the other back")]
    return []
