# METADATA
# title: Service selects no pods
# description: >-
#   A Service whose selector matches no pod template in its namespace has no
#   endpoints: every request to it fails. Usually a label typo or a renamed
#   workload. Evaluated over the whole render. A Service that routes to the
#   pods an operator creates at runtime (Prometheus, Alertmanager, ... of
#   kube-prometheus-stack: no pod template is in the render) passes when a
#   selector value names a custom resource in its namespace: an object of an
#   API group that is not Kubernetes' own (a dotted group outside *.k8s.io).
# related_resources:
#   - https://kubernetes.io/docs/concepts/services-networking/service/#defining-a-service
# custom:
#   id: DD-XRS-001
#   severity: HIGH
#   fix: Make spec.selector equal to labels of the pod template it should route to (same namespace).
package drydock.rules.service_selector

import data.drydock.lib.k8s
import data.drydock.lib.selectors
import rego.v1

deny contains {"msg": msg, "doc": i, "path": ["spec", "selector"]} if {
	some i, d in input.documents
	d.object.kind == "Service"
	object.get(d.object, ["spec", "type"], "ClusterIP") != "ExternalName"
	sel := d.object.spec.selector
	count(sel) > 0
	not selects_something(k8s.namespace(d.object), sel)
	not operator_managed(k8s.namespace(d.object), sel)
	msg := sprintf("Service %s selector %v matches no pod template in namespace %s", [k8s.name(d.object), sel, k8s.namespace(d.object)])
}

selects_something(ns, sel) if count(selectors.map_selected_pods(ns, sel)) > 0

# operator_managed: a selector value is the name of a custom resource in the namespace,
# whose operator labels the pods it creates with that name.
operator_managed(ns, sel) if {
	some v in sel
	some d in input.documents
	k8s.name(d.object) == v
	k8s.namespace(d.object) == ns
	custom_resource(d.object)
}

custom_resource(obj) if {
	parts := split(obj.apiVersion, "/")
	count(parts) == 2
	contains(parts[0], ".")
	not endswith(parts[0], ".k8s.io")
}
