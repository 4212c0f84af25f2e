package drydock.rules.volume_types_test

import data.drydock.lib.testdata as t
import data.drydock.rules.volume_types
import rego.v1

test_fail_nfs if {
	inp := t.inp([t.deployment(t.spec_with({"volumes": [{"name": "shared", "nfs": {"server": "nfs.local", "path": "/x"}}]}))])
	some d in volume_types.deny with input as inp
	contains(d.msg, "nfs")
}

test_pass_allowed_types if {
	vols := [
		{"name": "a", "emptyDir": {}},
		{"name": "b", "configMap": {"name": "cfg"}},
		{"name": "c", "secret": {"secretName": "s"}},
		{"name": "d", "persistentVolumeClaim": {"claimName": "data"}},
		{"name": "e", "projected": {"sources": []}},
	]
	inp := t.inp([t.deployment(t.spec_with({"volumes": vols}))])
	count(volume_types.deny) == 0 with input as inp
}
