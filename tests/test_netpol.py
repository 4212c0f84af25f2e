"""NetworkPolicy semantics over the rendered policies, with a small evaluator.

Traffic from A to B on a port is allowed when the egress side of A allows it AND the
ingress side of B allows it. A side with no policy selecting the pod for that
direction is open; otherwise some rule of some selecting policy must match (peer
and port). Policies are additive. Pods outside the rendered namespace (ingress-nginx,
Prometheus, kube-dns) are modelled with the labels of their usual Helm charts and have
no policies of their own here. External endpoints (managed datastores) are IPs.
"""
from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

import pytest

from .test_platform_support import ENVS, objects, of_kind, platform, pod_labels

NS = "ecommerce"


@dataclass(frozen=True)
class Endpoint:
    namespace: str | None  # None: outside the cluster
    labels: tuple[tuple[str, str], ...] = ()
    ip: str | None = None
    named_ports: tuple[tuple[str, int], ...] = field(default=())

    @property
    def label_map(self) -> dict[str, str]:
        return dict(self.labels)


def namespace_labels(ns: str) -> dict[str, str]:
    return {"kubernetes.io/metadata.name": ns}


def selector_matches(sel: dict | None, lbls: dict[str, str]) -> bool:
    if sel is None:
        return False
    for k, v in (sel.get("matchLabels") or {}).items():
        if lbls.get(k) != v:
            return False
    for expr in sel.get("matchExpressions") or []:
        key, op, values = expr["key"], expr["operator"], expr.get("values", [])
        if op == "In" and lbls.get(key) not in values:
            return False
        if op == "NotIn" and key in lbls and lbls[key] in values:
            return False
        if op == "Exists" and key not in lbls:
            return False
        if op == "DoesNotExist" and key in lbls:
            return False
    return True


def peer_matches(peer: dict, policy_ns: str, other: Endpoint) -> bool:
    if "ipBlock" in peer:
        if other.ip is None:
            return False  # pod IPs are not modelled; our policies select pods by label
        ip = ipaddress.ip_address(other.ip)
        block = peer["ipBlock"]
        return ip in ipaddress.ip_network(block["cidr"]) and not any(
            ip in ipaddress.ip_network(e) for e in block.get("except", []))
    if other.namespace is None:
        return False
    if "namespaceSelector" in peer:
        if not selector_matches(peer["namespaceSelector"], namespace_labels(other.namespace)):
            return False
    elif other.namespace != policy_ns:
        return False
    if "podSelector" in peer:
        return selector_matches(peer["podSelector"], other.label_map)
    return True


def port_matches(ports: list[dict] | None, port: int, protocol: str, target: Endpoint) -> bool:
    if not ports:
        return True
    for p in ports:
        if p.get("protocol", "TCP") != protocol:
            continue
        want = p.get("port")
        if want is None:
            return True
        if isinstance(want, str):
            want = dict(target.named_ports).get(want)
        end = p.get("endPort", want)
        if want is not None and want <= port <= end:
            return True
    return False


def side_allows(policies: list[dict], pod: Endpoint, other: Endpoint, port: int, protocol: str, direction: str,
                port_owner: Endpoint) -> bool:
    if pod.namespace is None or pod.namespace != NS:
        return True  # not isolated by anything we render
    key, peer_key = ("egress", "to") if direction == "Egress" else ("ingress", "from")
    selecting = [p for p in policies if p["metadata"]["namespace"] == pod.namespace
                 and selector_matches(p["spec"]["podSelector"], pod.label_map)
                 and direction in p["spec"].get("policyTypes", ["Ingress"])]
    if not selecting:
        return True
    for pol in selecting:
        for rule in pol["spec"].get(key) or []:
            peers = rule.get(peer_key)
            if (not peers or any(peer_matches(pe, pol["metadata"]["namespace"], other) for pe in peers)) and \
                    port_matches(rule.get("ports"), port, protocol, port_owner):
                return True
    return False


def allowed(policies: list[dict], src: Endpoint, dst: Endpoint, port: int, protocol: str = "TCP") -> bool:
    return (side_allows(policies, src, dst, port, protocol, "Egress", dst)
            and side_allows(policies, dst, src, port, protocol, "Ingress", dst))


# -- the rendered world --------------------------------------------------------------------
def workloads(env: str) -> dict[str, Endpoint]:
    out = {}
    for obj in objects(env):
        if obj["kind"] in ("Deployment", "Rollout", "StatefulSet", "Job"):
            containers = obj["spec"]["template"]["spec"]["containers"]
            named = tuple((p["name"], p["containerPort"]) for c in containers for p in c.get("ports", []))
            out[obj["metadata"]["name"]] = Endpoint(NS, tuple(sorted(pod_labels(obj).items())), named_ports=named)
    return out


INGRESS_NGINX = Endpoint("ingress-nginx", (("app.kubernetes.io/name", "ingress-nginx"),))
PROMETHEUS = Endpoint("monitoring", (("app.kubernetes.io/name", "prometheus"),))
KUBE_DNS = Endpoint("kube-system", (("k8s-app", "kube-dns"),))
OTEL = Endpoint("observability", (("app.kubernetes.io/name", "opentelemetry-collector"),))  # where the add-on runs
RDS = Endpoint(None, ip="10.20.31.7")  # a managed endpoint in a private subnet
INTERNET = Endpoint(None, ip="93.184.216.34")


