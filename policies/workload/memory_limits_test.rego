package drydock.rules.memory_limits_test

import data.drydock.lib.testdata as t
import data.drydock.rules.memory_limits
import rego.v1

test_fail_missing if {
	c := object.remove(t.container, ["resources"])
	inp := t.inp([t.deployment(t.spec_with({"containers": [c]}))])
	count(memory_limits.deny) == 1 with input as inp
}

test_fail_only_other_resource_set if {
	c := json.patch(t.container, [{"op": "remove", "path": "/resources/limits/memory"}])
	inp := t.inp([t.cronjob(t.spec_with({"containers": [c]}))])
	some d in memory_limits.deny with input as inp
	contains(d.msg, "resources.limits.memory")
}

test_pass_set if {
	inp := t.inp([t.deployment(t.pod_spec)])
	count(memory_limits.deny) == 0 with input as inp
}
