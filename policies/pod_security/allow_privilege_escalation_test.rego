package drydock.rules.allow_privilege_escalation_test

import data.drydock.lib.testdata as t
import data.drydock.rules.allow_privilege_escalation
import rego.v1

test_fail_true if {
	inp := t.inp([t.deployment(t.spec_with_container({"securityContext": {"allowPrivilegeEscalation": true}}))])
	count(allow_privilege_escalation.deny) == 1 with input as inp
}

test_fail_unset if {
	bare := {"name": "app", "image": t.image}
	inp := t.inp([t.pod(t.spec_with({"initContainers": [bare]}))])
	some d in allow_privilege_escalation.deny with input as inp
	contains(d.msg, "init container \"app\"")
}

test_pass_false if {
	inp := t.inp([t.deployment(t.pod_spec)])
	count(allow_privilege_escalation.deny) == 0 with input as inp
}
