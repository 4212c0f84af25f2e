# METADATA
# title: Privilege escalation not disabled
# description: >-
#   Unless allowPrivilegeEscalation is false, a process can gain more
#   privileges than its parent (setuid binaries, file capabilities). The
#   restricted Pod Security Standard requires it to be set to false explicitly.
# related_resources:
#   - https://kubernetes.io/docs/concepts/security/pod-security-standards/#restricted
# custom:
#   id: DD-PSS-009
#   severity: HIGH
#   fix: Set securityContext.allowPrivilegeEscalation to false on the container.
#   trivy: [KSV-0001]
package drydock.rules.allow_privilege_escalation

import data.drydock.lib.k8s
import rego.v1

deny contains {"msg": msg, "doc": i, "path": k8s.in_container(p, e, ["securityContext", "allowPrivilegeEscalation"])} if {
	some i, p in k8s.pods
	some e in k8s.containers(p.spec)
	object.get(e.container, ["securityContext", "allowPrivilegeEscalation"], true) != false
	msg := sprintf("%s does not set securityContext.allowPrivilegeEscalation: false", [k8s.describe(e)])
}
