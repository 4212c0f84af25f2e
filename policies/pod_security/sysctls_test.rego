package drydock.rules.sysctls_test

import data.drydock.lib.testdata as t
import data.drydock.rules.sysctls
import rego.v1

test_fail_unsafe if {
	inp := t.inp([t.deployment(t.spec_with({"securityContext": {"sysctls": [{"name": "net.core.somaxconn", "value": "1024"}]}}))])
	some d in sysctls.deny with input as inp
	contains(d.msg, "net.core.somaxconn")
}

test_pass_safe if {
	inp := t.inp([t.deployment(t.spec_with({"securityContext": {"sysctls": [{"name": "net.ipv4.ip_local_port_range", "value": "1024 65535"}]}}))])
	count(sysctls.deny) == 0 with input as inp
}
