package drydock.rules.default_deny_test

import data.drydock.lib.testdata as t
import data.drydock.rules.default_deny
import rego.v1

ns := {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}}

netpol(selector, types) := {
	"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
	"metadata": {"name": "default-deny", "namespace": "shop"},
	"spec": {"podSelector": selector, "policyTypes": types},
}

test_fail_namespace_without_policy if {
	inp := t.inp([ns, t.deployment(t.pod_spec)])
	some d in default_deny.deny with input as inp
	d.doc == 0
}

test_fail_workload_namespace_ingress_only if {
	inp := t.inp([t.deployment(t.pod_spec), netpol({}, ["Ingress"])])
	some d in default_deny.deny with input as inp
	d.doc == 0
}

test_fail_selector_not_empty if {
	inp := t.inp([ns, netpol({"matchLabels": {"app": "x"}}, ["Ingress", "Egress"])])
	count(default_deny.deny) == 1 with input as inp
}

test_pass_default_deny if {
	inp := t.inp([ns, t.deployment(t.pod_spec), netpol({}, ["Ingress", "Egress"])])
	count(default_deny.deny) == 0 with input as inp
}

test_fail_duplicate_namespace_objects_reported_once if {
	inp := t.inp([ns, ns])
	count(default_deny.deny) == 1 with input as inp
}
