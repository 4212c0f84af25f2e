package drydock.rules.read_only_root_fs_test

import data.drydock.lib.testdata as t
import data.drydock.rules.read_only_root_fs
import rego.v1

test_fail_false if {
	inp := t.inp([t.deployment(t.spec_with_container({"securityContext": {"readOnlyRootFilesystem": false}}))])
	count(read_only_root_fs.deny) == 1 with input as inp
}

test_fail_init_container_unset if {
	init := {"name": "migrate", "image": t.image}
	inp := t.inp([t.deployment(t.spec_with({"initContainers": [init]}))])
	some d in read_only_root_fs.deny with input as inp
	contains(d.msg, "init container \"migrate\"")
}

test_pass_true if {
	inp := t.inp([t.deployment(t.pod_spec), t.cronjob(t.pod_spec)])
	count(read_only_root_fs.deny) == 0 with input as inp
}