def policies(env: str) -> list[dict]:
    return of_kind(env, "NetworkPolicy")


# -- the evaluator itself ------------------------------------------------------------------
def test_evaluator_basics():
    a = Endpoint(NS, (("app", "a"),))
    b = Endpoint(NS, (("app", "b"),))
    assert allowed([], a, b, 80)  # no policies: open
    deny = {"metadata": {"namespace": NS}, "spec": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}}
    assert not allowed([deny], a, b, 80)
    egress = {"metadata": {"namespace": NS}, "spec": {"podSelector": {"matchLabels": {"app": "a"}},
              "policyTypes": ["Egress"], "egress": [{"to": [{"podSelector": {"matchLabels": {"app": "b"}}}],
                                                     "ports": [{"port": 80}]}]}}
    assert not allowed([deny, egress], a, b, 80)  # ingress side of b still closed
    ingress = {"metadata": {"namespace": NS}, "spec": {"podSelector": {"matchLabels": {"app": "b"}},
               "policyTypes": ["Ingress"], "ingress": [{"from": [{"podSelector": {"matchLabels": {"app": "a"}}}]}]}}
    assert allowed([deny, egress, ingress], a, b, 80)
    assert not allowed([deny, egress, ingress], a, b, 81)
    assert not allowed([deny, egress, ingress], b, a, 80)


# -- the platform's policies ---------------------------------------------------------------
@pytest.mark.parametrize("env", ("dev", "staging"))
def test_order_service_reaches_its_database_and_the_queue(env):
    w, pol = workloads(env), policies(env)
    assert allowed(pol, w["order-service"], w["postgresql"], 5432)
    assert allowed(pol, w["order-service"], w["rabbitmq"], 5672)
    assert not allowed(pol, w["order-service"], w["postgresql"], 5433)
    assert not allowed(pol, w["order-service"], w["mongodb"], 27017)
    assert not allowed(pol, w["order-service"], w["redis"], 6379)


@pytest.mark.parametrize("env", ("dev", "staging"))
def test_frontend_cannot_reach_any_datastore(env):
    w, pol = workloads(env), policies(env)
    for name, port in (("postgresql", 5432), ("mongodb", 27017), ("redis", 6379), ("rabbitmq", 5672)):
        assert not allowed(pol, w["frontend"], w[name], port), name


@pytest.mark.parametrize("env", ENVS)
def test_calls_follow_the_dependency_graph(env):
    w, pol, p = workloads(env), policies(env), platform()
    for caller in p.services.values():
        for callee in p.services.values():
            if caller.name == callee.name:
                continue
            expect = callee.name in caller.depends_on_services
            assert allowed(pol, w[caller.name], w[callee.name], callee.primary_port.port) == expect, \
                (caller.name, callee.name)


@pytest.mark.parametrize("env", ENVS)
def test_edge_monitoring_and_dns(env):
    w, pol, p = workloads(env), policies(env), platform()
    for svc in p.services.values():
        assert allowed(pol, INGRESS_NGINX, w[svc.name], 8080) == bool(svc.ingress_host), svc.name
        assert allowed(pol, PROMETHEUS, w[svc.name], 8080)
        assert allowed(pol, w[svc.name], KUBE_DNS, 53, "UDP") and allowed(pol, w[svc.name], KUBE_DNS, 53, "TCP")
        assert not allowed(pol, w[svc.name], INTERNET, 443)
        assert allowed(pol, w[svc.name], OTEL, 4317) == (env == "prod")
    assert not allowed(pol, INGRESS_NGINX, w["admin-panel"], 9090)


@pytest.mark.parametrize("env", ("dev", "staging"))
def test_migration_jobs_reach_only_their_database(env):
    w, pol = workloads(env), policies(env)
    assert allowed(pol, w["order-service-migrate"], w["postgresql"], 5432)
    assert allowed(pol, w["product-service-migrate"], w["mongodb"], 27017)
    assert not allowed(pol, w["order-service-migrate"], w["rabbitmq"], 5672)
    assert not allowed(pol, w["order-service-migrate"], w["order-service"], 8080)


def test_prod_reaches_managed_datastores_only_in_the_private_range():
    w, pol = workloads("prod"), policies("prod")
    assert allowed(pol, w["order-service"], RDS, 5432)
    assert allowed(pol, w["order-service"], RDS, 5671)  # Amazon MQ, AMQPS
    assert allowed(pol, w["order-service-migrate"], RDS, 5432)
    assert not allowed(pol, w["order-service"], INTERNET, 5432)
    assert not allowed(pol, w["frontend"], RDS, 5432)
    assert not allowed(pol, w["order-service"], RDS, 27017)  # not a MongoDB user
    assert not of_kind("prod", "StatefulSet")


@pytest.mark.parametrize("env", ENVS)
def test_removing_an_allow_rule_breaks_the_flow(env):
    """The evaluator really reads the policies: without order-service's own policy, default-deny wins."""
    w = workloads(env)
    pol = [p for p in policies(env) if p["metadata"]["name"] != "order-service"]
    target = RDS if env == "prod" else w["postgresql"]
    assert not allowed(pol, w["order-service"], target, 5432)
