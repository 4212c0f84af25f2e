package drydock.rules.readiness_probe_test

import data.drydock.lib.testdata as t
import data.drydock.rules.readiness_probe
import rego.v1

test_fail_missing if {
	c := object.remove(t.container, ["readinessProbe"])
	inp := t.inp([t.deployment(t.spec_with({"containers": [c]}))])
	count(readiness_probe.deny) == 1 with input as inp
}

test_fail_missing_in_rollout if {
	c := object.remove(t.container, ["readinessProbe"])
	inp := t.inp([t.rollout(t.spec_with({"containers": [c]}))])
	count(readiness_probe.deny) == 1 with input as inp
}

test_pass_cronjob_without_probe if {
	c := object.remove(t.container, ["readinessProbe"])
	inp := t.inp([t.cronjob(t.spec_with({"containers": [c]}))])
	count(readiness_probe.deny) == 0 with input as inp
}

test_pass_hardened if {
	inp := t.inp([t.deployment(t.pod_spec)])
	count(readiness_probe.deny) == 0 with input as inp
}
