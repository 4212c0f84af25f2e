# METADATA
# title: Container has no readinessProbe
# description: >-
#   Without a readinessProbe Services send traffic to the pod before it can serve and during rollouts. Jobs and CronJobs are exempt; init containers
#   are not checked.
# related_resources:
#   - https://kubernetes.io/docs/tasks/configure-pod-container/configure-liveness-readiness-startup-probes/
# custom:
#   id: DD-WKL-007
#   severity: LOW
#   fix: Add a readinessProbe (httpGet, tcpSocket, grpc or exec) to the container.
package drydock.rules.readiness_probe

import data.drydock.lib.k8s
import rego.v1

deny contains {"msg": msg, "doc": i, "path": k8s.at(p, ["containers", n])} if {
	some i, p in k8s.pods
	not p.obj.kind in k8s.batch_kinds
	some n, c in object.get(p.spec, "containers", [])
	not c.readinessProbe
	msg := sprintf("container \"%s\" has no readinessProbe", [object.get(c, "name", "<unnamed>")])
}
