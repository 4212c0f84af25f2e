package drydock.rules.proc_mount_test

import data.drydock.lib.testdata as t
import data.drydock.rules.proc_mount
import rego.v1

test_fail_unmasked if {
	inp := t.inp([t.deployment(t.spec_with_container({"securityContext": {"procMount": "Unmasked"}}))])
	count(proc_mount.deny) == 1 with input as inp
}

test_pass_default if {
	inp := t.inp([t.deployment(t.spec_with_container({"securityContext": {"procMount": "Default"}})), t.pod(t.pod_spec)])
	count(proc_mount.deny) == 0 with input as inp
}
