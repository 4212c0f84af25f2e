# METADATA
# title: Pod or container runs as UID 0
# description: >-
#   runAsUser: 0 runs the process as root, whatever the image says. The
#   restricted Pod Security Standard forbids UID 0 on the pod and on every
#   container.
# related_resources:
#   - https://kubernetes.io/docs/concepts/security/pod-security-standards/#restricted
# custom:
#   id: DD-PSS-011
#   severity: HIGH
#   fix: Set runAsUser to a non-zero UID (for example 10001) or remove it and rely on the image's non-root user.
#   trivy: [KSV-0105]
package drydock.rules.run_as_user_root

import data.drydock.lib.k8s
import rego.v1

deny contains {"msg": msg, "doc": i, "path": k8s.at(p, ["securityContext", "runAsUser"])} if {
	some i, p in k8s.pods
	p.spec.securityContext.runAsUser == 0
	msg := "pod securityContext sets runAsUser: 0 (root)"
}

deny contains {"msg": msg, "doc": i, "path": k8s.in_container(p, e, ["securityContext", "runAsUser"])} if {
	some i, p in k8s.pods
	some e in k8s.containers(p.spec)
	e.container.securityContext.runAsUser == 0
	msg := sprintf("%s sets securityContext.runAsUser: 0 (root)", [k8s.describe(e)])
}
