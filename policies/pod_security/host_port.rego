# METADATA
# title: Container binds a hostPort
# description: >-
#   A hostPort binds the container to a port on the node's address, bypassing
#   NetworkPolicies and limiting scheduling. Pod Security Standards forbid it.
# related_resources:
#   - https://kubernetes.io/docs/concepts/security/pod-security-standards/#baseline
# custom:
#   id: DD-PSS-006
#   severity: HIGH
#   fix: Remove hostPort from the container port and expose the port through a Service instead.
#   trivy: [KSV-0024]
package drydock.rules.host_port

import data.drydock.lib.k8s
import rego.v1

deny contains {"msg": msg, "doc": i, "path": k8s.in_container(p, e, ["ports", n, "hostPort"])} if {
	some i, p in k8s.pods
	some e in k8s.containers(p.spec)
	some n, port in object.get(e.container, "ports", [])
	object.get(port, "hostPort", 0) != 0
	msg := sprintf("%s binds hostPort %v", [k8s.describe(e), port.hostPort])
}
