# METADATA
# title: Ingress routes to a missing Service
# description: >-
#   An Ingress backend that names a Service absent from its namespace in the
#   render returns 503 for that path. Evaluated over the whole render.
# related_resources:
#   - https://kubernetes.io/docs/concepts/services-networking/ingress/#the-ingress-resource
# custom:
#   id: DD-XRS-006
#   severity: HIGH
#   fix: Point backend.service.name at a Service rendered in the Ingress's namespace (or add that Service).
package drydock.rules.ingress_backend_service

import data.drydock.lib.k8s
import data.drydock.lib.net
import rego.v1

deny contains {"msg": msg, "doc": i, "path": be.path} if {
	some i, ing in net.ingresses
	some be in net.backends(ing)
	where := be.where
	backend := be.service
	not service_exists(k8s.namespace(ing), backend.name)
	msg := sprintf("Ingress %s backend routes to Service %s, which is not in namespace %s", [where, backend.name, k8s.namespace(ing)])
}

service_exists(ns, name) if {
	keys := k8s.object_keys
	[ns, "Service", name] in keys
}
