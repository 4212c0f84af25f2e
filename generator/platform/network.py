"""Connectivity simulation: would each workload reach the peers it is configured for?

`check(docs, env_data, env)` takes one environment's documents (our render plus objects
expanded from Helm charts) and returns `(findings, reachability)`:

1. every in-cluster endpoint a workload is given (endpoints.py) resolves to a Service in
   the namespace it names, exposing that port, backed by pods (or ExternalName/Endpoints);
2. the client's egress and the server's ingress NetworkPolicies allow it (netpol.py);
3. pods with egress isolation that name anything by DNS may reach kube-dns on port 53;
4. with `env_data["services"]` (declared dependencies from services/), every declared
   dependency is reachable and no undeclared path between the platform's components is open;
5. the reachability matrix (workload x workload -> allowed ports or why blocked).
"""
from __future__ import annotations

from dataclasses import dataclass

from ..core import Document, Finding, Resource, Severity
from ..yamlio import field_line
from .endpoints import Endpoint, Names, pod_spec, workload_endpoints
from .netpol import METADATA_NAME, External, Pod, Policies

ENGINE = "platform"
# id -> (title, severity, fix); `drydock rules`/`explain` can list these.
RULES = {
    "DD-NET-001": ("Endpoint resolves to no Service", Severity.HIGH,
                   "point the endpoint at an existing Service (name.namespace.svc:port) or add the Service"),
    "DD-NET-002": ("Endpoint names the wrong namespace", Severity.HIGH,
                   "use the namespace the Service runs in (and the same namespace in NetworkPolicy selectors)"),
    "DD-NET-003": ("Endpoint port not exposed by the Service", Severity.HIGH,
                   "use a port the Service exposes, or add the port to the Service (and the pod)"),
    "DD-NET-004": ("Service has no backends", Severity.HIGH,
                   "make the Service selector match the pods' labels (or add Endpoints for a selector-less Service)"),
    "DD-NET-005": ("Service targetPort not exposed by its pods", Severity.HIGH,
                   "set targetPort to a containerPort (number or name) of the selected pods"),
    "DD-NET-006": ("Connection blocked by NetworkPolicy", Severity.HIGH,
                   "allow the client's egress to the server pods and the server's ingress from the client on that port"),
    "DD-NET-007": ("Declared dependency unreachable", Severity.HIGH,
                   "render a Service for the dependency and let NetworkPolicies allow client egress and server ingress"),
    "DD-NET-008": ("DNS egress not allowed", Severity.HIGH,
                   "allow egress to kube-dns (namespaceSelector kubernetes.io/metadata.name: kube-system, "
                   "podSelector k8s-app: kube-dns) on port 53 UDP and TCP"),
    "DD-NET-009": ("Undeclared path open between platform components", Severity.MEDIUM,
                   "declare the dependency in services/<name>.yaml spec.dependsOn, or narrow the server's "
                   "ingress / the client's egress NetworkPolicy so the path is closed"),
}
WORKLOAD_KINDS = {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "ReplicationController", "Job", "CronJob",
                  "Pod", "Rollout"}
_KUBE_DNS = Pod("kube-system", "Deployment", "coredns", {"k8s-app": "kube-dns"},
                [("dns", 53, "UDP"), ("dns-tcp", 53, "TCP")])


def _meta(obj: dict) -> dict:
    m = obj.get("metadata")
    return m if isinstance(m, dict) else {}


def _ns(obj: dict) -> str:
    return str(_meta(obj).get("namespace") or "default")


@dataclass
class Target:
    """Where one endpoint lands: pods (with the pod port) or an external address."""

    service: Document
    dests: list  # [(Pod | External, port)]


