# Shared helpers: Services, Ingresses and NetworkPolicies.
package drydock.lib.net

import rego.v1

is_ingress(obj) if {
	obj.kind == "Ingress"
	startswith(obj.apiVersion, "networking.k8s.io/")
}

# ingresses[i]: every Ingress of the render, keyed by its index in input.documents.
ingresses[i] := d.object if {
	some i, d in input.documents
	d.object.kind == "Ingress"
	is_ingress(d.object)
}

# ingress_hosts(obj): every host named in the Ingress rules.
ingress_hosts(obj) := {h | some r in object.get(obj, ["spec", "rules"], []); h := r.host}

# tls_hosts(obj): every host covered by spec.tls.
tls_hosts(obj) := {h | some t in object.get(obj, ["spec", "tls"], []); some h in object.get(t, "hosts", [])}

# backends(obj): [where, service backend] for the default backend and every path.
backends(obj) := array.concat(
	[["spec.defaultBackend", b] | b := obj.spec.defaultBackend.service],
	[[sprintf("rules[%d].http.paths[%d]", [r, p]), path.backend.service] |
		some r
		rule := obj.spec.rules[r]
		some p
		path := rule.http.paths[p]
	],
)
