package drydock.rules.namespace_psa_test

import data.drydock.lib.testdata as t
import data.drydock.rules.namespace_psa
import rego.v1

ns(labels) := {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop", "labels": labels}}

test_fail_unset if {
	inp := t.inp([ns({})])
	some d in namespace_psa.deny with input as inp
	contains(d.msg, "<unset>")
}

test_fail_baseline if {
	inp := t.inp([ns({"pod-security.kubernetes.io/enforce": "baseline"})])
	count(namespace_psa.deny) == 1 with input as inp
}

test_pass_restricted if {
	inp := t.inp([ns({"pod-security.kubernetes.io/enforce": "restricted"})])
	count(namespace_psa.deny) == 0 with input as inp
}
