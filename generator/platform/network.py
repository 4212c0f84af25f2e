"""Connectivity simulation: would each workload reach the peers it is configured for?

`check(docs, env_data, env)` (or `check(system, ctx)` from the platform engine) takes one
environment's documents (our render plus objects expanded from Helm charts) and returns
`(findings, {"reachability": {env: matrix}})`:

1. every in-cluster endpoint a workload is given (endpoints.py) resolves to a Service in
   the namespace it names, exposing that port, backed by pods (or ExternalName/Endpoints);
2. the client's egress and the server's ingress NetworkPolicies allow it (netpol.py);
3. pods with egress isolation that name anything by DNS may reach kube-dns on port 53;
4. with `env_data["services"]` (declared dependencies from services/), every declared
   dependency is reachable and no undeclared path between the platform's components is open;
5. the reachability matrix: workload x Service-backed workload -> allowed ports or why blocked.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, replace

from ..core import Document, Finding, Resource, Severity, SourceRef
from ..yamlio import field_line
from .endpoints import Endpoint, classify, parse_value, pod_spec, workload_endpoints
from .netpol import D, External, L, Pod
from .topology import Topology, meta, proto, target_port

ENGINE = "platform"
# id -> (title, severity, fix, description); `drydock rules` / `explain` list them.
RULES = {
    "DD-NET-001": ("Endpoint resolves to no Service", Severity.HIGH,
                   "point the endpoint at an existing Service (name.namespace.svc:port) or add the Service",
                   "A workload is configured with an in-cluster name that no Service of the render (or of an "
                   "expanded chart) answers to: every connection fails with a DNS error."),
    "DD-NET-002": ("Endpoint names the wrong namespace", Severity.HIGH,
                   "use the namespace the Service runs in (and the same namespace in NetworkPolicy selectors)",
                   "The Service exists, but in another namespace than the endpoint names (or a short name is "
                   "used from another namespace): the name does not resolve."),
    "DD-NET-003": ("Endpoint port not exposed by the Service", Severity.HIGH,
                   "use a port the Service exposes, or add the port to the Service (and the pod)",
                   "The endpoint's port (written, or the scheme's default) is not a port of the Service."),
    "DD-NET-004": ("Service has no backends", Severity.HIGH,
                   "make the Service selector match the pods' labels (or add Endpoints for a selector-less Service)",
                   "The Service a workload uses selects no pod of the render and has no Endpoints."),
    "DD-NET-005": ("Service targetPort not exposed by its pods", Severity.HIGH,
                   "set targetPort to a containerPort (number or name) of the selected pods",
                   "A named targetPort matches no container port of the selected pods: no endpoint is ready."),
    "DD-NET-006": ("Connection blocked by NetworkPolicy", Severity.HIGH,
                   "allow the client's egress to the server pods and the server's ingress from the client on that port",
                   "The client's egress or the server's ingress NetworkPolicies do not allow a connection the "
                   "client is configured to make."),
    "DD-NET-007": ("Declared dependency unreachable", Severity.HIGH,
                   "render a Service for the dependency and let NetworkPolicies allow client egress and server ingress",
                   "A dependency declared in services/ (dependsOn) has no Service, or no port of it is allowed."),
    "DD-NET-008": ("DNS egress not allowed", Severity.HIGH,
                   "allow egress to kube-dns (namespaceSelector kubernetes.io/metadata.name: kube-system, "
                   "podSelector k8s-app: kube-dns) on port 53 UDP and TCP",
                   "A pod with egress isolation names its peers by DNS but may not reach kube-dns on 53/UDP "
                   "(every lookup fails) or 53/TCP (large answers fail)."),
    "DD-NET-010": ("Ingress backend unreachable from the ingress controller", Severity.HIGH,
                   "allow ingress to the backend pods from the controller's namespace and pods on the target port "
                   "(and the controller's egress to them)",
                   "The NetworkPolicies of an Ingress backend (or of the controller) block the ingress controller "
                   "serving that IngressClass: the route answers 502/504."),
    "DD-NET-009": ("Undeclared path open between platform components", Severity.MEDIUM,
                   "declare the dependency in services/<name>.yaml spec.dependsOn, or narrow the server's "
                   "ingress / the client's egress NetworkPolicy so the path is closed",
                   "Two components of the platform can connect although services/ declares no such dependency."),
}
_JOBS = ("Job", "CronJob")


def _register_rules() -> None:
    """Declare the rules to the platform engine's registry when it exists (drydock rules/explain)."""
    try:
        from . import rules as registry
    except ImportError:
        return
    for rid, (title, sev, fix, desc) in RULES.items():
        registry.rule(rid, sev.name, title, fix, desc, __name__)


