# METADATA
# title: Ingress routes to a port the Service does not expose
# description: >-
#   An Ingress backend whose port number or name is not one of the Service's
#   spec.ports gets no endpoints and returns 503. Evaluated over the whole
#   render; a backend whose Service is missing is reported by DD-XRS-006.
# related_resources:
#   - https://kubernetes.io/docs/concepts/services-networking/ingress/#the-ingress-resource
# custom:
#   id: DD-XRS-007
#   severity: HIGH
#   fix: Use a port number or port name that the Service lists in spec.ports.
package drydock.rules.ingress_backend_port

import data.drydock.lib.k8s
import data.drydock.lib.net
import rego.v1

deny contains {"msg": msg, "doc": i, "path": be.path} if {
	some i, ing in net.ingresses
	some be in net.backends(ing)
	where := be.where
	backend := be.service
	services := k8s.services_by_ns_name
	some j in object.get(services, [[k8s.namespace(ing), backend.name]], set())
	s := input.documents[j]
	not exposes(s.object, backend.port)
	msg := sprintf("Ingress %s backend uses port %v of Service %s, which exposes only %v", [where, port_label(backend.port), backend.name, exposed(s.object)])
}

exposes(svc, port) if {
	some p in svc.spec.ports
	p.port == port.number
}

exposes(svc, port) if {
	some p in svc.spec.ports
	p.name == port.name
}

port_label(port) := port.number

port_label(port) := port.name if not port.number

exposed(svc) := [x |
	some p in object.get(svc, ["spec", "ports"], [])
	x := sprintf("%v/%v", [object.get(p, "name", "-"), p.port])
]
