# METADATA
# title: NetworkPolicy selects no pods
# description: >-
#   A NetworkPolicy with a non-empty podSelector that matches no pod template
#   in its namespace has no effect: the flows it was meant to allow (or
#   restrict) are not what you think. Evaluated over the whole render.
# related_resources:
#   - https://kubernetes.io/docs/concepts/services-networking/network-policies/
# custom:
#   id: DD-XRS-004
#   severity: MEDIUM
#   fix: Fix spec.podSelector to match the pod template labels of the workload in the same namespace, or delete the policy.
package drydock.rules.netpol_selector

import data.drydock.lib.k8s
import data.drydock.lib.selectors
import rego.v1

deny contains {"msg": msg, "doc": i, "path": ["spec", "podSelector"]} if {
	some i, d in input.documents
	d.object.kind == "NetworkPolicy"
	sel := object.get(d.object, ["spec", "podSelector"], {})
	not selectors.is_empty_selector(sel)
	not selects_something(k8s.namespace(d.object), sel)
	msg := sprintf("NetworkPolicy %s podSelector matches no pod template in namespace %s", [k8s.name(d.object), k8s.namespace(d.object)])
}

selects_something(ns, sel) if count(selectors.selected_pods(ns, sel)) > 0
