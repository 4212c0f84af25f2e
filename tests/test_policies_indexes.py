"""The indexed helpers of policies/lib answer what a scan of the whole render answers.

The cross-resource rules look documents up in indexes that the engine computes
once per evaluation (`k8s.pods_by_label`, `k8s.object_keys`,
`selectors.selected_pods`, ...) instead of comparing every document with every
other. Each test here evaluates the indexed helper and a brute-force reference
written the way the rules used to be (scan `input.documents` / `k8s.pods` and
test `label_selector_matches`, `map_matches`, field equality) over the policy
fixtures and a synthetic render full of awkward cases (several namespaces,
duplicate objects, label values that are not strings, missing and empty
labels, every matchExpressions operator, values lists that are not lists), under
regorus and, when `opa-golib-python-bindings` is installed, under real OPA.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from generator.gate.engines.rego import build_input, default_policy_dir, load_policies

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_policies_fixtures import BAD, GOOD, load_docs  # noqa: E402

# Reference module: indexed helper next to its brute-force twin, returned as
# {"name": [[indexed, brute], ...]}; the test compares the two sides. Head
# values are bound in the body: regorus drops a whole partial set when a head
# term such as `ref.kind` is undefined for one binding.
CHECK = '''package drydock.index_check

import data.drydock.lib.k8s
import data.drydock.lib.net
import data.drydock.lib.selectors
import rego.v1

namespaces := {k8s.namespace(d.object) | some d in input.documents} | {"default", "nowhere"}

label_selectors contains sel if {
	some d in input.documents
	d.object.kind == "PodDisruptionBudget"
	sel := d.object.spec.selector
}

label_selectors contains sel if {
	some d in input.documents
	d.object.kind == "NetworkPolicy"
	sel := object.get(d.object, ["spec", "podSelector"], {})
}

label_selectors contains sel if some sel in input.extra_label_selectors

map_selectors contains sel if {
	some d in input.documents
	d.object.kind == "Service"
	sel := d.object.spec.selector
}

map_selectors contains sel if some sel in input.extra_map_selectors

brute_selected(ns, sel) := {i |
	some i, p in k8s.pods
	k8s.namespace(p.obj) == ns
	selectors.label_selector_matches(sel, k8s.pod_labels(p))
}

brute_map_selected(ns, sel) := {i |
	some i, p in k8s.pods
	k8s.namespace(p.obj) == ns
	selectors.map_matches(sel, k8s.pod_labels(p))
}

selected_pods contains [ns, sel, indexed, brute] if {
	some ns in namespaces
	some sel in label_selectors
	indexed := selectors.selected_pods(ns, sel)
	brute := brute_selected(ns, sel)
}

map_selected_pods contains [ns, sel, indexed, brute] if {
	some ns in namespaces
	some sel in map_selectors
	is_object(sel)
	indexed := selectors.map_selected_pods(ns, sel)
	brute := brute_map_selected(ns, sel)
}

pdb_selected_pods := [selectors.pdb_selected_pods, {i |
	some i, p in k8s.pods
	some d in input.documents
	d.object.kind == "PodDisruptionBudget"
	k8s.namespace(d.object) == k8s.namespace(p.obj)
	selectors.label_selector_matches(d.object.spec.selector, k8s.pod_labels(p))
}]

default_deny_namespaces := [selectors.default_deny_namespaces, {ns |
	some ns in namespaces
	some d in input.documents
	d.object.kind == "NetworkPolicy"
	k8s.namespace(d.object) == ns
	selectors.is_empty_selector(object.get(d.object, ["spec", "podSelector"], {}))
	types := object.get(d.object, ["spec", "policyTypes"], [])
	"Ingress" in types
	"Egress" in types
}]

hpas_for contains [i, indexed, brute] if {
	some i, p in k8s.pods
	indexed := k8s.hpas_for(p.obj)
	brute := [d.object |
		some d in input.documents
		d.object.kind == "HorizontalPodAutoscaler"
		k8s.namespace(d.object) == k8s.namespace(p.obj)
		d.object.spec.scaleTargetRef.kind == p.obj.kind
		d.object.spec.scaleTargetRef.name == k8s.name(p.obj)
	]
}

# Every identity the render names (its own documents, autoscaler targets,
# Ingress backends) plus a few that exist nowhere.
identities contains key if {
	some d in input.documents
	key := [k8s.namespace(d.object), d.object.kind, k8s.name(d.object)]
}

identities contains key if {
	some d in input.documents
	d.object.kind == "HorizontalPodAutoscaler"
	ref := d.object.spec.scaleTargetRef
	key := [k8s.namespace(d.object), ref.kind, ref.name]
}

identities contains key if {
	some d in input.documents
	d.object.kind == "VerticalPodAutoscaler"
	ref := d.object.spec.targetRef
	key := [k8s.namespace(d.object), ref.kind, ref.name]
}

identities contains key if {
	some ing in net.ingresses
	some b in net.backends(ing)
	key := [k8s.namespace(ing), "Service", b[1].name]
}

identities contains x if some x in [["nowhere", "Service", "x"], ["default", "Deployment", "<unnamed>"]]

object_keys contains [key, indexed, brute] if {
	some key in identities
	indexed := key in k8s.object_keys
	brute := exists(key)
}

exists(key) := true if brute_exists(key)

exists(key) := false if not brute_exists(key)

brute_exists([ns, kind, name]) if {
	some d in input.documents
	d.object.kind == kind
	k8s.name(d.object) == name
	k8s.namespace(d.object) == ns
}

services_by_ns_name contains [[ns, name], indexed, brute] if {
	some [ns, _, name] in identities
	indexed := object.get(k8s.services_by_ns_name, [[ns, name]], set())
	brute := {i |
		some i, d in input.documents
		d.object.kind == "Service"
		k8s.name(d.object) == name
		k8s.namespace(d.object) == ns
	}
}

tokenless_service_accounts contains [key, indexed, brute] if {
	some [ns, _, name] in identities
	key := [ns, name]
	indexed := key in k8s.tokenless_service_accounts
	brute := tokenless(key)
}

tokenless(key) := true if brute_tokenless(key)

tokenless(key) := false if not brute_tokenless(key)

brute_tokenless([ns, name]) if {
	some d in input.documents
	d.object.kind == "ServiceAccount"
	k8s.name(d.object) == name
	k8s.namespace(d.object) == ns
	d.object.automountServiceAccountToken == false
}

pods_by_ns contains [ns, indexed, brute] if {
	some ns in namespaces
	indexed := object.get(k8s.pods_by_ns, ns, set())
	brute := {i | some i, p in k8s.pods; k8s.namespace(p.obj) == ns}
}

namespace_docs contains [ns, indexed, brute] if {
	some ns in namespaces
	indexed := object.get(k8s.namespace_docs, ns, set())
	brute := {i |
		some i, d in input.documents
		d.object.kind == "Namespace"
		k8s.name(d.object) == ns
	}
}

ingresses := [object.keys(net.ingresses), {i | some i, d in input.documents; net.is_ingress(d.object)}]

pdbs := [object.keys(k8s.pdbs), {i | some i, d in input.documents; d.object.kind == "PodDisruptionBudget"}]

report := {
	"selected_pods": [[x[2], x[3]] | some x in selected_pods],
	"map_selected_pods": [[x[2], x[3]] | some x in map_selected_pods],
	"pdb_selected_pods": [pdb_selected_pods],
	"default_deny_namespaces": [default_deny_namespaces],
	"hpas_for": [[x[1], x[2]] | some x in hpas_for],
	"object_keys": [[x[1], x[2]] | some x in object_keys],
	"services_by_ns_name": [[x[1], x[2]] | some x in services_by_ns_name],
	"tokenless_service_accounts": [[x[1], x[2]] | some x in tokenless_service_accounts],
	"pods_by_ns": [[x[1], x[2]] | some x in pods_by_ns],
	"namespace_docs": [[x[1], x[2]] | some x in namespace_docs],
	"ingresses": [ingresses],
	"pdbs": [pdbs],
}
'''


def _labels(name: str, **extra) -> dict:
    return {"app.kubernetes.io/name": name, "app.kubernetes.io/part-of": "shop", **extra}


def _workload(kind: str, name: str, ns: str | None, labels, replicas: int = 2, api: str = "apps/v1") -> dict:
    meta = {"name": name, **({"namespace": ns} if ns else {})}
    template = {"metadata": {"labels": labels} if labels is not None else {}, "spec": {"containers": [{"name": "app"}]}}
    if kind == "Pod":
        return {"apiVersion": "v1", "kind": "Pod", "metadata": {**meta, "labels": labels}, "spec": template["spec"]}
    if kind == "CronJob":
        return {"apiVersion": "batch/v1", "kind": kind, "metadata": meta,
                "spec": {"jobTemplate": {"spec": {"template": template}}}}
    return {"apiVersion": api, "kind": kind, "metadata": meta, "spec": {"replicas": replicas, "template": template}}


def synthetic_objects() -> list[dict]:
    """A render with every shape the indexes have to get right."""
    objs = [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}},
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}},  # repeated
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "ops"}},
        _workload("Deployment", "web", "shop", _labels("web", tier="front")),
        _workload("Deployment", "web", "shop", _labels("web", tier="front")),  # repeated
        _workload("StatefulSet", "db", "shop", _labels("db", tier="data")),
        _workload("Rollout", "api", "shop", _labels("api", tier="back"), api="argoproj.io/v1alpha1"),
        _workload("Rollout", "fake", "shop", _labels("fake"), api="example.com/v1"),  # not an Argo Rollout
        _workload("CronJob", "report", "shop", _labels("report")),
        _workload("Pod", "debug", None, _labels("debug")),  # namespace "default"
        _workload("Deployment", "web", "ops", _labels("web", tier="front")),  # same labels, other namespace
        _workload("Deployment", "numbers", "ops", {"app.kubernetes.io/name": 7, "release": True, "tier": "1"}),
        _workload("Deployment", "bare", "ops", None),  # no labels at all
        _workload("DaemonSet", "odd", "ops", {}),  # empty labels
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": "shop"},
         "spec": {"selector": {"app.kubernetes.io/name": "web"}, "ports": [{"name": "http", "port": 80}]}},
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": "shop"},  # repeated name
         "spec": {"selector": {"tier": "front"}, "ports": [{"name": "grpc", "port": 90}]}},
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "nums", "namespace": "ops"},
         "spec": {"selector": {"app.kubernetes.io/name": 7}}},
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "none", "namespace": "ops"},
         "spec": {"selector": {"app.kubernetes.io/name": "nothing"}}},
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "web", "namespace": "shop"},
         "automountServiceAccountToken": False},
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "db", "namespace": "shop"}},
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "web", "namespace": "ops"},
         "automountServiceAccountToken": True},
        {"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "metadata": {"name": "a", "namespace": "shop"},
         "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "web"}, "minReplicas": 3}},
        {"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "metadata": {"name": "b", "namespace": "shop"},
         "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "web"}, "minReplicas": 2}},
        {"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "metadata": {"name": "c", "namespace": "ops"},
         "spec": {"scaleTargetRef": {"kind": "Rollout", "name": "api"}}},  # wrong namespace
        {"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "metadata": {"name": "d", "namespace": "shop"},
         "spec": {"scaleTargetRef": {"name": "db"}}},  # no kind
        {"apiVersion": "autoscaling.k8s.io/v1", "kind": "VerticalPodAutoscaler", "metadata": {"name": "v", "namespace": "shop"},
         "spec": {"targetRef": {"kind": "StatefulSet", "name": "db"}}},
        {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": {"name": "web", "namespace": "shop"},
         "spec": {"selector": {"matchLabels": {"app.kubernetes.io/name": "web"}}, "minAvailable": 2}},
        {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": {"name": "all", "namespace": "ops"},
         "spec": {"selector": {}, "maxUnavailable": 1}},
        {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": {"name": "nosel", "namespace": "ops"},
         "spec": {"maxUnavailable": 1}},
        {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": {"name": "expr", "namespace": "shop"},
         "spec": {"selector": {"matchExpressions": [{"key": "tier", "operator": "In", "values": ["data", "back"]}]}}},
        {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": {"name": "deny", "namespace": "shop"},
         "spec": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}},
        {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": {"name": "half", "namespace": "ops"},
         "spec": {"podSelector": {}, "policyTypes": ["Ingress"]}},
        {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": {"name": "web", "namespace": "ops"},
         "spec": {"podSelector": {"matchLabels": {"tier": "front"}, "matchExpressions": [
             {"key": "release", "operator": "DoesNotExist"}]}}},
        {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": {"name": "web", "namespace": "shop"},
         "spec": {"defaultBackend": {"service": {"name": "web", "port": {"number": 80}}},
                  "rules": [{"http": {"paths": [{"backend": {"service": {"name": "ghost", "port": {"name": "http"}}}}]}}]}},
        {"apiVersion": "extensions/v1beta1", "kind": "Ingress", "metadata": {"name": "old", "namespace": "shop"}, "spec": {}},
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"namespace": "ops"}},  # no name
        {"apiVersion": "v1", "metadata": {"name": "kindless"}},
    ]
    return objs


EXTRA_LABEL_SELECTORS = [
    {},
    {"matchLabels": {}},
    {"matchLabels": {"app.kubernetes.io/name": "web"}},
    {"matchLabels": {"app.kubernetes.io/part-of": "shop", "tier": "front"}},
    {"matchLabels": {"app.kubernetes.io/part-of": "shop", "app.kubernetes.io/name": "nothing"}},
    {"matchLabels": {"app.kubernetes.io/name": 7}},
    {"matchLabels": {"release": True}},
    {"matchLabels": {"tier": 1}},
    {"matchLabels": ["tier", "front"]},
    {"matchExpressions": [{"key": "tier", "operator": "In", "values": ["front", "data"]}]},
    {"matchExpressions": [{"key": "tier", "operator": "In", "values": []}]},
    {"matchExpressions": [{"key": "tier", "operator": "In", "values": ["front", 1]}]},
    {"matchExpressions": [{"key": "app.kubernetes.io/name", "operator": "In", "values": [7]}]},
    {"matchExpressions": [{"key": "tier", "operator": "In", "values": {"a": "front"}}]},
    {"matchExpressions": [{"operator": "In", "values": ["front"]}]},
    {"matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["front"]}]},
    {"matchExpressions": [{"key": "tier", "operator": "Exists"}]},
    {"matchExpressions": [{"key": "tier", "operator": "DoesNotExist"}]},
    {"matchExpressions": [{"key": "tier", "operator": "Bogus", "values": ["front"]}]},
    {"matchLabels": {"app.kubernetes.io/part-of": "shop"},
     "matchExpressions": [{"key": "tier", "operator": "In", "values": ["back"]},
                          {"key": "app.kubernetes.io/name", "operator": "NotIn", "values": ["db"]}]},
    {"matchLabels": {"tier": "front"}, "matchExpressions": [{"key": "tier", "operator": "In", "values": ["data"]}]},
]

EXTRA_MAP_SELECTORS = [
    {},
    {"app.kubernetes.io/name": "web"},
    {"app.kubernetes.io/part-of": "shop", "tier": "data"},
    {"app.kubernetes.io/name": 7},
    {"tier": "1"},
    {"tier": 1},
    {"nothing": "here"},
]


def _inputs(corpus: str) -> list[tuple[str, dict]]:
    """The synthetic render (every awkward case, built here), or every policy fixture file."""
    from generator.core import Document

    if corpus == "synthetic":
        out = [("synthetic", build_input([Document("synthetic.yaml", n + 1, o) for n, o in enumerate(synthetic_objects())], {}))]
    else:
        out = [(path.stem, build_input(load_docs(path), {})) for path in GOOD + BAD]
    for name, inp in out:
        inp["extra_label_selectors"] = EXTRA_LABEL_SELECTORS
        inp["extra_map_selectors"] = EXTRA_MAP_SELECTORS
    return out


def _regorus(modules, inp: dict) -> dict:
    import regorus

    engine = regorus.Engine()
    for path, text in modules:
        engine.add_policy(path, text)
    engine.set_input_json(json.dumps(inp))
    result = json.loads(engine.eval_query_as_json("data.drydock.index_check.report"))
    return result["result"][0]["expressions"][0]["value"]


def _opa(modules, inp: dict) -> dict:
    opa_bindings = pytest.importorskip("opa_bindings")
    engine = opa_bindings.OpaEngine()
    for path, text in modules:
        engine.add_policy(path, text)
    return engine.eval_document("drydock.index_check.report", inp)


def _normal(value):
    """Sets come back as JSON arrays; compare them without caring about order."""
    if isinstance(value, list):
        return sorted((_normal(v) for v in value), key=lambda v: json.dumps(v, sort_keys=True))
    if isinstance(value, dict):
        return {k: _normal(v) for k, v in value.items()}
    return value


@pytest.fixture(scope="module")
def modules():
    bundle = load_policies([default_policy_dir()])
    return [(str(m.path), m.text) for m in bundle.modules] + [("index_check.rego", CHECK)]


@pytest.mark.parametrize("engine", ["regorus", pytest.param("opa", marks=pytest.mark.slow)])  # OPA double: slow
@pytest.mark.parametrize("corpus", ["synthetic", pytest.param("fixtures", marks=pytest.mark.slow)])  # 59 files to load
def test_indexed_helpers_match_brute_force(modules, engine, corpus):
    evaluate = _regorus if engine == "regorus" else _opa
    nonempty: dict[str, int] = {}
    for name, inp in _inputs(corpus):
        report = evaluate(modules, inp)
        assert set(report) == {"selected_pods", "map_selected_pods", "pdb_selected_pods", "default_deny_namespaces",
                               "hpas_for", "object_keys", "services_by_ns_name", "tokenless_service_accounts",
                               "pods_by_ns", "namespace_docs", "ingresses", "pdbs"}, name
        for helper, pairs in report.items():
            for indexed, brute in pairs:
                assert _normal(indexed) == _normal(brute), f"{name}: {helper}: indexed {indexed} != brute force {brute}"
                if brute not in ([], False, None):
                    nonempty[helper] = nonempty.get(helper, 0) + 1
    # Not vacuous: every helper found something somewhere.
    assert set(nonempty) == {"selected_pods", "map_selected_pods", "pdb_selected_pods", "default_deny_namespaces",
                             "hpas_for", "object_keys", "services_by_ns_name", "tokenless_service_accounts",
                             "pods_by_ns", "namespace_docs", "ingresses", "pdbs"}


def test_synthetic_render_exercises_the_awkward_cases(modules):
    """Pin a few answers so the reference itself cannot drift into agreeing on nothing."""
    report = _regorus(modules, _inputs("synthetic")[0][1])
    objs = synthetic_objects()
    index = {(o.get("kind"), (o.get("metadata") or {}).get("namespace"), (o.get("metadata") or {}).get("name")): n
             for n, o in reversed(list(enumerate(objs)))}
    web_shop = [index[("Deployment", "shop", "web")], index[("Deployment", "shop", "web")] + 1]
    selected = {json.dumps(b) for _, b in report["selected_pods"]}
    assert json.dumps(sorted(web_shop)) in selected
    [[pdb_indexed, _]] = report["pdb_selected_pods"]
    assert index[("Rollout", "shop", "api")] in pdb_indexed and index[("StatefulSet", "shop", "db")] in pdb_indexed
    assert index[("Rollout", "shop", "fake")] not in pdb_indexed
    [[deny_indexed, _]] = report["default_deny_namespaces"]
    assert deny_indexed == ["shop"]
    assert any(len(b) == 2 for _, b in report["hpas_for"])
