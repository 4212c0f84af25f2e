package drydock.rules.ingress_backend_port_test

import data.drydock.lib.testdata as t
import data.drydock.rules.ingress_backend_port
import rego.v1

svc := {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": "shop"}, "spec": {"selector": t.selector_labels, "ports": [{"name": "http", "port": 80}]}}

ingress(port) := {
	"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": {"name": "web", "namespace": "shop"},
	"spec": {"rules": [{"host": "shop.example.com", "http": {"paths": [{"path": "/", "pathType": "Prefix", "backend": {"service": {"name": "web", "port": port}}}]}}]},
}

test_fail_wrong_number if {
	inp := t.inp([svc, ingress({"number": 8080})])
	some d in ingress_backend_port.deny with input as inp
	contains(d.msg, "8080")
}

test_fail_wrong_name if {
	inp := t.inp([svc, ingress({"name": "https"})])
	count(ingress_backend_port.deny) == 1 with input as inp
}

test_pass_number if {
	inp := t.inp([svc, ingress({"number": 80})])
	count(ingress_backend_port.deny) == 0 with input as inp
}

test_pass_name if {
	inp := t.inp([svc, ingress({"name": "http"})])
	count(ingress_backend_port.deny) == 0 with input as inp
}

test_pass_missing_service_is_other_rule if {
	inp := t.inp([ingress({"number": 80})])
	count(ingress_backend_port.deny) == 0 with input as inp
}
