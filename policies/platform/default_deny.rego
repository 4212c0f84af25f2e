# METADATA
# title: Namespace without a default-deny NetworkPolicy
# description: >-
#   Without a NetworkPolicy that selects every pod (empty podSelector) for both
#   Ingress and Egress, any pod in the cluster can reach the namespace's pods
#   and they can reach anything. Evaluated over the whole render: every
#   Namespace object and every namespace that holds a workload.
# related_resources:
#   - https://kubernetes.io/docs/concepts/services-networking/network-policies/#default-policies
# custom:
#   id: DD-PLT-004
#   severity: MEDIUM
#   fix: Add a NetworkPolicy with podSelector {} and policyTypes [Ingress, Egress] to the namespace, then allow the flows you need.
package drydock.rules.default_deny

import data.drydock.lib.k8s
import data.drydock.lib.selectors
import rego.v1

# namespace_objects[ns]: index of the (first) Namespace object named ns.
namespace_objects[ns] := min(indexes) if some ns, indexes in k8s.namespace_docs

workload_namespaces contains k8s.namespace(p.obj) if some p in k8s.pods

# Report on the Namespace object when the render has one ...
deny contains {"msg": msg, "doc": i, "path": ["metadata", "name"]} if {
	some ns, i in namespace_objects
	not protected(ns)
	msg := sprintf("namespace %s has no default-deny NetworkPolicy (podSelector {} with policyTypes Ingress and Egress)", [ns])
}

# ... otherwise on the first workload in that namespace.
deny contains {"msg": msg, "doc": i, "path": ["metadata", "namespace"]} if {
	some ns in workload_namespaces
	not namespace_objects[ns]
	not protected(ns)
	pods_by_ns := k8s.pods_by_ns
	i := min(pods_by_ns[ns])
	msg := sprintf("namespace %s has no default-deny NetworkPolicy (podSelector {} with policyTypes Ingress and Egress)", [ns])
}

protected(ns) if ns in selectors.default_deny_namespaces
