# METADATA
# title: Workload misses required labels
# description: >-
#   Workloads must carry the labels the environment requires (input
#   requiredLabels; by default app.kubernetes.io/name, part-of and managed-by)
#   so dashboards, cost reports and selectors can find them.
# related_resources:
#   - https://kubernetes.io/docs/concepts/overview/working-with-objects/common-labels/
# custom:
#   id: DD-PLT-007
#   severity: LOW
#   fix: Add the missing labels to metadata.labels of the workload (drydock adds the app.kubernetes.io labels itself).
package drydock.rules.required_labels

import data.drydock.lib.k8s
import rego.v1

default_required := ["app.kubernetes.io/name", "app.kubernetes.io/part-of", "app.kubernetes.io/managed-by"]

required := object.get(input, ["env", "requiredLabels"], default_required)

deny contains {"msg": msg, "doc": i, "path": ["metadata", "labels"]} if {
	some i, p in k8s.pods
	missing := [l | some l in required; not present(p.obj, l)]
	count(missing) > 0
	msg := sprintf("%s misses required labels: %s", [p.obj.kind, concat(", ", missing)])
}

present(obj, label) if k8s.labels(obj)[label] != ""
