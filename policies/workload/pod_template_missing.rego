# METADATA
# title: Workload without a pod template
# description: >-
#   A Deployment, StatefulSet, DaemonSet, Job, CronJob, Rollout or other
#   pod-bearing object without a pod template (or with no containers in it) is
#   not a complete object: usually a patch or a kustomize overlay checked on
#   its own. None of the pod rules can judge it, so the gap is reported
#   instead of passing silently.
# related_resources:
#   - https://kubernetes.io/docs/concepts/workloads/pods/#pod-templates
# custom:
#   id: DD-WKL-014
#   severity: MEDIUM
#   fix: Check the complete object (e.g. the output of `kustomize build`), or add spec.template with its containers.
package drydock.rules.pod_template_missing

import data.drydock.lib.k8s
import rego.v1

deny contains {"msg": msg, "doc": i, "path": k8s.pod_spec_path(d.object)} if {
	some i, d in input.documents
	d.object.kind in k8s.pod_kinds # cheap filter first
	k8s.pod_bearing(d.object)
	not has_containers(d.object)
	msg := sprintf("%s has no pod template with containers at %s; its pods cannot be checked", [d.object.kind, concat(".", k8s.pod_spec_path(d.object))])
}

has_containers(obj) if count(k8s.pod_spec(obj).containers) > 0
