# METADATA
# title: Container has no livenessProbe
# description: >-
#   Without a livenessProbe the kubelet cannot restart a container that hangs. Jobs and CronJobs are exempt; init containers
#   are not checked.
# related_resources:
#   - https://kubernetes.io/docs/tasks/configure-pod-container/configure-liveness-readiness-startup-probes/
# custom:
#   id: DD-WKL-006
#   severity: LOW
#   fix: Add a livenessProbe (httpGet, tcpSocket, grpc or exec) to the container.
package drydock.rules.liveness_probe

import data.drydock.lib.k8s
import rego.v1

deny contains {"msg": msg, "doc": i, "path": k8s.at(p, ["containers", n])} if {
	some i, p in k8s.pods
	not p.obj.kind in k8s.batch_kinds
	some n, c in object.get(p.spec, "containers", [])
	not c.livenessProbe
	msg := sprintf("container \"%s\" has no livenessProbe", [object.get(c, "name", "<unnamed>")])
}
