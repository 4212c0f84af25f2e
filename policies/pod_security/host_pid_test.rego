package drydock.rules.host_pid_test

import data.drydock.lib.testdata as t
import data.drydock.rules.host_pid
import rego.v1

test_fail_deployment if {
	inp := t.inp([t.deployment(t.spec_with({"hostPID": true}))])
	count(host_pid.deny) == 1 with input as inp
}

test_fail_cronjob if {
	inp := t.inp([t.cronjob(t.spec_with({"hostPID": true}))])
	count(host_pid.deny) == 1 with input as inp
}

test_pass_hardened if {
	inp := t.inp([t.deployment(t.pod_spec), t.pod(t.spec_with({"hostPID": false}))])
	count(host_pid.deny) == 0 with input as inp
}