_register_rules()


@dataclass
class Target:
    """Where one endpoint lands: [(Pod | External, pod port, protocol)]."""

    service: Document
    dests: list


def _finding(rule: str, message: str, doc: Document, path: tuple = (), resource: Resource | None = None) -> Finding:
    title, severity, fix, _ = RULES[rule]
    line = (field_line(doc, path) if path else None) or doc.line
    return Finding(rule, title, severity, message, ENGINE, resource or doc.resource, doc.file, line, doc.source, fix=fix)


def _who(p: Pod) -> str:
    app = p.doc.app if p.doc is not None else None
    return f"{p.id} (Application {app})" if app else p.id


def _where(ep: Endpoint) -> str:
    return f"{ep.key} {ep.text!r}" if ep.key in ("command", "args") else f"{ep.key}={ep.text!r}"


def _on_client(rule: str, client: Pod, ep: Endpoint, what: str) -> Finding:
    return _finding(rule, f"{_who(client)} is configured ({_where(ep)}) to reach {what}", ep.doc, ep.path,
                    client.doc.resource)


def resolve(t: Topology, ep: Endpoint, client: Pod, depth: int = 0) -> tuple[Target | None, Finding | None]:
    """The Service and destination pods/addresses of an endpoint, or the finding why there are none."""
    name = f"{ep.service}.{ep.namespace}"
    svc = t.services.get((ep.namespace, ep.service))
    if svc is None:
        return _unresolved(t, ep, client, name)
    spec = svc.obj.get("spec") if isinstance(svc.obj.get("spec"), dict) else {}
    ports = [p for p in L(spec.get("ports")) if isinstance(p, dict)]
    problem = _pod_records(t, ep, client, svc, spec)
    if problem is not None:
        return None, problem
    if spec.get("type") == "ExternalName":  # DNS answers a CNAME; the client connects to that host itself
        port = ep.port or (ports[0].get("port") if len(ports) == 1 else None)
        alias = classify(str(spec.get("externalName") or ""), ep.namespace, t.names, False)
        if alias and depth < 3:  # a CNAME to another in-cluster Service: resolve that one (bounded: no loops)
            target, problem = resolve(t, replace(ep, service=alias[0], namespace=alias[1], port=port), client,
                                      depth + 1)
            if problem is not None and problem.rule_id in ("DD-NET-001", "DD-NET-002"):
                return None, _finding(problem.rule_id, f"Service {svc.resource.display()} is an ExternalName alias "
                                      f"of {spec.get('externalName')}, which resolves nowhere: {problem.message}",
                                      svc, ("spec", "externalName"))
            return target, problem
        dest = External(str(spec.get("externalName") or ""))
        return Target(svc, [(dest, port, proto(ports[0]) if ports else "TCP")] if isinstance(port, int) else []), None
    headless = spec.get("clusterIP") == "None"
    chosen = ports if ep.port is None else [p for p in ports if p.get("port") == ep.port]
    if not chosen and not headless:
        exposed = ", ".join(str(p.get("port")) for p in ports) or "none"
        return None, _on_client("DD-NET-003", client, ep, f"{name} on port {ep.port}, but Service {ep.service} "
                                f"exposes only: {exposed}")
    if not spec.get("selector"):
        dests = t.endpoint_dests(ep.namespace, ep.service)
        if not dests:
            return None, _finding("DD-NET-004", f"{_who(client)} reaches {name} ({_where(ep)}), but Service "
                                  f"{ep.service} has no selector and no Endpoints/EndpointSlice", svc, ("spec",))
        wanted = {sp.get("targetPort", sp.get("port")) for sp in chosen} | {ep.port}
        return Target(svc, [d for d in dests if d[1] in wanted] or dests), None
    pods = t.pods_for(ep.namespace, spec["selector"])
    managed = None if pods else t.operator_pods(ep.namespace, spec["selector"], ep.service)
    if managed is not None:  # a number targetPort is the pod's port; a name is unknowable: take the Service port
        return Target(svc, [(managed, sp.get("targetPort") if isinstance(sp.get("targetPort"), int) else sp.get("port"),
                             proto(sp)) for sp in chosen]), None
    if not pods:
        return None, _finding("DD-NET-004", f"{_who(client)} reaches {name} ({_where(ep)}), but Service "
                              f"{ep.service}'s selector {spec['selector']} matches no pod in namespace "
                              f"{ep.namespace}", svc, ("spec", "selector"))
    if headless and ep.port is not None:  # the name resolves to pod IPs: the client's port is the pod port
        if not chosen and not any(n == ep.port for p in pods for _, n, _ in p.ports):
            return None, _on_client("DD-NET-003", client, ep, f"headless Service {name} on port {ep.port}, but "
                                    "neither the Service nor its pods list that port")
        return Target(svc, [(p, ep.port, proto(chosen[0]) if chosen else "TCP") for p in pods]), None
    dests = []
    for sp in chosen:
        found = [(p, n, proto(sp)) for p in pods if (n := target_port(sp, p)) is not None]
        if not found:
            target = sp.get("targetPort", sp.get("port"))
            return None, _finding("DD-NET-005", f"Service {svc.resource.display()} port {sp.get('port')} targets "
                                  f"{target!r}, which no selected pod exposes (used by {_who(client)} via "
                                  f"{_where(ep)})", svc, ("spec", "ports", ports.index(sp), "targetPort"))
        dests += found
    return Target(svc, dests), None


