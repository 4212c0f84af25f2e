package drydock.rules.memory_requests_test

import data.drydock.lib.testdata as t
import data.drydock.rules.memory_requests
import rego.v1

test_fail_missing if {
	c := object.remove(t.container, ["resources"])
	inp := t.inp([t.deployment(t.spec_with({"containers": [c]}))])
	count(memory_requests.deny) == 1 with input as inp
}

test_fail_only_other_resource_set if {
	c := json.patch(t.container, [{"op": "remove", "path": "/resources/requests/memory"}])
	inp := t.inp([t.cronjob(t.spec_with({"containers": [c]}))])
	some d in memory_requests.deny with input as inp
	contains(d.msg, "resources.requests.memory")
}

test_pass_set if {
	inp := t.inp([t.deployment(t.pod_spec)])
	count(memory_requests.deny) == 0 with input as inp
}
