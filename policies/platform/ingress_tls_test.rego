package drydock.rules.ingress_tls_test

import data.drydock.lib.testdata as t
import data.drydock.rules.ingress_tls
import rego.v1

ingress(tls) := {
	"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
	"metadata": {"name": "web", "namespace": "shop", "annotations": {"cert-manager.io/cluster-issuer": "letsencrypt"}},
	"spec": object.union({"rules": [{"host": "shop.example.com", "http": {"paths": [{"path": "/", "pathType": "Prefix", "backend": {"service": {"name": "web", "port": {"number": 80}}}}]}}]}, tls),
}

test_fail_no_tls if {
	inp := t.inp([ingress({})])
	count(ingress_tls.deny) == 1 with input as inp
}

test_fail_host_not_covered if {
	inp := t.inp([ingress({"tls": [{"hosts": ["api.example.com"], "secretName": "tls"}]})])
	some d in ingress_tls.deny with input as inp
	contains(d.msg, "shop.example.com")
}

test_pass_tls if {
	inp := t.inp([ingress({"tls": [{"hosts": ["shop.example.com"], "secretName": "tls"}]})])
	count(ingress_tls.deny) == 0 with input as inp
}
