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

# backends(obj): {"where", "service", "path"} for the default backend and every
# rule path; `path` is the JSON path of the backend's `service` field.
# (Iterate with `some r, rule in ...`: a bare `some p` inside a comprehension
# is re-declared per rule and regorus rejects it as a duplicate local.)
backends(obj) := array.concat(
	[{"where": "spec.defaultBackend", "service": b, "path": ["spec", "defaultBackend", "service"]} |
		b := obj.spec.defaultBackend.service
	],
	[{"where": sprintf("rules[%d].http.paths[%d]", [r, n]), "service": hp.backend.service,
	  "path": ["spec", "rules", r, "http", "paths", n, "backend", "service"]} |
		some r, rule in object.get(obj, ["spec", "rules"], [])
		some n, hp in object.get(rule, ["http", "paths"], [])
		hp.backend.service
	],
)
