# METADATA
# title: Replicated workload without a PodDisruptionBudget
# description: >-
#   A Deployment, StatefulSet or Rollout that runs more than one replica (or is
#   scaled by an HPA) needs a PodDisruptionBudget, otherwise a node drain can
#   evict all its pods at once.
# related_resources:
#   - https://kubernetes.io/docs/tasks/run-application/configure-pdb/
# custom:
#   id: DD-PLT-006
#   severity: LOW
#   fix: Add a PodDisruptionBudget in the same namespace whose selector matches the pod template labels (e.g. maxUnavailable 1).
package drydock.rules.pdb_missing

import data.drydock.lib.k8s
import data.drydock.lib.selectors
import rego.v1

deny contains {"msg": msg, "doc": i, "path": ["spec", "replicas"]} if {
	some i, p in k8s.scalable_pods
	p.obj.kind != "ReplicaSet"
	replicated(p.obj)
	not covered(i)
	msg := sprintf("%s runs %s but no PodDisruptionBudget selects its pods", [p.obj.kind, how_many(p.obj)])
}

replicated(obj) if k8s.replicas(obj) > 1

replicated(obj) if count(k8s.hpas_for(obj)) > 0

how_many(obj) := "under a HorizontalPodAutoscaler" if count(k8s.hpas_for(obj)) > 0

how_many(obj) := sprintf("%d replicas", [k8s.replicas(obj)]) if count(k8s.hpas_for(obj)) == 0

# covered(i): some PodDisruptionBudget of its namespace selects the pods of document i.
covered(i) if i in selectors.pdb_selected_pods
