package drydock.rules.capabilities_added_test

import data.drydock.lib.testdata as t
import data.drydock.rules.capabilities_added
import rego.v1

test_fail_sys_admin if {
	inp := t.inp([t.deployment(t.spec_with_container({"securityContext": {"capabilities": {"add": ["NET_BIND_SERVICE", "SYS_ADMIN"]}}}))])
	count(capabilities_added.deny) == 1 with input as inp
}

test_fail_ephemeral_container if {
	dbg := t.c({"name": "debug", "securityContext": {"capabilities": {"add": ["SYS_PTRACE"]}}})
	inp := t.inp([t.pod(t.spec_with({"ephemeralContainers": [dbg]}))])
	some d in capabilities_added.deny with input as inp
	contains(d.msg, "ephemeral container \"debug\"")
}

test_pass_net_bind_service if {
	inp := t.inp([t.deployment(t.spec_with_container({"securityContext": {"capabilities": {"add": ["NET_BIND_SERVICE"]}}}))])
	count(capabilities_added.deny) == 0 with input as inp
}