def _pod_records(t: Topology, ep: Endpoint, client: Pod, svc: Document, spec: dict) -> Finding | None:
    """`pod.svc[.ns[.svc...]]` names one pod: Kubernetes publishes such a record only for a headless Service
    that a StatefulSet names as its serviceName, and only for its pods `<statefulset>-0..replicas-1`."""
    host = re.compile(rf"(?<![a-z0-9.-])([a-z0-9](?:[a-z0-9-]*[a-z0-9])?)\.{re.escape(ep.service)}"
                      rf"(?:\.{re.escape(ep.namespace)}(?:\.svc(?:\.[a-z0-9-]+)*)?)?\.?(?=[:/,;\s?]|$)", re.IGNORECASE)
    named = sorted({m.group(1).lower() for m in host.finditer(ep.text)} - {ep.namespace})
    if not named:
        return None
    where = f"{named[0]}.{ep.service}.{ep.namespace}"
    if spec.get("clusterIP") != "None":
        return _on_client("DD-NET-001", client, ep, f"pod {where}, but Service {ep.service} is not headless: "
                          "Kubernetes publishes per-pod DNS records only for headless Services (clusterIP: None)")
    sets = [p for p in t.pods if p.kind == "StatefulSet" and p.namespace == ep.namespace and p.doc is not None
            and D(p.doc.obj.get("spec")).get("serviceName") == ep.service]
    if not sets:
        return _on_client("DD-NET-001", client, ep, f"pod {where}, but no StatefulSet names Service {ep.service} "
                          "as its serviceName, so no pod gets that DNS record")
    pods = {f"{p.name}-{i}" for p in sets for i in range(_replicas(p))}
    missing = [n for n in named if n not in pods]
    if missing:
        return _on_client("DD-NET-001", client, ep, f"pod {missing[0]}.{ep.service}.{ep.namespace}, but the "
                          f"StatefulSet(s) behind it run only {', '.join(sorted(pods))}")
    return None


def _replicas(p: Pod) -> int:
    value = D(p.doc.obj.get("spec")).get("replicas", 1) if p.doc is not None else 1
    return value if isinstance(value, int) and value >= 0 else 1


