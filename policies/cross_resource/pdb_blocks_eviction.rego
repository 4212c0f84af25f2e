# METADATA
# title: PodDisruptionBudget blocks every eviction
# description: >-
#   maxUnavailable 0, minAvailable 100% or a minAvailable at or above the
#   replica count of the selected workload means no pod may ever be evicted:
#   node drains and cluster upgrades hang. Evaluated over the whole render
#   (the replica count is the HPA's minReplicas when one targets the workload).
# related_resources:
#   - https://kubernetes.io/docs/tasks/run-application/configure-pdb/#think-about-how-your-application-reacts-to-disruptions
# custom:
#   id: DD-XRS-005
#   severity: HIGH
#   fix: Use maxUnavailable 1 (or a minAvailable below the replica count) so at least one pod can be evicted at a time.
package drydock.rules.pdb_blocks_eviction

import data.drydock.lib.k8s
import data.drydock.lib.selectors
import rego.v1

deny contains {"msg": msg, "doc": i, "path": ["spec", "maxUnavailable"]} if {
	some i, pdb in k8s.pdbs
	zero(pdb.spec.maxUnavailable)
	msg := sprintf("PodDisruptionBudget %s sets maxUnavailable %v: no pod can ever be evicted", [k8s.name(pdb), pdb.spec.maxUnavailable])
}

deny contains {"msg": msg, "doc": i, "path": ["spec", "minAvailable"]} if {
	some i, pdb in k8s.pdbs
	pdb.spec.minAvailable == "100%"
	msg := sprintf("PodDisruptionBudget %s sets minAvailable 100%%: no pod can ever be evicted", [k8s.name(pdb)])
}

deny contains {"msg": msg, "doc": i, "path": ["spec", "minAvailable"]} if {
	some i, pdb in k8s.pdbs
	is_number(pdb.spec.minAvailable)
	scalable := k8s.scalable_pods
	some j in selectors.selected_pods(k8s.namespace(pdb), pdb.spec.selector)
	p := scalable[j]
	pdb.spec.minAvailable >= k8s.min_replicas(p.obj)
	msg := sprintf("PodDisruptionBudget %s requires minAvailable %d but %s %s runs only %d replicas: no pod can be evicted", [k8s.name(pdb), pdb.spec.minAvailable, p.obj.kind, k8s.name(p.obj), k8s.min_replicas(p.obj)])
}

zero(v) if v == 0

zero(v) if v == "0%"

zero(v) if v == "0"
