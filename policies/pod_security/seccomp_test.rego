package drydock.rules.seccomp_test

import data.drydock.lib.testdata as t
import data.drydock.rules.seccomp
import rego.v1

test_fail_unset if {
	inp := t.inp([t.deployment(object.remove(t.pod_spec, ["securityContext"]))])
	some d in seccomp.deny with input as inp
	contains(d.msg, "unset")
}

test_fail_container_unconfined if {
	inp := t.inp([t.deployment(t.spec_with_container({"securityContext": {"seccompProfile": {"type": "Unconfined"}}}))])
	count(seccomp.deny) == 1 with input as inp
}

test_fail_pod_unconfined if {
	inp := t.inp([t.deployment(t.spec_with({"securityContext": {"seccompProfile": {"type": "Unconfined"}}}))])
	count(seccomp.deny) == 2 with input as inp
}

test_pass_pod_runtime_default if {
	inp := t.inp([t.deployment(t.pod_spec)])
	count(seccomp.deny) == 0 with input as inp
}

test_pass_container_localhost if {
	spec := object.remove(t.pod_spec, ["securityContext"])
	c := object.union(t.container, {"securityContext": {"seccompProfile": {"type": "Localhost", "localhostProfile": "profiles/app.json"}}})
	inp := t.inp([t.deployment(object.union(spec, {"containers": [c]}))])
	count(seccomp.deny) == 0 with input as inp
}