class Render:
    """One environment's documents, indexed for the questions the checks ask."""

    def __init__(self, docs: list[Document], env_data: dict):
        self.services: dict[tuple[str, str], Document] = {}
        self.configmaps: dict[tuple[str, str], Document] = {}
        self.endpoints: dict[tuple[str, str], list[Document]] = {}
        self.pods: list[Pod] = []
        self._backed: dict | None = None
        ns_labels: dict[str, dict] = {}
        policies, namespaces, self.helm_apps = [], set(), []
        for d in docs:
            obj, kind = d.obj, d.obj.get("kind")
            meta = _meta(obj)
            name = str(meta.get("name") or "")
            if kind == "Namespace":
                ns_labels[name] = {str(k): str(v) for k, v in (meta.get("labels") or {}).items()}
                namespaces.add(name)
                continue
            ns = _ns(obj)
            if meta.get("namespace"):
                namespaces.add(ns)
            if kind == "Service":
                self.services[(ns, name)] = d
            elif kind == "ConfigMap":
                self.configmaps[(ns, name)] = d
            elif kind == "NetworkPolicy":
                policies.append(d)
            elif kind == "Endpoints":
                self.endpoints.setdefault((ns, name), []).append(d)
            elif kind == "EndpointSlice":
                owner = str((meta.get("labels") or {}).get("kubernetes.io/service-name") or "")
                self.endpoints.setdefault((ns, owner), []).append(d)
            elif kind == "Application" and isinstance((obj.get("spec") or {}), dict):
                self._note_app(d, namespaces)
            elif kind in WORKLOAD_KINDS:
                pod = _pod_of(d)
                if pod is not None:
                    self.pods.append(pod)
        expanded = {d.app for d in docs if d.app}
        self.helm_apps = [a for a in self.helm_apps if a[0] not in expanded]
        self.policies = Policies(policies, ns_labels)
        self.names = Names(namespaces, {n for _, n in self.services} | {a[1] for a in self.helm_apps},
                           str(env_data.get("clusterDomain") or "cluster.local"))
        self.dns = [p for p in self.pods if p.namespace == "kube-system" and p.labels.get("k8s-app") == "kube-dns"] \
            or [_KUBE_DNS]

    def _note_app(self, d: Document, namespaces: set) -> None:
        spec = d.obj["spec"]
        dest_ns = str((spec.get("destination") or {}).get("namespace") or "")
        if dest_ns:
            namespaces.add(dest_ns)
        for src in [spec.get("source")] + list(spec.get("sources") or []):
            if isinstance(src, dict) and src.get("chart"):
                release = str((src.get("helm") or {}).get("releaseName") or _meta(d.obj).get("name") or "")
                self.helm_apps.append((str(_meta(d.obj).get("name")), release, str(src["chart"]), dest_ns, d))

    def pods_for(self, ns: str, selector: dict) -> list[Pod]:
        return [p for p in self.pods if p.namespace == ns
                and all(p.labels.get(k) == str(v) for k, v in selector.items())]

    def backed(self) -> dict[str, set]:
        """Pod id -> the pod ports some Service sends traffic to."""
        if self._backed is None:
            self._backed = {}
            for (ns, name) in sorted(self.services):
                for dest, port in _service_dests(self, ns, name):
                    if isinstance(dest, Pod):
                        self._backed.setdefault(dest.id, set()).add(port)
        return self._backed

    def helm_apps_doc(self, app: str) -> Document:
        return next(a[4] for a in self.helm_apps if a[0] == app)

    def service_ns(self, name: str) -> list[str]:
        return sorted(ns for ns, n in self.services if n == name)


def _pod_of(d: Document) -> Pod | None:
    spec, _ = pod_spec(d.obj)
    if spec is None:
        return None
    obj = d.obj
    if obj.get("kind") == "Pod":
        labels = _meta(obj).get("labels") or {}
    elif obj.get("kind") == "CronJob":
        labels = _meta(((obj["spec"].get("jobTemplate") or {}).get("spec") or {}).get("template") or {}).get("labels") or {}
    else:
        labels = _meta(obj["spec"].get("template") or {}).get("labels") or {}
    ports = []
    for c in list(spec.get("containers") or []) + list(spec.get("initContainers") or []):
        for p in (c.get("ports") or []) if isinstance(c, dict) else []:
            if isinstance(p, dict) and isinstance(p.get("containerPort"), int):
                ports.append((str(p.get("name") or ""), p["containerPort"], str(p.get("protocol") or "TCP").upper()))
    return Pod(_ns(obj), str(obj.get("kind")), str(_meta(obj).get("name")),
               {str(k): str(v) for k, v in labels.items()}, ports, d)


def _finding(rule: str, message: str, doc: Document, path: tuple = (), resource: Resource | None = None) -> Finding:
    title, severity, fix = RULES[rule]
    return Finding(rule, title, severity, message, ENGINE, resource or doc.resource, doc.file,
                   (field_line(doc, path) if path else None) or doc.line, doc.source, fix=fix)


def _where(ep: Endpoint) -> str:
    return f"{ep.key}={ep.text!r}" if ep.key not in ("command", "args") else f"{ep.key} {ep.text!r}"


def _port_text(port: int, protocol: str = "TCP") -> str:
    return f"{port}/{protocol}"