def _unresolved(t: Topology, ep: Endpoint, client: Pod, name: str):
    for app, release, chart, dest_ns, app_doc in t.helm_apps:  # a chart not expanded here may provide it
        if ep.service == release or ep.service.startswith(release + "-"):
            if dest_ns == ep.namespace:  # its pods are unknown: only the client's egress can be judged
                unknown = Pod(dest_ns, "HelmRelease", release, None, [])
                return Target(app_doc, [(unknown, ep.port, "TCP")] if ep.port else []), None
            return None, _on_client("DD-NET-002", client, ep, f"{name}, but Application {app} installs chart "
                                    f"{chart} (release {release}) into namespace {dest_ns}, not {ep.namespace}")
    elsewhere = t.service_ns(ep.service)
    if elsewhere:
        return None, _on_client("DD-NET-002", client, ep, f"Service {ep.service} in namespace {ep.namespace}, "
                                f"but it exists only in {', '.join(elsewhere)}")
    return None, _on_client("DD-NET-001", client, ep, f"{name}, but no Service {ep.service} exists in any "
                            "namespace of the render")


def check(docs_or_system, env_data_or_ctx=None, env: str | None = None) -> tuple[list[Finding], dict]:
    """Findings for one environment and {"reachability": {env: matrix}} (see the module doc).

    Takes (docs, env_data, env) or, from the platform engine, (system, ctx): the System's
    objects carry their effective namespace (a chart object without metadata.namespace
    lands in its Application's destination namespace).
    """
    if hasattr(docs_or_system, "objects"):
        system, ctx = docs_or_system, env_data_or_ctx
        effective = {id(o.doc): o.namespace for o in system.objects if o.namespace}
        docs = [o.doc for o in system.objects]
        env_data, env = dict(getattr(ctx, "env_data", None) or {}), getattr(ctx, "env", None) or system.env
        t = Topology(docs, env_data, lambda d: effective.get(id(d)) or str(meta(d.obj).get("namespace") or "default"))
    else:
        docs, env_data = list(docs_or_system), dict(env_data_or_ctx or {})
        t = Topology(docs, env_data)
    findings, reached = _endpoints(t)
    findings += _analysis_endpoints(t, docs)
    findings += _ingress_backends(t)
    declared = env_data.get("services")
    if isinstance(declared, dict) and declared:
        findings = [_config_source(f, declared) for f in findings]
        findings += _declared(t, declared, reached)
    findings = _one_per_defect(findings)
    return sorted(findings, key=Finding.sort_key), {"reachability": {env or "": matrix(t)}}


def _one_per_defect(findings: list[Finding]) -> list[Finding]:
    """A Service defect (DD-NET-004/005) met by several clients is one finding; others dedupe exactly."""
    groups: dict[tuple, list[Finding]] = {}
    for f in findings:
        key = (f.rule_id, f.file, f.line) if f.rule_id in ("DD-NET-004", "DD-NET-005") else \
            (f.rule_id, f.file, f.line, f.message)
        groups.setdefault(key, []).append(f)
    out = []
    for group in groups.values():
        more = len({g.message for g in group}) - 1
        out.append(replace(group[0], message=group[0].message + f" (and {more} more client endpoint(s))")
                   if more else group[0])
    return out


def _endpoints(t: Topology) -> tuple[list[Finding], set]:
    findings: list[Finding] = []
    reached: set[tuple[str, str]] = set()  # (client pod id, Service name) already judged through an endpoint
    for client in t.pods:
        eps = workload_endpoints(client.doc, t.configmaps, t.names, client.namespace)
        for ep in eps:
            if not ep.namespace:  # an external host: no Service to resolve, only the client's egress
                blocked = t.connection(client, External(ep.service), ep.port) if ep.port else None
                if blocked:
                    findings.append(_on_client("DD-NET-006", client, ep, f"{ep.service}:{ep.port}, but {blocked}"))
                continue
            target, problem = resolve(t, ep, client)
            if problem:
                findings.append(problem)
                continue
            reached.add((client.id, ep.service))
            blocks = [t.connection(client, dest, port, pr) for dest, port, pr in target.dests]
            if blocks and all(blocks):
                findings.append(_on_client("DD-NET-006", client, ep, f"{ep.service}.{ep.namespace}, but {blocks[0]}"))
        if eps:
            findings += _dns(t, client)
    return findings, reached


