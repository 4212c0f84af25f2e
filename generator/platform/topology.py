"""One environment's network as the cluster would have it: pods, Services, policies.

`Topology(docs, env_data)` indexes the documents once (workload pods with their labels and
ports, Services, ConfigMaps, Endpoints, NetworkPolicies, namespace labels, Helm releases
not expanded here) and answers: which pods back a Service port (`service_dests`), and is
a connection allowed (`connection`). network.py asks the questions and reports.
"""
from __future__ import annotations

from typing import Callable

from ..core import Document
from .endpoints import Names, pod_spec
from .netpol import D, External, L, Pod, Policies

WORKLOAD_KINDS = {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "ReplicationController", "Job", "CronJob",
                  "Pod", "Rollout"}
# kube-dns as every cluster runs it (CoreDNS keeps the k8s-app: kube-dns label), used when the
# render does not contain it.
KUBE_DNS = Pod("kube-system", "Deployment", "coredns", {"k8s-app": "kube-dns"}, [("dns", 53, "UDP"), ("dns-tcp", 53, "TCP")])


def meta(obj: dict) -> dict:
    m = obj.get("metadata")
    return m if isinstance(m, dict) else {}


def _labels(value) -> dict:
    return {str(k): str(v) for k, v in value.items()} if isinstance(value, dict) else {}