def resolve(r: Render, ep: Endpoint, client: Pod) -> tuple[Target | None, Finding | None]:
    """The Service and destination pods/addresses of an endpoint, or the finding why not."""
    svc_doc = r.services.get((ep.namespace, ep.service))
    name = f"{ep.service}.{ep.namespace}"
    if svc_doc is None:
        for app, release, chart, dest_ns, _ in r.helm_apps:  # a chart not expanded here may provide it
            if ep.service == release or ep.service.startswith(release + "-"):
                if dest_ns == ep.namespace:  # labels and ports unknown: only the client's egress is judged
                    return Target(r.helm_apps_doc(app), [(Pod(dest_ns, "HelmRelease", release, None, []), ep.port)]
                                  if ep.port else []), None
                return None, _finding("DD-NET-002", f"{client.id} is configured ({_where(ep)}) to reach {name}, but "
                                      f"Application {app} installs chart {chart} (release {release}) into namespace "
                                      f"{dest_ns}, not {ep.namespace}", ep.doc, ep.path, client.doc.resource)
        elsewhere = r.service_ns(ep.service)
        if elsewhere:
            return None, _finding("DD-NET-002", f"{client.id} is configured ({_where(ep)}) to reach Service "
                                  f"{ep.service} in namespace {ep.namespace}, but it exists only in "
                                  f"{', '.join(elsewhere)}", ep.doc, ep.path, client.doc.resource)
        return None, _finding("DD-NET-001", f"{client.id} is configured ({_where(ep)}) to reach {name}, but no "
                              f"Service {ep.service} exists in any namespace of the render", ep.doc, ep.path,
                              client.doc.resource)
    spec = svc_doc.obj.get("spec") or {}
    ports = [p for p in spec.get("ports") or [] if isinstance(p, dict)]
    if spec.get("type") == "ExternalName":
        port = ep.port or (ports[0].get("port") if len(ports) == 1 else None)
        return Target(svc_doc, [(External(str(spec.get("externalName") or "")), port)] if port else []), None
    headless = spec.get("clusterIP") == "None"
    chosen = ports if ep.port is None else [p for p in ports if p.get("port") == ep.port]
    if not chosen and not headless:
        exposed = ", ".join(str(p.get("port")) for p in ports) or "none"
        return None, _finding("DD-NET-003", f"{client.id} is configured ({_where(ep)}) to reach {name} on port "
                              f"{ep.port}, but Service {ep.service} exposes only: {exposed}", ep.doc, ep.path,
                              client.doc.resource)
    selector = spec.get("selector")
    if not selector:
        return _selectorless(r, ep, client, svc_doc, chosen)
    pods = r.pods_for(ep.namespace, selector)
    if not pods:
        return None, _finding("DD-NET-004", f"{client.id} reaches {name} ({_where(ep)}), but Service "
                              f"{ep.service}'s selector {selector} matches no pod in namespace {ep.namespace}",
                              svc_doc, ("spec", "selector"), svc_doc.resource)
    dests = []
    if headless and not chosen:  # headless: clients connect straight to the pod port
        dests = [(p, ep.port) for p in pods if any(n == ep.port for _, n, _ in p.ports)]
        if not dests:
            return None, _finding("DD-NET-003", f"{client.id} is configured ({_where(ep)}) to reach headless "
                                  f"Service {name} on port {ep.port}, but its pods expose no such containerPort",
                                  ep.doc, ep.path, client.doc.resource)
        return Target(svc_doc, dests), None
    for sp in chosen:
        target = sp.get("targetPort", sp.get("port"))
        proto = str(sp.get("protocol") or "TCP").upper()
        for p in pods:
            number = p.named_port(target, proto) if isinstance(target, str) and not target.isdigit() else int(target)
            if number is not None:
                dests.append((p, number))
        if not any(d[0] in pods for d in dests):
            i = ports.index(sp)
            return None, _finding("DD-NET-005", f"Service {svc_doc.resource.display()} port {sp.get('port')} targets "
                                  f"{target!r}, which no selected pod exposes (reached by {client.id} via "
                                  f"{_where(ep)})", svc_doc, ("spec", "ports", i, "targetPort"), svc_doc.resource)
    return Target(svc_doc, dests), None


