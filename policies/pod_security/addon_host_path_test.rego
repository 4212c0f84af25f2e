package drydock.rules.addon_host_path_test

import data.drydock.lib.testdata as t
import data.drydock.rules.addon_host_path
import rego.v1

env := {"addonHostPaths": {"dev-fluent-bit": [{"path": "/var/log", "readOnly": false}, {"path": "/etc/machine-id", "readOnly": true}]}}

doc(spec, app) := {"file": "t.yaml", "line": 1, "app": app, "object": t.deployment(spec)}

spec(vols, mounts) := t.spec_with({"volumes": vols, "containers": [{"name": "fb", "image": "x", "volumeMounts": mounts}]})

declared_vols := [{"name": "varlog", "hostPath": {"path": "/var/log"}}, {"name": "mid", "hostPath": {"path": "/etc/machine-id"}}]

declared_mounts := [{"name": "varlog", "mountPath": "/var/log"}, {"name": "mid", "mountPath": "/etc/machine-id", "readOnly": true}]

test_pass_declared_paths if {
	inp := {"documents": [doc(spec(declared_vols, declared_mounts), "dev-fluent-bit")], "env": env}
	count(addon_host_path.deny) == 0 with input as inp
}

test_fail_extra_host_path_through_values if {
	vols := array.concat(declared_vols, [{"name": "root", "hostPath": {"path": "/"}}])
	inp := {"documents": [doc(spec(vols, declared_mounts), "dev-fluent-bit")], "env": env}
	some d in addon_host_path.deny with input as inp
	contains(d.msg, "hostPath /,")
	contains(d.msg, "dev-fluent-bit")
}

test_fail_declared_read_only_path_mounted_writable if {
	mounts := [{"name": "varlog", "mountPath": "/var/log"}, {"name": "mid", "mountPath": "/etc/machine-id"}]
	inp := {"documents": [doc(spec(declared_vols, mounts), "dev-fluent-bit")], "env": env}
	some d in addon_host_path.deny with input as inp
	contains(d.msg, "/etc/machine-id writable")
}

test_pass_addon_without_declaration_left_to_host_path_rule if {
	vols := [{"name": "root", "hostPath": {"path": "/"}}]
	inp := {"documents": [doc(spec(vols, []), "dev-jaeger")], "env": env}
	count(addon_host_path.deny) == 0 with input as inp
}

test_pass_our_own_objects_left_to_host_path_rule if {
	vols := [{"name": "root", "hostPath": {"path": "/"}}]
	inp := {"documents": [{"file": "t.yaml", "line": 1, "object": t.deployment(spec(vols, []))}], "env": env}
	count(addon_host_path.deny) == 0 with input as inp
}
