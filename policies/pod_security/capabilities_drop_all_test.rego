package drydock.rules.capabilities_drop_all_test

import data.drydock.lib.testdata as t
import data.drydock.rules.capabilities_drop_all
import rego.v1

test_fail_drops_some if {
	inp := t.inp([t.deployment(t.spec_with_container({"securityContext": {"capabilities": {"drop": ["NET_RAW"]}}}))])
	count(capabilities_drop_all.deny) == 1 with input as inp
}

test_fail_no_security_context if {
	bare := {"name": "app", "image": t.image}
	inp := t.inp([t.rollout(t.spec_with({"containers": [bare]}))])
	count(capabilities_drop_all.deny) == 1 with input as inp
}

test_pass_drop_all if {
	inp := t.inp([t.deployment(t.pod_spec), t.cronjob(t.pod_spec)])
	count(capabilities_drop_all.deny) == 0 with input as inp
}
