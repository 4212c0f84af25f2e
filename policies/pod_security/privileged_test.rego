package drydock.rules.privileged_test

import data.drydock.lib.testdata as t
import data.drydock.rules.privileged
import rego.v1

test_fail_privileged_container if {
	inp := t.inp([t.deployment(t.spec_with_container({"securityContext": {"privileged": true}}))])
	count(privileged.deny) == 1 with input as inp
}

test_fail_privileged_init_container_in_cronjob if {
	init := t.c({"name": "init", "securityContext": {"privileged": true}})
	inp := t.inp([t.cronjob(t.spec_with({"initContainers": [init]}))])
	some d in privileged.deny with input as inp
	contains(d.msg, "init container \"init\"")
}

test_pass_hardened if {
	inp := t.inp([t.deployment(t.pod_spec), t.rollout(t.pod_spec)])
	count(privileged.deny) == 0 with input as inp
}

test_pass_privileged_false if {
	inp := t.inp([t.pod(t.spec_with_container({"securityContext": {"privileged": false}}))])
	count(privileged.deny) == 0 with input as inp
}
