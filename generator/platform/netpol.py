"""Kubernetes NetworkPolicy semantics (networking.k8s.io/v1), evaluated offline.

What is relied on (https://kubernetes.io/docs/concepts/services-networking/network-policies/):
* a pod is isolated for ingress (egress) only if some policy in its namespace selects it
  and lists that policyType; without `policyTypes`, Ingress always and Egress when the
  policy has egress rules. A non-isolated direction allows everything.
* allowed traffic is the union of all rules of all policies selecting the pod; a connection
  needs the client's egress AND the server's ingress.
* a peer with podSelector and namespaceSelector selects pods matching both (AND); a
  podSelector alone selects in the policy's namespace; a namespaceSelector alone selects all
  pods of the matching namespaces; namespaces carry `kubernetes.io/metadata.name`.
* empty or missing `from`/`to` = all peers; empty or missing `ports` = all ports; a port
  entry without `port` = all ports of its protocol; `endPort` makes a range; a named port
  means the destination pod's container port of that name.
* ipBlock (with `except`) selects IP ranges; the docs call pod IPs unpredictable and CNIs
  differ, so an ipBlock here never matches a pod of the render, only external addresses.
"""
from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from ..core import Document

METADATA_NAME = "kubernetes.io/metadata.name"


def D(value) -> dict:
    """`value` if it is a mapping, else {}: malformed manifests read as absent fields, never crash."""
    return value if isinstance(value, dict) else {}


def L(value) -> list:
    """`value` if it is a list, else []."""
    return value if isinstance(value, list) else []


@dataclass
class Pod:
    """The pods of one workload (all replicas share labels and ports)."""

    namespace: str
    kind: str
    name: str
    labels: dict | None  # None: unknown (a Helm chart not expanded); selectors then match
    ports: list[tuple[str, int, str]]  # (name, containerPort, protocol)
    doc: Document | None = None

    @property
    def id(self) -> str:
        return f"{self.namespace}/{self.kind}/{self.name}"

    def named_port(self, name: str, protocol: str = "TCP") -> int | None:
        for pname, number, proto in self.ports:
            if pname == name and proto == protocol:
                return number
        return None


@dataclass
class External:
    """A destination outside the pod network: an ExternalName target or Endpoints IPs."""

    host: str  # a host name (IP unknown) or an IP address

    @property
    def id(self) -> str:
        return f"external/{self.host}"


def selector_matches(selector, labels: dict) -> bool:
    """LabelSelector semantics: {} matches everything; a missing selector is treated as {}."""
    if not isinstance(selector, dict):
        return True
    for k, v in D(selector.get("matchLabels")).items():
        if labels.get(k) != str(v):
            return False
    for expr in L(selector.get("matchExpressions")):
        if not isinstance(expr, dict):
            return False
        key, op, values = str(expr.get("key")), expr.get("operator"), [str(v) for v in L(expr.get("values"))]
        has = key in labels
        if op == "In" and not (has and labels[key] in values):
            return False
        if op == "NotIn" and has and labels[key] in values:
            return False
        if op == "Exists" and not has:
            return False
        if op == "DoesNotExist" and has:
            return False
        if op not in ("In", "NotIn", "Exists", "DoesNotExist"):
            return False  # the API server rejects it; match nothing rather than everything
    return True


