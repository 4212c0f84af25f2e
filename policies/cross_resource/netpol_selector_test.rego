package drydock.rules.netpol_selector_test

import data.drydock.lib.testdata as t
import data.drydock.rules.netpol_selector
import rego.v1

netpol(selector) := {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": {"name": "allow-web", "namespace": "shop"}, "spec": {"podSelector": selector, "policyTypes": ["Ingress"]}}

test_fail_no_match if {
	inp := t.inp([t.deployment(t.pod_spec), netpol({"matchLabels": {"app.kubernetes.io/name": "web"}})])
	count(netpol_selector.deny) == 1 with input as inp
}

test_pass_match if {
	inp := t.inp([t.deployment(t.pod_spec), netpol({"matchLabels": t.selector_labels})])
	count(netpol_selector.deny) == 0 with input as inp
}

test_pass_empty_selector_default_deny if {
	inp := t.inp([netpol({})])
	count(netpol_selector.deny) == 0 with input as inp
}