class Topology:
    """The documents of one environment, indexed for connectivity questions."""

    def __init__(self, docs: list[Document], env_data: dict, ns_of: Callable[[Document], str] | None = None):
        self.ns_of = ns_of or (lambda d: str(meta(d.obj).get("namespace") or "default"))
        self.services: dict[tuple[str, str], Document] = {}
        self.configmaps: dict[tuple[str, str], Document] = {}
        self.endpoints: dict[tuple[str, str], list[Document]] = {}
        self.pods: list[Pod] = []
        self.helm_apps: list[tuple[str, str, str, str, Document]] = []  # (app, release, chart, namespace, doc)
        self.ingresses: list[Document] = []
        self.ingress_classes: dict[str, Document] = {}
        self._backed: dict | None = None
        self.custom: set[tuple[str, str]] = set()  # (namespace, name) of custom resources (operators make pods)
        self._connections: dict = {}
        ns_labels: dict[str, dict] = {}
        policies: list[Document] = []
        namespaces: set[str] = set()
        for d in docs:
            obj, kind = d.obj, str(d.obj.get("kind") or "")
            name = str(meta(obj).get("name") or "")
            if kind == "Namespace":
                ns_labels[name] = _labels(meta(obj).get("labels"))
                namespaces.add(name)
                continue
            ns = self.ns_of(d)
            if meta(obj).get("namespace"):
                namespaces.add(ns)
            if kind == "Service":
                self.services[(ns, name)] = d
            elif kind == "ConfigMap":
                self.configmaps[(ns, name)] = d
            elif kind == "NetworkPolicy":
                policies.append(d)
            elif kind == "Ingress":
                self.ingresses.append(d)
            elif kind == "IngressClass":
                self.ingress_classes[name] = d
            elif kind == "Endpoints":
                self.endpoints.setdefault((ns, name), []).append(d)
            elif kind == "EndpointSlice":
                owner = str(_labels(meta(obj).get("labels")).get("kubernetes.io/service-name") or "")
                self.endpoints.setdefault((ns, owner), []).append(d)
            elif kind == "Application" and isinstance(obj.get("spec"), dict):
                self._note_app(d, namespaces)
            elif kind in WORKLOAD_KINDS:
                pod = self._pod_of(d, ns)
                if pod is not None:
                    self.pods.append(pod)
            else:
                group = str(obj.get("apiVersion") or "").rpartition("/")[0]
                if "." in group and not group.endswith(".k8s.io"):
                    self.custom.add((ns, name))
        expanded = {d.app for d in docs if d.app}
        self.helm_apps = [a for a in self.helm_apps if a[0] not in expanded]
        self.policies = Policies(policies, ns_labels, self.ns_of)
        self.names = Names(namespaces, {n for _, n in self.services} | {a[1] for a in self.helm_apps},
                           str(env_data.get("clusterDomain") or "cluster.local"))
        self.dns = [p for p in self.pods if p.namespace == "kube-system" and p.labels.get("k8s-app") == "kube-dns"] \
            or [KUBE_DNS]

    def _note_app(self, d: Document, namespaces: set) -> None:
        spec = d.obj["spec"]
        dest_ns = str(D(spec.get("destination")).get("namespace") or "")
        if dest_ns:
            namespaces.add(dest_ns)
        app = str(meta(d.obj).get("name") or "")
        for src in [spec.get("source")] + L(spec.get("sources")):
            if isinstance(src, dict) and src.get("chart"):
                release = str(D(src.get("helm")).get("releaseName") or app)
                self.helm_apps.append((app, release, str(src["chart"]), dest_ns, d))

    @staticmethod
    def _pod_of(d: Document, ns: str) -> Pod | None:
        spec, path = pod_spec(d.obj)
        if spec is None:
            return None
        if d.obj.get("kind") == "Pod":
            labels = meta(d.obj).get("labels")
        else:  # the pod template holds the labels: it is the object right above the pod spec
            node = d.obj
            for key in path[:-1]:
                node = node[key]
            labels = meta(node).get("labels")
        ports = []
        for c in L(spec.get("containers")) + L(spec.get("initContainers")):
            for p in L(D(c).get("ports")):
                if isinstance(p, dict) and isinstance(p.get("containerPort"), int):
                    ports.append((str(p.get("name") or ""), p["containerPort"], str(p.get("protocol") or "TCP").upper()))
        return Pod(ns, str(d.obj.get("kind")), str(meta(d.obj).get("name")), _labels(labels), ports, d)

    def operator_pods(self, ns: str, selector: dict, name: str) -> Pod | None:
        """Pods an operator creates at runtime from a custom resource a selector value names (Prometheus,
        Alertmanager of kube-prometheus-stack): their labels are unknown offline, so any selector matches."""
        if any((ns, str(v)) in self.custom for v in D(selector).values()):
            return Pod(ns, "OperatorManaged", name, None, [])
        return None

    def pods_for(self, ns: str, selector: dict) -> list[Pod]:
        """Pods a Service selector picks (plain equality on every key)."""
        want = _labels(selector)
        return [p for p in self.pods if p.namespace == ns and p.labels is not None
                and all(p.labels.get(k) == v for k, v in want.items())]

    def service_ns(self, name: str) -> list[str]:
        return sorted(ns for ns, n in self.services if n == name)

    def service_dests(self, ns: str, name: str) -> list[tuple]:
        """(Pod | External, pod port, protocol) for every port of Service ns/name."""
        svc = self.services.get((ns, name))
        if svc is None:
            return []
        spec = svc.obj.get("spec") if isinstance(svc.obj.get("spec"), dict) else {}
        ports = [p for p in L(spec.get("ports")) if isinstance(p, dict)]
        if spec.get("type") == "ExternalName":
            host = External(str(spec.get("externalName") or ""))
            return [(host, p["port"], proto(p)) for p in ports if isinstance(p.get("port"), int)]
        if not spec.get("selector"):
            return [(x, n, pr) for x, n, pr in self.endpoint_dests(ns, name)]
        pods = self.pods_for(ns, spec["selector"])
        return [(p, n, proto(sp)) for sp in ports for p in pods if (n := target_port(sp, p)) is not None]

    def endpoint_dests(self, ns: str, name: str) -> list[tuple]:
        """Addresses of a selector-less Service, from its Endpoints / EndpointSlices."""
        dests = []
        for d in self.endpoints.get((ns, name), []):
            obj = d.obj
            if obj.get("kind") == "Endpoints":
                for subset in L(obj.get("subsets")):
                    nums = [(p.get("port"), proto(p)) for p in L(D(subset).get("ports")) if isinstance(p, dict)]
                    for a in L(D(subset).get("addresses")):
                        dests += [(External(str(D(a).get("ip"))), n, pr) for n, pr in nums if isinstance(n, int)]
            else:
                nums = [(p.get("port"), proto(p)) for p in L(obj.get("ports")) if isinstance(p, dict)]
                for e in L(obj.get("endpoints")):
                    for a in L(D(e).get("addresses")):
                        dests += [(External(str(a)), n, pr) for n, pr in nums if isinstance(n, int)]
        return dests

    def backed(self) -> dict[str, set]:
        """Pod id -> the (port, protocol) some Service sends traffic to."""
        if self._backed is None:
            self._backed = {}
            for ns, name in sorted(self.services):
                for dest, port, pr in self.service_dests(ns, name):
                    if isinstance(dest, Pod):
                        self._backed.setdefault(dest.id, set()).add((port, pr))
        return self._backed

    def connection(self, client: Pod, dest, port: int, protocol: str = "TCP") -> str | None:
        """None when client -> dest:port is allowed by both sides; otherwise why it is blocked."""
        blocked = self.verdict(client, dest, port, protocol)
        if blocked is None:
            return None
        side, names = blocked
        if side == "egress":
            return (f"egress of {client.id} (NetworkPolicy {', '.join(names)}) does not allow {dest.id} "
                    f"port {port}/{protocol}")
        return (f"ingress of {dest.id} (NetworkPolicy {', '.join(names)}) does not allow {client.id} "
                f"on port {port}/{protocol}")

    def verdict(self, client: Pod, dest, port: int, protocol: str = "TCP") -> tuple[str, list[str]] | None:
        """None when allowed, else ("egress" | "ingress", the isolating policies of that side)."""
        key = (client.id, dest.id, port, protocol)
        if key not in self._connections:
            self._connections[key] = self._verdict(client, dest, port, protocol)
        return self._connections[key]

    def _verdict(self, client: Pod, dest, port: int, protocol: str) -> tuple[str, list[str]] | None:
        ok, names = self.policies.allows("Egress", client, dest, dest, port, protocol)
        if not ok:
            return "egress", names
        if isinstance(dest, External) or dest.labels is None:
            return None  # outside the pod network, or a chart not expanded: only egress is known
        ok, names = self.policies.allows("Ingress", dest, client, dest, port, protocol)
        return None if ok else ("ingress", names)


def proto(port_entry: dict) -> str:
    return str(port_entry.get("protocol") or "TCP").upper()


def target_port(service_port: dict, pod: Pod) -> int | None:
    """The pod port a Service port sends to: targetPort by number or by container port name."""
    target = service_port.get("targetPort", service_port.get("port"))
    if isinstance(target, str) and not target.isdigit():
        return pod.named_port(target, proto(service_port))
    try:
        return int(target)
    except (TypeError, ValueError):
        return None
