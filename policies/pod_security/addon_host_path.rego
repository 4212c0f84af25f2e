# METADATA
# title: Add-on mounts a host path its catalogue entry does not declare
# description: >-
#   Some add-ons read the node by design (node-exporter /proc, /sys and /;
#   fluent-bit's log folders). Those paths are declared in generator/addons.yaml
#   (`hostPaths`, passed as input.env.addonHostPaths per Application) and the
#   hostPath finding on those objects is waived. This rule keeps the waiver from
#   covering anything else: on an add-on that declares host paths, a hostPath
#   volume that is not declared, or a declared read-only path mounted writable,
#   is a finding of its own (values can add volumes and mounts).
# related_resources:
#   - https://kubernetes.io/docs/concepts/storage/volumes/#hostpath
# custom:
#   id: DD-PSS-019
#   severity: HIGH
#   fix: Remove the extra hostPath volume (or the writable mount) from the add-on's values; if the add-on really needs it, declare it under `hostPaths` of the add-on in generator/addons.yaml with the reason.
package drydock.rules.addon_host_path

import data.drydock.lib.k8s
import rego.v1

deny contains {"msg": msg, "doc": i, "path": k8s.at(p, ["volumes", n, "hostPath", "path"])} if {
	some i, p in k8s.pods
	some allowed in declared(i)
	some n, v in object.get(p.spec, "volumes", [])
	path := v.hostPath.path
	not path in {e.path | some e in allowed}
	not k8s.runtime_socket_path(v) # DD-WKL-012 reports it (one finding per defect)
	msg := sprintf("volume \"%s\" mounts hostPath %s, which add-on Application %s does not declare (declared: %s)",
		[object.get(v, "name", "<unnamed>"), path, input.documents[i].app, concat(", ", sort({e.path | some e in allowed}))])
}

deny contains {"msg": msg, "doc": i, "path": k8s.in_container(p, e, ["volumeMounts", m])} if {
	some i, p in k8s.pods
	some allowed in declared(i)
	some v in object.get(p.spec, "volumes", [])
	some entry in allowed
	entry.path == v.hostPath.path
	entry.readOnly == true
	some e in k8s.containers(p.spec)
	some m, mount in object.get(e.container, "volumeMounts", [])
	mount.name == v.name
	object.get(mount, "readOnly", false) != true
	msg := sprintf("%s mounts hostPath %s writable; add-on Application %s declares it read-only",
		[k8s.describe(e), v.hostPath.path, input.documents[i].app])
}

# declared(i): the host paths of document i's add-on Application, when it declares any.
declared(i) := {allowed |
	app := object.get(input.documents[i], "app", "")
	app != ""
	allowed := object.get(object.get(input.env, "addonHostPaths", {}), app, null)
	allowed != null
}
