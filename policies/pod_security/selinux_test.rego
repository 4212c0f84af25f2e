package drydock.rules.selinux_test

import data.drydock.lib.testdata as t
import data.drydock.rules.selinux
import rego.v1

test_fail_spc_type if {
	inp := t.inp([t.deployment(t.spec_with({"securityContext": {"seLinuxOptions": {"type": "spc_t"}}}))])
	count(selinux.deny) == 1 with input as inp
}

test_fail_container_user_and_role if {
	inp := t.inp([t.deployment(t.spec_with_container({"securityContext": {"seLinuxOptions": {"user": "system_u", "role": "system_r"}}}))])
	count(selinux.deny) == 2 with input as inp
}

test_pass_container_t_with_level if {
	inp := t.inp([t.deployment(t.spec_with({"securityContext": {"seLinuxOptions": {"type": "container_t", "level": "s0:c123,c456"}}}))])
	count(selinux.deny) == 0 with input as inp
}