# Argo Rollouts analysis providers whose address the controller dials: (provider, field).
_ANALYSIS_ADDRESSES = (("prometheus", "address"), ("web", "url"), ("datadog", "address"), ("influxdb", "address"))


def _analysis_endpoints(t: Topology, docs: list[Document]) -> list[Finding]:
    """The addresses in (Cluster)AnalysisTemplates resolve: a canary whose analysis cannot reach its metrics
    provider fails (or never promotes). The client is the Argo Rollouts controller when the render has it."""
    controllers = [p for p in t.pods if p.doc is not None and any(
        "argo-rollouts" in str(D(c).get("image") or "") for c in L(D(pod_spec(p.doc.obj)[0]).get("containers")))]
    out: list[Finding] = []
    for d in docs:
        obj = d.obj
        if obj.get("kind") not in ("AnalysisTemplate", "ClusterAnalysisTemplate") or \
                not str(obj.get("apiVersion") or "").startswith("argoproj.io/"):
            continue
        ns = t.ns_of(d) if obj.get("kind") == "AnalysisTemplate" else "default"
        client = controllers[0] if controllers else Pod(ns, "AnalysisRun", str(meta(obj).get("name")), None, [], d)
        for i, metric in enumerate(L(D(obj.get("spec")).get("metrics"))):
            for provider, key in _ANALYSIS_ADDRESSES:
                value = D(D(D(metric).get("provider")).get(provider)).get(key)
                if not isinstance(value, str) or "{{" in value.split("://", 1)[-1].split("/", 1)[0]:
                    continue  # templated host ({{args.x}}): known only at run time
                path = ("spec", "metrics", i, "provider", provider, key)
                for svc, sns, port, explicit in parse_value(value, key, client.namespace if controllers else ns,
                                                             t.names):
                    ep = Endpoint(value, svc, sns, port, explicit, f"{provider}.{key}", d, path)
                    target, problem = resolve(t, ep, client)
                    if problem is not None:
                        out.append(replace(problem, message=f"{problem.message} (analysis metric "
                                           f"{D(metric).get('name')} of {obj.get('kind')} {meta(obj).get('name')})"))
                    elif controllers:
                        blocks = [t.connection(client, dest, p, pr) for dest, p, pr in target.dests]
                        if blocks and all(blocks):
                            out.append(_on_client("DD-NET-006", client, ep, f"{svc}.{sns}, but {blocks[0]}"))
    return out


def _config_source(f: Finding, declared: dict) -> Finding:
    """Point `source` at the services/<name>.yaml config line an endpoint was written on."""
    info = declared.get(_component(f.resource.name, declared) or "")
    if not isinstance(info, dict) or not f.source or f.source.file != info.get("file"):
        return f
    for key, line in (info.get("configLines") or {}).items():
        if f"({key}=" in f.message:
            return replace(f, source=SourceRef(f.source.file, int(line)))
    return f


def _ingress_class(t: Topology, ing: Document) -> str | None:
    name = D(ing.obj.get("spec")).get("ingressClassName") or \
        D(meta(ing.obj).get("annotations")).get("kubernetes.io/ingress.class")
    if name:
        return str(name)
    for cname, cls in sorted(t.ingress_classes.items()):
        if str(D(meta(cls.obj).get("annotations")).get("ingressclass.kubernetes.io/is-default-class")) == "true":
            return cname
    return None


def _controller_pods(t: Topology, cls_name: str) -> list[Pod]:
    """Pods serving an IngressClass: `--ingress-class=` / `--controller-class=` in their args, else
    the `component: controller` pods of the Application that ships the IngressClass."""
    cls = t.ingress_classes.get(cls_name)
    controller = D(cls.obj.get("spec")).get("controller") if cls else None
    flags = {f"--ingress-class={cls_name}"} | ({f"--controller-class={controller}"} if controller else set())

    def args(p: Pod) -> set:
        spec, _ = pod_spec(p.doc.obj)
        return {a for c in L(D(spec).get("containers")) for a in L(D(c).get("args")) + L(D(c).get("command"))
                if isinstance(a, str)}
    pods = [p for p in t.pods if p.labels is not None and args(p) & flags]
    if not pods and cls is not None and cls.app:
        pods = [p for p in t.pods if p.doc.app == cls.app and (p.labels or {}).get("app.kubernetes.io/component") == "controller"]
    return pods


