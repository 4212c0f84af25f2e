package drydock.rules.host_port_test

import data.drydock.lib.testdata as t
import data.drydock.rules.host_port
import rego.v1

test_fail_host_port if {
	inp := t.inp([t.deployment(t.spec_with_container({"ports": [{"containerPort": 8080, "hostPort": 80}]}))])
	some d in host_port.deny with input as inp
	contains(d.msg, "hostPort 80")
}

test_pass_no_host_port if {
	inp := t.inp([t.deployment(t.spec_with_container({"ports": [{"containerPort": 8080, "hostPort": 0}]}))])
	count(host_port.deny) == 0 with input as inp
}
