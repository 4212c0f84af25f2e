package drydock.rules.ingress_backend_service_test

import data.drydock.lib.testdata as t
import data.drydock.rules.ingress_backend_service
import rego.v1

svc := {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": "shop"}, "spec": {"selector": t.selector_labels, "ports": [{"name": "http", "port": 80}]}}

ingress(name) := {
	"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": {"name": "web", "namespace": "shop"},
	"spec": {"rules": [{"host": "shop.example.com", "http": {"paths": [{"path": "/", "pathType": "Prefix", "backend": {"service": {"name": name, "port": {"number": 80}}}}]}}]},
}

test_fail_missing_service if {
	inp := t.inp([svc, ingress("webb")])
	some d in ingress_backend_service.deny with input as inp
	contains(d.msg, "rules[0].http.paths[0]")
}

test_fail_default_backend if {
	ing := {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": {"name": "x", "namespace": "shop"}, "spec": {"defaultBackend": {"service": {"name": "gone", "port": {"number": 80}}}}}
	inp := t.inp([svc, ing])
	count(ingress_backend_service.deny) == 1 with input as inp
}

test_pass_exists if {
	inp := t.inp([svc, ingress("web")])
	count(ingress_backend_service.deny) == 0 with input as inp
}