def _ingress_backends(t: Topology) -> list[Finding]:
    """Every Ingress backend must admit the controller pods of its class (when they are in the render)."""
    out = []
    for ing in t.ingresses:
        cls = _ingress_class(t, ing)
        controllers = _controller_pods(t, cls) if cls else []
        if not controllers:
            continue  # the controller is not in this render: nothing to judge
        ns, spec = t.ns_of(ing), D(ing.obj.get("spec"))
        backends = [(("spec", "defaultBackend", "service"), D(D(spec.get("defaultBackend")).get("service")))]
        for ri, rule in enumerate(L(spec.get("rules"))):
            for pi, path in enumerate(L(D(D(rule).get("http")).get("paths"))):
                backends.append((("spec", "rules", ri, "http", "paths", pi, "backend", "service"),
                                 D(D(D(path).get("backend")).get("service"))))
        for where, backend in backends:
            svc = t.services.get((ns, str(backend.get("name") or "")))
            if svc is None:
                continue  # a missing Service or port is the policy gate's finding (ingress_backend_*)
            want = D(backend.get("port"))
            sps = [sp for sp in L(D(svc.obj.get("spec")).get("ports")) if isinstance(sp, dict)
                   and (sp.get("port") == want.get("number") or (want.get("name") and sp.get("name") == want.get("name")))]
            pods = t.pods_for(ns, D(D(svc.obj.get("spec")).get("selector"))) if D(svc.obj.get("spec")).get("selector") else []
            dests = [(p, n, proto(sp)) for sp in sps for p in pods if (n := target_port(sp, p)) is not None]
            for ctl in controllers:
                blocks = [t.connection(ctl, d, n, pr) for d, n, pr in dests]
                if blocks and all(blocks):
                    out.append(_finding("DD-NET-010", f"{ing.resource.display()} routes to Service "
                                        f"{backend.get('name')} (port {want.get('number') or want.get('name')}), but "
                                        f"{blocks[0]} — the ingress controller {_who(ctl)} serves class {cls}",
                                        ing, where + ("port",)))
                    break
    return out


def _dns(t: Topology, client: Pod) -> list[Finding]:
    isolating = t.policies.selecting(client, "Egress")
    if not isolating:
        return []
    missing = [pr for pr in ("UDP", "TCP") if not any(t.connection(client, dns, 53, pr) is None for dns in t.dns)]
    if not missing:
        return []
    names = ", ".join(sorted(str(meta(d.obj).get("name")) for d in isolating))
    f = _finding("DD-NET-008", f"{_who(client)} names its peers by DNS, but its egress (NetworkPolicy {names}) "
                 f"does not allow kube-dns in kube-system on port 53/{' and 53/'.join(missing)}", client.doc)
    # Only TCP missing: lookups work until an answer is truncated and retried over TCP.
    return [replace(f, severity=Severity.MEDIUM) if missing == ["TCP"] else f]


def _component(name: str, names) -> str | None:
    """The declared component a workload belongs to (`user-service-migrate` -> user-service)."""
    best = None
    for s in names:
        if (name == s or name.startswith(s + "-")) and (best is None or len(s) > len(best)):
            best = s
    return best


def _app_name(p: Pod) -> str:
    labels = p.labels or {}
    return labels.get("app.kubernetes.io/name") or labels.get("app") or p.name


