# METADATA
# title: hostPath volume
# description: >-
#   A hostPath volume exposes the node's filesystem to the pod; writable host
#   paths are a common container escape. Pod Security Standards forbid them.
# related_resources:
#   - https://kubernetes.io/docs/concepts/storage/volumes/#hostpath
# custom:
#   id: DD-PSS-005
#   severity: HIGH
#   fix: Replace the hostPath volume with an emptyDir, a configMap/secret or a persistentVolumeClaim.
#   trivy: [KSV-0023, KSV-0121]
package drydock.rules.host_path

import data.drydock.lib.k8s
import rego.v1

deny contains {"msg": msg, "doc": i, "path": k8s.at(p, ["volumes", n, "hostPath"])} if {
	some i, p in k8s.pods
	some n, v in object.get(p.spec, "volumes", [])
	path := v.hostPath.path
	not k8s.runtime_socket_path(v) # DD-WKL-012 reports it (one finding per defect)
	msg := sprintf("volume \"%s\" mounts hostPath %s from the node", [object.get(v, "name", "<unnamed>"), path])
}
