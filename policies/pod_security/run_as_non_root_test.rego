package drydock.rules.run_as_non_root_test

import data.drydock.lib.testdata as t
import data.drydock.rules.run_as_non_root
import rego.v1

test_fail_container_overrides_false if {
	inp := t.inp([t.deployment(t.spec_with_container({"securityContext": {"runAsNonRoot": false}}))])
	count(run_as_non_root.deny) == 1 with input as inp
}

test_fail_nowhere if {
	bare := {"name": "app", "image": t.image}
	spec := {"containers": [bare]}
	inp := t.inp([t.pod(spec)])
	count(run_as_non_root.deny) == 1 with input as inp
}

test_pass_pod_level_only if {
	bare := {"name": "app", "image": t.image}
	inp := t.inp([t.deployment(t.spec_with({"containers": [bare]}))])
	count(run_as_non_root.deny) == 0 with input as inp
}

test_pass_hardened if {
	inp := t.inp([t.deployment(t.pod_spec)])
	count(run_as_non_root.deny) == 0 with input as inp
}
