package drydock.rules.cpu_limits_test

import data.drydock.lib.testdata as t
import data.drydock.rules.cpu_limits
import rego.v1

test_fail_missing if {
	c := object.remove(t.container, ["resources"])
	inp := t.inp([t.deployment(t.spec_with({"containers": [c]}))])
	count(cpu_limits.deny) == 1 with input as inp
}

test_fail_only_other_resource_set if {
	c := json.patch(t.container, [{"op": "remove", "path": "/resources/limits/cpu"}])
	inp := t.inp([t.cronjob(t.spec_with({"containers": [c]}))])
	some d in cpu_limits.deny with input as inp
	contains(d.msg, "resources.limits.cpu")
}

test_pass_set if {
	inp := t.inp([t.deployment(t.pod_spec)])
	count(cpu_limits.deny) == 0 with input as inp
}
