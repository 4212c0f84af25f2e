# METADATA
# title: PodDisruptionBudget selects no pods
# description: >-
#   A PodDisruptionBudget whose selector matches no pod template in its
#   namespace protects nothing; the workload it was meant for can be evicted
#   all at once. Evaluated over the whole render.
# related_resources:
#   - https://kubernetes.io/docs/tasks/run-application/configure-pdb/#specifying-a-poddisruptionbudget
# custom:
#   id: DD-XRS-003
#   severity: MEDIUM
#   fix: Set spec.selector.matchLabels to the pod template labels of the workload in the same namespace.
package drydock.rules.pdb_selector

import data.drydock.lib.k8s
import data.drydock.lib.selectors
import rego.v1

deny contains {"msg": msg, "doc": i, "path": ["spec", "selector"]} if {
	some i, d in input.documents
	d.object.kind == "PodDisruptionBudget"
	not selects_something(d.object)
	msg := sprintf("PodDisruptionBudget %s selects no pod template in namespace %s", [k8s.name(d.object), k8s.namespace(d.object)])
}

selects_something(pdb) if count(selectors.selected_pods(k8s.namespace(pdb), pdb.spec.selector)) > 0
