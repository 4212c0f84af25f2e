# METADATA
# title: Autoscaler targets a missing workload
# description: >-
#   A HorizontalPodAutoscaler (spec.scaleTargetRef) or VerticalPodAutoscaler
#   (spec.targetRef) that names a workload absent from the render does nothing,
#   so the workload is silently not autoscaled. Evaluated over the whole render.
# related_resources:
#   - https://kubernetes.io/docs/tasks/run-application/horizontal-pod-autoscale/
# custom:
#   id: DD-XRS-002
#   severity: MEDIUM
#   fix: Point the target reference at the kind and name of a workload rendered in the same namespace.
package drydock.rules.autoscaler_target

import data.drydock.lib.k8s
import rego.v1

ref_field := {"HorizontalPodAutoscaler": "scaleTargetRef", "VerticalPodAutoscaler": "targetRef"}

deny contains {"msg": msg, "doc": i, "path": ["spec", field]} if {
	some i, d in input.documents
	field := ref_field[d.object.kind]
	ref := d.object.spec[field]
	not exists(k8s.namespace(d.object), ref)
	msg := sprintf("%s spec.%s points at %s/%s, which is not in namespace %s of the render", [d.object.kind, field, ref.kind, ref.name, k8s.namespace(d.object)])
}

exists(ns, ref) if {
	keys := k8s.object_keys
	[ns, ref.kind, ref.name] in keys
}
