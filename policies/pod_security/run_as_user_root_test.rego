package drydock.rules.run_as_user_root_test

import data.drydock.lib.testdata as t
import data.drydock.rules.run_as_user_root
import rego.v1

test_fail_pod_level if {
	inp := t.inp([t.deployment(t.spec_with({"securityContext": {"runAsUser": 0}}))])
	count(run_as_user_root.deny) == 1 with input as inp
}

test_fail_container_level if {
	inp := t.inp([t.cronjob(t.spec_with_container({"securityContext": {"runAsUser": 0}}))])
	some d in run_as_user_root.deny with input as inp
	contains(d.msg, "container \"app\"")
}

test_pass_non_zero if {
	inp := t.inp([t.deployment(t.spec_with_container({"securityContext": {"runAsUser": 1000}}))])
	count(run_as_user_root.deny) == 0 with input as inp
}