def _selectorless(r: Render, ep: Endpoint, client: Pod, svc_doc: Document, chosen: list):
    eps = r.endpoints.get((ep.namespace, ep.service))
    if not eps:
        return None, _finding("DD-NET-004", f"{client.id} reaches {ep.service}.{ep.namespace} ({_where(ep)}), but "
                              f"Service {ep.service} has no selector and no Endpoints/EndpointSlice", svc_doc,
                              ("spec",), svc_doc.resource)
    dests = []
    for d in eps:
        obj = d.obj
        if obj.get("kind") == "Endpoints":
            for subset in obj.get("subsets") or []:
                nums = [p.get("port") for p in subset.get("ports") or [] if isinstance(p, dict)]
                for a in subset.get("addresses") or []:
                    dests += [(External(str(a.get("ip"))), n) for n in nums]
        else:
            nums = [p.get("port") for p in obj.get("ports") or [] if isinstance(p, dict)]
            for e in obj.get("endpoints") or []:
                for a in e.get("addresses") or []:
                    dests += [(External(str(a)), n) for n in nums]
    wanted = {sp.get("targetPort", sp.get("port")) for sp in chosen}
    dests = [(x, n) for x, n in dests if n in wanted] or dests
    return Target(svc_doc, dests), None


def connection(r: Render, client: Pod, dest, port: int, protocol: str = "TCP") -> str | None:
    """None when client -> dest:port is allowed; otherwise why it is blocked."""
    ok, names = r.policies.allows("Egress", client, dest, dest, port, protocol)
    if not ok:
        return (f"egress of {client.id} (NetworkPolicy {', '.join(names)}) does not allow {dest.id} port "
                f"{_port_text(port, protocol)}")
    if isinstance(dest, External) or dest.labels is None:
        return None
    ok, names = r.policies.allows("Ingress", dest, client, dest, port, protocol)
    if not ok:
        return (f"ingress of {dest.id} (NetworkPolicy {', '.join(names)}) does not allow {client.id} on port "
                f"{_port_text(port, protocol)}")
    return None


def _component(name: str, declared: dict) -> str | None:
    """The declared service a workload's app name belongs to (`user-service-migrate` -> user-service)."""
    best = None
    for s in declared:
        if (name == s or name.startswith(s + "-")) and (best is None or len(s) > len(best)):
            best = s
    return best


def _app_name(p: Pod) -> str:
    return p.labels.get("app.kubernetes.io/name") or p.labels.get("app") or p.name


def check(docs: list[Document], env_data: dict, env: str | None = None) -> tuple[list[Finding], dict]:
    """Findings for one environment's documents and its reachability matrix (see module doc)."""
    r = Render(docs, env_data or {})
    findings: list[Finding] = []
    reached: dict[tuple[str, str], bool] = {}  # (client app, server service name) -> some endpoint checked
    for client in r.pods:
        eps = workload_endpoints(client.doc, r.configmaps, r.names)
        for ep in eps:
            target, problem = resolve(r, ep, client)
            if problem:
                findings.append(problem)
                continue
            if target is None:
                continue
            reached[(_app_name(client), ep.service)] = True
            blocks = [b for b in (connection(r, client, dest, port) for dest, port in target.dests) if b]
            if blocks and len(blocks) == len(target.dests):
                findings.append(_finding("DD-NET-006", f"{client.id} is configured ({_where(ep)}) to reach "
                                         f"{ep.service}.{ep.namespace}, but {blocks[0]}", ep.doc, ep.path,
                                         client.doc.resource))
        if eps:
            findings += _dns(r, client)
    declared = (env_data or {}).get("services")
    if isinstance(declared, dict) and declared:
        findings += _declared(r, declared, reached)
    findings = list({(f.rule_id, f.file, f.line, f.message): f for f in findings}.values())
    return sorted(findings, key=Finding.sort_key), matrix(r)


def _dns(r: Render, client: Pod) -> list[Finding]:
    if not r.policies.selecting(client, "Egress"):
        return []
    missing = [proto for proto in ("UDP", "TCP")
               if not any(connection(r, client, dns, 53, proto) is None for dns in r.dns)]
    if not missing:
        return []
    names = ", ".join(sorted(str(_meta(d.obj).get("name")) for d in r.policies.selecting(client, "Egress")))
    f = _finding("DD-NET-008", f"{client.id} names its peers by DNS, but its egress (NetworkPolicy {names}) does "
                 f"not allow kube-dns in kube-system on port 53/{' and 53/'.join(missing)}", client.doc, (),
                 client.doc.resource)
    if missing == ["TCP"]:  # UDP works; only large answers (truncated, retried over TCP) fail
        from dataclasses import replace
        f = replace(f, severity=Severity.MEDIUM)
    return [f]


