package drydock.rules.host_path_test

import data.drydock.lib.testdata as t
import data.drydock.rules.host_path
import rego.v1

test_fail_host_path if {
	inp := t.inp([t.deployment(t.spec_with({"volumes": [{"name": "logs", "hostPath": {"path": "/var/log"}}]}))])
	some d in host_path.deny with input as inp
	contains(d.msg, "/var/log")
}

test_pass_empty_dir if {
	inp := t.inp([t.deployment(t.pod_spec)])
	count(host_path.deny) == 0 with input as inp
}
