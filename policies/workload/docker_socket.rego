# METADATA
# title: Container runtime socket mounted
# description: >-
#   Mounting docker.sock (or the containerd/CRI-O socket) gives the pod control
#   of the node's container runtime: it can start a privileged container and
#   own the node.
# related_resources:
#   - https://kubernetes.io/docs/concepts/storage/volumes/#hostpath
# custom:
#   id: DD-WKL-012
#   severity: CRITICAL
#   fix: Remove the hostPath volume for the runtime socket; build images with a rootless builder instead.
#   trivy: [KSV-0006, KSV-0023, KSV-0121]
package drydock.rules.docker_socket

import data.drydock.lib.k8s
import rego.v1

deny contains {"msg": msg, "doc": i, "path": k8s.at(p, ["volumes", n, "hostPath", "path"])} if {
	some i, p in k8s.pods
	some n, v in object.get(p.spec, "volumes", [])
	path := k8s.runtime_socket_path(v)
	msg := sprintf("volume \"%s\" mounts the container runtime socket %s from the node", [object.get(v, "name", "<unnamed>"), path])
}