def _service_dests(r: Render, ns: str, name: str) -> list:
    svc = r.services.get((ns, name))
    if svc is None:
        return []
    spec = svc.obj.get("spec") or {}
    if spec.get("type") == "ExternalName":
        return [(External(str(spec.get("externalName") or "")), p.get("port")) for p in spec.get("ports") or []]
    pods = r.pods_for(ns, spec.get("selector") or {}) if spec.get("selector") else []
    out = []
    for sp in spec.get("ports") or []:
        target = sp.get("targetPort", sp.get("port"))
        for p in pods:
            n = p.named_port(target, str(sp.get("protocol") or "TCP").upper()) if isinstance(target, str) \
                and not target.isdigit() else int(target)
            if n is not None:
                out.append((p, n))
    return out


def _declared(r: Render, declared: dict, reached: dict) -> list[Finding]:
    """Declared dependencies reachable; no undeclared path between platform components."""
    out = []
    deps = {s: set(d.get("dependsOn") or []) | set(d.get("datastores") or []) | set(d.get("queues") or [])
            for s, d in declared.items() if isinstance(d, dict)}
    known = set(deps) | {x for ds in deps.values() for x in ds}
    for client in r.pods:
        owner = _component(_app_name(client), deps)
        if owner is None:
            continue
        info = declared[owner]
        ns = str(info.get("namespace") or client.namespace)
        if client.namespace != ns or client.kind in ("Job", "CronJob"):
            continue  # one-off jobs (migrations) declare nothing; their policies are their own
        src = info.get("file")
        for dep in sorted(deps[owner]):
            dests = _service_dests(r, ns, dep)
            why = None
            if not dests:
                why = f"no Service {dep} with backends exists in namespace {ns}"
            else:
                blocks = [connection(r, client, d, p) for d, p in dests]
                if all(blocks):
                    why = blocks[0]
            if why and not reached.get((_app_name(client), dep)):
                out.append(_declared_finding("DD-NET-007", f"{client.id} declares a dependency on {dep} "
                                             f"({src or 'services/'}), but {why}", client, src, info.get("line")))
        for server in r.pods:
            sname = _component(_app_name(server), {k: 1 for k in known})
            if sname is None or sname == owner or sname in deps[owner] or server.namespace != ns:
                continue
            if server.kind in ("Job", "CronJob"):
                continue
            open_ports = sorted(p for p in r.backed().get(server.id, ()) if connection(r, client, server, p) is None)
            if open_ports:
                doc = (r.policies.selecting(server, "Ingress") or [server.doc])[0]
                out.append(_finding("DD-NET-009", f"{client.id} can open {server.id} on port(s) "
                                    f"{', '.join(map(str, open_ports))}, but {owner} does not declare a dependency on "
                                    f"{sname}", doc, (), client.doc.resource))
    return out


def _declared_finding(rule: str, message: str, client: Pod, file: str | None, line: int | None) -> Finding:
    f = _finding(rule, message, client.doc, (), client.doc.resource)
    if file:
        from dataclasses import replace
        from ..core import SourceRef
        f = replace(f, source=SourceRef(file, int(line or 1)))
    return f


def matrix(r: Render) -> dict:
    """{client id: {server id: {"allowed": [ports], "blocked": [reasons]}}} over Service-backed pods."""
    by_id = {p.id: p for p in r.pods}
    out: dict = {}
    for client in sorted(r.pods, key=lambda p: p.id):
        row = {}
        for sid, ports in sorted(r.backed().items()):
            server = by_id[sid]
            if server is client:
                continue
            allowed, blocked = [], []
            for port in sorted(ports):
                why = connection(r, client, server, port)
                if why is None:
                    allowed.append(_port_text(port))
                else:
                    blocked.append(why)
            row[sid] = {"allowed": allowed, "blocked": blocked}
        for (ns, name), svc in sorted(r.services.items()):  # ExternalName: only the client's egress decides
            dests = _service_dests(r, ns, name) if (svc.obj.get("spec") or {}).get("type") == "ExternalName" else []
            if dests:
                whys = [(port, connection(r, client, dest, port)) for dest, port in dests if isinstance(port, int)]
                row[f"{ns}/ExternalName/{name}"] = {"allowed": [_port_text(p) for p, why in whys if why is None],
                                                    "blocked": [why for _, why in whys if why]}
        out[client.id] = row
    return {"workloads": sorted(p.id for p in r.pods), "matrix": out}
