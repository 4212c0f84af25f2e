package drydock.rules.host_process_test

import data.drydock.lib.testdata as t
import data.drydock.rules.host_process
import rego.v1

test_fail_container if {
	inp := t.inp([t.deployment(t.spec_with_container({"securityContext": {"windowsOptions": {"hostProcess": true}}}))])
	count(host_process.deny) == 1 with input as inp
}

test_fail_pod if {
	inp := t.inp([t.pod(t.spec_with({"securityContext": {"windowsOptions": {"hostProcess": true}}}))])
	count(host_process.deny) == 1 with input as inp
}

test_pass_unset if {
	inp := t.inp([t.deployment(t.pod_spec)])
	count(host_process.deny) == 0 with input as inp
}