def _declared(t: Topology, declared: dict, reached: set) -> list[Finding]:
    """Declared dependencies reachable; no undeclared path between platform components."""
    out = []
    deps = {s: set(d.get("dependsOn") or []) | set(d.get("datastores") or []) | set(d.get("queues") or [])
            for s, d in declared.items() if isinstance(d, dict)}
    known = set(deps) | {x for ds in deps.values() for x in ds}
    for client in t.pods:
        owner = _component(_app_name(client), deps)
        if owner is None or client.kind in _JOBS:
            continue  # one-off jobs (migrations) have their own narrow policies and declare nothing
        ns = str(declared[owner].get("namespace") or client.namespace)
        if client.namespace != ns:
            continue
        for dep in sorted(deps[owner]):
            if (client.id, dep) in reached:
                continue  # an endpoint names it: judged (and reported) above
            dests = t.service_dests(ns, dep)
            why = _no_backends(t, ns, dep) if not dests else None
            if dests:
                blocks = [t.connection(client, d, p, pr) for d, p, pr in dests]
                why = blocks[0] if all(blocks) else None
            if why:
                f = _finding("DD-NET-007", f"{_who(client)} declares a dependency on {dep}, but {why}", client.doc)
                info = declared[owner]
                if info.get("file"):
                    line = (info.get("lines") or {}).get(dep) or info.get("line") or 1
                    f = replace(f, source=SourceRef(str(info["file"]), int(line)))
                out.append(f)
        for server in t.pods:
            sname = _component(_app_name(server), known)
            if sname is None or sname in (owner, *deps[owner]) or server.namespace != ns or server.kind in _JOBS:
                continue
            open_ports = sorted(f"{p}/{pr}" for p, pr in t.backed().get(server.id, ())
                                if t.connection(client, server, p, pr) is None)
            if open_ports:
                where = (t.policies.selecting(server, "Ingress") or [server.doc])[0]
                out.append(_finding("DD-NET-009", f"{_who(client)} can open {server.id} on {', '.join(open_ports)}, "
                                    f"but {owner} does not declare a dependency on {sname}", where, (),
                                    client.doc.resource))
    return out


def _no_backends(t: Topology, ns: str, name: str) -> str:
    """Why a Service gives no destination: missing, selecting no pod, or targeting ports no pod has."""
    svc = t.services.get((ns, name))
    if svc is None:
        return f"no Service {name} exists in namespace {ns}"
    spec = D(svc.obj.get("spec"))
    where = f"Service {name} ({svc.file}:{svc.line})"
    if spec.get("selector") and not t.pods_for(ns, spec["selector"]):
        return f"{where} selects no pod: selector {spec['selector']} matches no pod in namespace {ns}"
    targets = [str(p.get("targetPort", p.get("port"))) for p in L(spec.get("ports")) if isinstance(p, dict)]
    if spec.get("selector") and targets:
        return f"{where} targets port(s) {', '.join(targets)}, which no selected pod exposes"
    return f"{where} has no backends (no selector and no Endpoints)"


def matrix(t: Topology) -> dict:
    """{"workloads": [...], "matrix": {client: {server: {"allowed": [ports], "blocked": {port: why}}}}}.

    Servers are the workloads behind a Service and every ExternalName Service (egress only).
    """
    by_id = {p.id: p for p in t.pods}
    externals = [(f"{ns}/ExternalName/{name}", t.service_dests(ns, name)) for (ns, name), svc in sorted(t.services.items())
                 if D(svc.obj.get("spec")).get("type") == "ExternalName"]
    out: dict = {}
    for client in sorted(t.pods, key=lambda p: p.id):
        row = {}
        for sid, ports in sorted(t.backed().items()):
            if sid != client.id:
                row[sid] = _cell(t, client, [(by_id[sid], p, pr) for p, pr in sorted(ports)])
        for sid, dests in externals:
            if dests:
                row[sid] = _cell(t, client, dests)
        out[client.id] = row
    return {"workloads": sorted(by_id), "matrix": out}


def _cell(t: Topology, client: Pod, dests: list) -> dict:
    """{"allowed": ["8080/TCP"], "blocked": {"9090/TCP": "ingress: policy-a, policy-b"}}."""
    allowed, blocked = [], {}
    for dest, port, pr in dests:
        verdict = t.verdict(client, dest, port, pr)
        if verdict is None:
            allowed.append(f"{port}/{pr}")
        else:
            blocked.setdefault(f"{port}/{pr}", f"{verdict[0]}: {', '.join(verdict[1])}")
    return {"allowed": sorted(set(allowed), key=allowed.index), "blocked": blocked}
