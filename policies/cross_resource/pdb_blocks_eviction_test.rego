package drydock.rules.pdb_blocks_eviction_test

import data.drydock.lib.testdata as t
import data.drydock.rules.pdb_blocks_eviction
import rego.v1

pdb(budget) := {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": {"name": "app", "namespace": "shop"}, "spec": object.union({"selector": {"matchLabels": t.selector_labels}}, budget)}

two := object.union(t.deployment(t.pod_spec), {"spec": {"replicas": 2}})

test_fail_max_unavailable_zero if {
	inp := t.inp([two, pdb({"maxUnavailable": 0})])
	count(pdb_blocks_eviction.deny) == 1 with input as inp
}

test_fail_min_available_equals_replicas if {
	inp := t.inp([two, pdb({"minAvailable": 2})])
	some d in pdb_blocks_eviction.deny with input as inp
	contains(d.msg, "only 2 replicas")
}

test_fail_min_available_hpa_min if {
	hpa := {"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "metadata": {"name": "app", "namespace": "shop"}, "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "app"}, "minReplicas": 3, "maxReplicas": 6}}
	inp := t.inp([two, hpa, pdb({"minAvailable": 3})])
	count(pdb_blocks_eviction.deny) == 1 with input as inp
}

test_fail_hundred_percent if {
	inp := t.inp([two, pdb({"minAvailable": "100%"})])
	count(pdb_blocks_eviction.deny) == 1 with input as inp
}

test_pass_max_unavailable_one if {
	inp := t.inp([two, pdb({"maxUnavailable": 1})])
	count(pdb_blocks_eviction.deny) == 0 with input as inp
}

test_pass_min_available_below if {
	inp := t.inp([two, pdb({"minAvailable": 1}), pdb({"minAvailable": "50%"})])
	count(pdb_blocks_eviction.deny) == 0 with input as inp
}
