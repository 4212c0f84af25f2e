package drydock.rules.pdb_missing_test

import data.drydock.lib.testdata as t
import data.drydock.rules.pdb_missing
import rego.v1

replicated := object.union(t.deployment(t.pod_spec), {"spec": {"replicas": 3}})

pdb(selector) := {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": {"name": "app", "namespace": "shop"}, "spec": {"maxUnavailable": 1, "selector": selector}}

hpa := {"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "metadata": {"name": "app", "namespace": "shop"}, "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "app"}, "minReplicas": 2, "maxReplicas": 5}}

test_fail_three_replicas if {
	inp := t.inp([replicated])
	some d in pdb_missing.deny with input as inp
	contains(d.msg, "3 replicas")
}

test_fail_hpa if {
	inp := t.inp([t.deployment(t.pod_spec), hpa])
	count(pdb_missing.deny) == 1 with input as inp
}

test_fail_pdb_other_app if {
	inp := t.inp([replicated, pdb({"matchLabels": {"app.kubernetes.io/name": "other"}})])
	count(pdb_missing.deny) == 1 with input as inp
}

test_pass_pdb if {
	inp := t.inp([replicated, pdb({"matchLabels": t.selector_labels})])
	count(pdb_missing.deny) == 0 with input as inp
}

test_pass_match_expressions if {
	sel := {"matchExpressions": [{"key": "app.kubernetes.io/name", "operator": "In", "values": ["app", "web"]}]}
	inp := t.inp([replicated, pdb(sel)])
	count(pdb_missing.deny) == 0 with input as inp
}

test_pass_single_replica if {
	inp := t.inp([t.deployment(t.pod_spec)])
	count(pdb_missing.deny) == 0 with input as inp
}