class Policies:
    """All NetworkPolicies of a render, with namespace labels, answering allow/deny questions."""

    def __init__(self, policies: list[Document], ns_labels: dict[str, dict], ns_of=None):
        ns_of = ns_of or (lambda d: str(D(d.obj.get("metadata")).get("namespace") or "default"))
        self.by_ns: dict[str, list[Document]] = {}
        self.ns_of = {id(d): ns_of(d) for d in policies}
        for d in policies:
            self.by_ns.setdefault(self.ns_of[id(d)], []).append(d)
        self.ns_labels = ns_labels
        self._selecting: dict = {}

    def labels_of_ns(self, ns: str) -> dict:
        return {**self.ns_labels.get(ns, {}), METADATA_NAME: ns}

    def selecting(self, pod: Pod, direction: str) -> list[Document]:
        """Policies that select `pod` and isolate it in `direction` ("Ingress" or "Egress")."""
        key = (id(pod), direction)
        if key not in self._selecting:
            self._selecting[key] = (pod, self._select(pod, direction))  # pod kept alive: its id stays unique
        return self._selecting[key][1]

    def _select(self, pod: Pod, direction: str) -> list[Document]:
        out = []
        for d in self.by_ns.get(pod.namespace, []):
            spec = D(d.obj.get("spec"))
            if not selector_matches(spec.get("podSelector"), pod.labels):
                continue
            types = spec.get("policyTypes")
            if not isinstance(types, list):
                types = ["Ingress"] + (["Egress"] if spec.get("egress") else [])
            if direction in types:
                out.append(d)
        return out

    def _peer_matches(self, peer: dict, policy_ns: str, other) -> bool:
        if not isinstance(peer, dict):
            return False
        if "ipBlock" in peer:
            return isinstance(other, External) and ip_block_matches(peer["ipBlock"], other.host)
        if isinstance(other, External):
            return False
        if "namespaceSelector" in peer:
            if not selector_matches(peer.get("namespaceSelector"), self.labels_of_ns(other.namespace)):
                return False
        elif other.namespace != policy_ns:
            return False
        if "podSelector" in peer:  # labels None: pods of a chart not expanded here, assumed to match
            return other.labels is None or selector_matches(peer.get("podSelector"), other.labels)
        return "namespaceSelector" in peer

    def _rule_allows(self, rule: dict, peers_key: str, policy_ns: str, other, server, port: int, protocol: str) -> bool:
        if not isinstance(rule, dict):
            return False
        peers = L(rule.get(peers_key))
        if peers and not any(self._peer_matches(p, policy_ns, other) for p in peers):
            return False
        ports = L(rule.get("ports"))
        return not ports or any(port_matches(p, server, port, protocol) for p in ports)

    def allows(self, direction: str, pod: Pod, other, server, port: int, protocol: str) -> tuple[bool, list[str]]:
        """Does `pod`'s `direction` side allow traffic with `other` to `server`'s `port`?

        Returns (allowed, names of the isolating policies) — the names explain a block.
        """
        isolating = self.selecting(pod, direction)
        if not isolating:
            return True, []
        rules_key, peers_key = ("egress", "to") if direction == "Egress" else ("ingress", "from")
        for d in isolating:
            ns = self.ns_of[id(d)]
            for rule in L(D(d.obj.get("spec")).get(rules_key)):
                if self._rule_allows(rule, peers_key, ns, other, server, port, protocol):
                    return True, []
        return False, sorted(str(D(d.obj.get("metadata")).get("name")) for d in isolating)


def port_matches(entry, server, port: int, protocol: str) -> bool:
    """One NetworkPolicyPort against a destination port (already the pod's port)."""
    if not isinstance(entry, dict):
        return False
    if str(entry.get("protocol") or "TCP").upper() != protocol:
        return False
    want = entry.get("port")
    if want is None:
        return True
    if isinstance(want, str) and not want.isdigit():
        return isinstance(server, Pod) and (server.labels is None or server.named_port(want, protocol) == port)
    if not isinstance(want, (int, str)):
        return False
    low = int(want)
    high = entry.get("endPort")
    return low <= port <= high if isinstance(high, int) else port == low


def ip_block_matches(block, host: str) -> bool:
    """An ipBlock against an external destination. A host name's address is unknown: any
    ipBlock is assumed to cover it (docs/network.md says so); an IP is checked for real."""
    if not isinstance(block, dict):
        return False
    try:
        addr = ipaddress.ip_address(host)
    except ValueError:
        return True
    try:
        if addr not in ipaddress.ip_network(str(block.get("cidr")), strict=False):
            return False
        return not any(addr in ipaddress.ip_network(str(e), strict=False) for e in L(block.get("except")))
    except ValueError:
        return False
