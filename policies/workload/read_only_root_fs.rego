# METADATA
# title: Root filesystem is writable
# description: >-
#   A writable root filesystem lets an attacker drop tools or modify binaries
#   inside the container. Mount an emptyDir where the app needs to write.
# related_resources:
#   - https://kubernetes.io/docs/tasks/configure-pod-container/security-context/
# custom:
#   id: DD-WKL-001
#   severity: MEDIUM
#   fix: Set securityContext.readOnlyRootFilesystem to true and mount an emptyDir for paths the app writes (e.g. /tmp).
#   trivy: [KSV-0014]
package drydock.rules.read_only_root_fs

import data.drydock.lib.k8s
import rego.v1

deny contains {"msg": msg, "doc": i, "path": k8s.in_container(p, e, ["securityContext", "readOnlyRootFilesystem"])} if {
	some i, p in k8s.pods
	some e in k8s.app_containers(p.spec)
	object.get(e.container, ["securityContext", "readOnlyRootFilesystem"], false) != true
	msg := sprintf("%s does not set securityContext.readOnlyRootFilesystem: true", [k8s.describe(e)])
}
