"""NetworkPolicy semantics (generator/platform/netpol.py), one Kubernetes rule per test."""
from __future__ import annotations

import pytest

from generator.core import Document
from generator.platform.netpol import External, Pod, Policies, selector_matches

WEB = Pod("shop", "Deployment", "web", {"app": "web", "tier": "front"}, [("http", 3000, "TCP")])
API = Pod("shop", "Deployment", "api", {"app": "api"}, [("http", 8080, "TCP"), ("grpc", 9090, "TCP")])
OTHER = Pod("ops", "Deployment", "tool", {"app": "api"}, [])


def policies(*specs, ns_labels=None) -> Policies:
    docs = [Document("p.yaml", 1, {"kind": "NetworkPolicy", "metadata": {"name": f"p{i}", "namespace": s.pop("ns", "shop")},
                                   "spec": s}) for i, s in enumerate(specs)]
    return Policies(docs, ns_labels or {})


def ingress_ok(p: Policies, client: Pod, port: int, server: Pod = API, proto: str = "TCP") -> bool:
    return p.allows("Ingress", server, client, server, port, proto)[0]


def test_no_policy_selecting_the_pod_means_not_isolated():
    p = policies({"podSelector": {"matchLabels": {"app": "web"}}, "policyTypes": ["Ingress"]})
    assert ingress_ok(p, OTHER, 8080)


def test_policy_types_default_ingress_always_egress_only_with_rules():
    p = policies({"podSelector": {}, "ingress": []})
    assert not ingress_ok(p, WEB, 8080)  # Ingress isolated, no rule
    assert p.allows("Egress", WEB, API, API, 8080, "TCP")[0]  # no egress rules: egress not isolated
    p = policies({"podSelector": {}, "egress": [{"ports": [{"port": 53, "protocol": "UDP"}]}]})
    assert not p.allows("Egress", WEB, API, API, 8080, "TCP")[0]
    assert not ingress_ok(p, WEB, 8080)  # Ingress is still in the default policyTypes


def test_rules_of_all_policies_are_a_union():
    p = policies({"podSelector": {}, "policyTypes": ["Ingress"]},
                 {"podSelector": {"matchLabels": {"app": "api"}}, "ingress": [{"ports": [{"port": 9090}]}]})
    assert ingress_ok(p, WEB, 9090) and not ingress_ok(p, WEB, 8080)


def test_pod_and_namespace_selector_in_one_peer_is_and_in_two_peers_is_or():
    both = {"podSelector": {"matchLabels": {"app": "api"}}, "namespaceSelector": {"matchLabels": {"team": "ops"}}}
    labels = {"ops": {"team": "ops"}}
    p = policies({"podSelector": {}, "ingress": [{"from": [both]}]}, ns_labels=labels)
    assert ingress_ok(p, OTHER, 8080) and not ingress_ok(p, WEB, 8080)
    split = [{"podSelector": {"matchLabels": {"app": "web"}}}, {"namespaceSelector": {"matchLabels": {"team": "ops"}}}]
    p = policies({"podSelector": {}, "ingress": [{"from": split}]}, ns_labels=labels)
    assert ingress_ok(p, OTHER, 8080) and ingress_ok(p, WEB, 8080)


def test_pod_selector_alone_means_the_policy_namespace():
    p = policies({"podSelector": {}, "ingress": [{"from": [{"podSelector": {"matchLabels": {"app": "api"}}}]}]})
    assert not ingress_ok(p, OTHER, 8080, server=WEB)  # app=api, but in ops


def test_namespace_auto_label_and_unknown_namespaces():
    p = policies({"podSelector": {}, "ingress": [{"from": [{"namespaceSelector": {
        "matchLabels": {"kubernetes.io/metadata.name": "ops"}}}]}]})
    assert ingress_ok(p, OTHER, 8080)  # ops is not in the render: it still has the automatic label
    p = policies({"podSelector": {}, "ingress": [{"from": [{"namespaceSelector": {"matchLabels": {"team": "ops"}}}]}]})
    assert not ingress_ok(p, OTHER, 8080)  # and nothing else


@pytest.mark.parametrize("expr, labels, want", [
    ({"key": "tier", "operator": "In", "values": ["front", "edge"]}, {"tier": "front"}, True),
    ({"key": "tier", "operator": "In", "values": ["edge"]}, {"tier": "front"}, False),
    ({"key": "tier", "operator": "NotIn", "values": ["edge"]}, {}, True),
    ({"key": "tier", "operator": "NotIn", "values": ["front"]}, {"tier": "front"}, False),
    ({"key": "tier", "operator": "Exists"}, {"tier": ""}, True),
    ({"key": "tier", "operator": "DoesNotExist"}, {"tier": "x"}, False),
    ({"key": "tier", "operator": "Bogus"}, {"tier": "x"}, False),
])
def test_match_expressions(expr, labels, want):
    assert selector_matches({"matchExpressions": [expr]}, labels) is want


def test_empty_from_and_ports_mean_everything_and_named_ports_use_the_server_pod():
    p = policies({"podSelector": {}, "ingress": [{}]})
    assert ingress_ok(p, OTHER, 12345)
    p = policies({"podSelector": {}, "ingress": [{"ports": [{"port": "grpc"}]}]})
    assert ingress_ok(p, WEB, 9090) and not ingress_ok(p, WEB, 8080)
    p = policies({"podSelector": {}, "ingress": [{"ports": [{"protocol": "TCP"}]}]})  # no port: every TCP port
    assert ingress_ok(p, WEB, 1) and not ingress_ok(p, WEB, 1, proto="UDP")
    p = policies({"podSelector": {}, "ingress": [{"ports": [{"port": 8000, "endPort": 8999}]}]})
    assert ingress_ok(p, WEB, 8080) and not ingress_ok(p, WEB, 9090)


def test_ip_block_with_except_and_never_for_pods():
    p = policies({"podSelector": {}, "policyTypes": ["Egress"],
                  "egress": [{"to": [{"ipBlock": {"cidr": "10.0.0.0/8", "except": ["10.1.0.0/16"]}}]}]})
    ok = lambda dest: p.allows("Egress", WEB, dest, dest, 5432, "TCP")[0]
    assert ok(External("10.2.3.4")) and not ok(External("10.1.2.3")) and not ok(External("192.168.0.1"))
    assert ok(External("db.example.com"))  # a name's address is unknown: assumed inside
    assert not ok(API)  # pod IPs are never matched by ipBlock
