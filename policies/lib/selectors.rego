# Shared helpers: Kubernetes label selectors.
package drydock.lib.selectors

# This module uses k8s; `--engine opa-server` uploads the lib modules in file
# name order and OPA compiles each against those already uploaded, so a lib
# module may only use lib modules whose file names sort before its own.
import data.drydock.lib.k8s
import rego.v1

# label_selector_matches(sel, labels): a metav1.LabelSelector (matchLabels and
# matchExpressions, all ANDed) matches labels. An empty selector matches all.
label_selector_matches(sel, labels) if {
	every k, v in object.get(sel, "matchLabels", {}) {
		labels[k] == v
	}
	every e in object.get(sel, "matchExpressions", []) {
		expression_holds(e, labels)
	}
}

expression_holds(e, labels) if {
	e.operator == "In"
	labels[e.key] in e.values
}

# NotIn also holds when the key is absent. A helper, not `not labels[k] in v`:
# OPA hoists the undefined lookup out of the negation and the expression fails.
expression_holds(e, labels) if {
	e.operator == "NotIn"
	not value_in(labels, e.key, e.values)
}

expression_holds(e, labels) if {
	e.operator == "Exists"
	e.key in object.keys(labels)
}

expression_holds(e, labels) if {
	e.operator == "DoesNotExist"
	not e.key in object.keys(labels)
}

value_in(labels, key, values) if labels[key] in values

# map_matches(sel, labels): a plain map selector (Service spec.selector).
map_matches(sel, labels) if {
	every k, v in sel {
		labels[k] == v
	}
}

# is_empty_selector(sel): selects every pod of the namespace.
is_empty_selector(sel) if {
	count(object.get(sel, "matchLabels", {})) == 0
	count(object.get(sel, "matchExpressions", [])) == 0
}

# ---------------------------------------------------------------------------
# Selecting pod templates through k8s.pods_by_label: a selector's candidates
# are the pods carrying its most selective label pair; only those are matched
# in full. A selector with no usable pair (empty, only NotIn / Exists /
# DoesNotExist, non-string values) falls back to every pod of the namespace.
# ---------------------------------------------------------------------------

# selected_pods(ns, sel): indexes (in input.documents) of the pod-bearing
# documents of namespace ns whose pod template labels the LabelSelector sel
# matches. Same answer as testing label_selector_matches on every k8s.pods
# entry of ns.
selected_pods(ns, sel) := {i |
	pods := k8s.pods
	some i in candidates(ns, sel)
	label_selector_matches(sel, k8s.pod_labels(pods[i]))
}

# map_selected_pods(ns, sel): the same for a plain map selector (Service spec.selector).
map_selected_pods(ns, sel) := {i |
	pods := k8s.pods
	some i in candidates(ns, {"matchLabels": sel})
	map_matches(sel, k8s.pod_labels(pods[i]))
}

# pdb_selected_pods: indexes of the pod-bearing documents that some
# PodDisruptionBudget of their namespace selects.
pdb_selected_pods contains i if {
	some pdb in k8s.pdbs
	some i in selected_pods(k8s.namespace(pdb), pdb.spec.selector)
}

# default_deny_namespaces: namespaces with a default-deny NetworkPolicy
# (podSelector {} with policyTypes Ingress and Egress).
default_deny_namespaces contains k8s.namespace(d.object) if {
	some d in input.documents
	d.object.kind == "NetworkPolicy"
	is_empty_selector(object.get(d.object, ["spec", "podSelector"], {}))
	types := object.get(d.object, ["spec", "policyTypes"], [])
	"Ingress" in types
	"Egress" in types
}

# candidates(ns, sel): a superset of the pods of ns that sel matches: the
# smallest bucket of k8s.pods_by_label among its matchLabels pairs and its
# In expressions (union of the values' buckets).
candidates(ns, sel) := smallest(buckets(ns, sel), ns)

smallest(bs, _) := min(bs)[1] if count(bs) > 0

smallest(bs, ns) := object.get(k8s.pods_by_ns, ns, set()) if count(bs) == 0

# buckets(ns, sel): [size, indexes] for every label requirement of sel that
# the index can answer.
buckets(ns, sel) := array.concat(
	[[count(b), b] |
		idx := k8s.pods_by_label
		is_object(sel)
		some key, value in object.get(sel, "matchLabels", {})
		is_string(value)
		b := object.get(idx, [[ns, key, value]], set())
	],
	[[count(b), b] |
		idx := k8s.pods_by_label
		is_object(sel)
		some e in object.get(sel, "matchExpressions", [])
		e.operator == "In"
		strings_only(e.values)
		b := {i | some v in e.values; some i in object.get(idx, [[ns, e.key, v]], set())}
	],
)

strings_only(values) if {
	is_array(values)
	every v in values {
		is_string(v)
	}
}
