package drydock.rules.ingress_cert_manager_test

import data.drydock.lib.testdata as t
import data.drydock.rules.ingress_cert_manager
import rego.v1

ingress(annotations) := {
	"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
	"metadata": {"name": "web", "namespace": "shop", "annotations": annotations},
	"spec": {"tls": [{"hosts": ["shop.example.com"], "secretName": "tls"}]},
}

test_fail_no_annotation if {
	inp := t.inp([ingress({"nginx.ingress.kubernetes.io/ssl-redirect": "true"})])
	count(ingress_cert_manager.deny) == 1 with input as inp
}

test_fail_empty_issuer if {
	inp := t.inp([ingress({"cert-manager.io/cluster-issuer": ""})])
	count(ingress_cert_manager.deny) == 1 with input as inp
}

test_pass_cluster_issuer if {
	inp := t.inp([ingress({"cert-manager.io/cluster-issuer": "letsencrypt"}), ingress({"cert-manager.io/issuer": "ca"})])
	count(ingress_cert_manager.deny) == 0 with input as inp
}
