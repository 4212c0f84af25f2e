# METADATA
# title: Privileged container
# description: >-
#   A privileged container has every capability and full access to the host's
#   devices; escaping it is trivial. Pod Security Standards (baseline and
#   restricted) forbid it.
# related_resources:
#   - https://kubernetes.io/docs/concepts/security/pod-security-standards/#baseline
# custom:
#   id: DD-PSS-001
#   severity: CRITICAL
#   fix: Remove securityContext.privileged from the container or set it to false.
#   trivy: [KSV-0017]
package drydock.rules.privileged

import data.drydock.lib.k8s
import rego.v1

deny contains {"msg": msg, "doc": i, "path": k8s.in_container(p, e, ["securityContext", "privileged"])} if {
	some i, p in k8s.pods
	some e in k8s.containers(p.spec)
	e.container.securityContext.privileged == true
	msg := sprintf("%s sets securityContext.privileged: true", [k8s.describe(e)])
}
