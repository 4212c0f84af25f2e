package drydock.rules.pdb_selector_test

import data.drydock.lib.testdata as t
import data.drydock.rules.pdb_selector
import rego.v1

pdb(selector) := {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": {"name": "app", "namespace": "shop"}, "spec": {"maxUnavailable": 1, "selector": selector}}

test_fail_no_match if {
	inp := t.inp([t.deployment(t.pod_spec), pdb({"matchLabels": {"app.kubernetes.io/name": "web"}})])
	count(pdb_selector.deny) == 1 with input as inp
}

test_fail_expression_excludes if {
	sel := {"matchExpressions": [{"key": "app.kubernetes.io/name", "operator": "NotIn", "values": ["app"]}]}
	inp := t.inp([t.deployment(t.pod_spec), pdb(sel)])
	count(pdb_selector.deny) == 1 with input as inp
}

test_fail_no_selector if {
	p := {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": {"name": "app", "namespace": "shop"}, "spec": {"maxUnavailable": 1}}
	inp := t.inp([t.deployment(t.pod_spec), p])
	count(pdb_selector.deny) == 1 with input as inp
}

test_pass_match if {
	inp := t.inp([t.deployment(t.pod_spec), pdb({"matchLabels": t.selector_labels})])
	count(pdb_selector.deny) == 0 with input as inp
}

test_pass_exists_expression if {
	sel := {"matchExpressions": [{"key": "app.kubernetes.io/part-of", "operator": "Exists"}]}
	inp := t.inp([t.deployment(t.pod_spec), pdb(sel)])
	count(pdb_selector.deny) == 0 with input as inp
}

test_pass_not_in_absent_key if {
	sel := {"matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["db"]}]}
	inp := t.inp([t.deployment(t.pod_spec), pdb(sel)])
	count(pdb_selector.deny) == 0 with input as inp
}
