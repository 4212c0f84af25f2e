# METADATA
# title: Unmasked /proc mount
# description: >-
#   procMount Unmasked exposes /proc paths the runtime normally masks (kernel
#   keys, timers, sysrq). Pod Security Standards require the Default proc mount.
# related_resources:
#   - https://kubernetes.io/docs/concepts/security/pod-security-standards/#baseline
# custom:
#   id: DD-PSS-015
#   severity: MEDIUM
#   fix: Remove securityContext.procMount from the container or set it to Default.
#   trivy: [KSV-0027]
package drydock.rules.proc_mount

import data.drydock.lib.k8s
import rego.v1

deny contains {"msg": msg, "doc": i, "path": k8s.in_container(p, e, ["securityContext", "procMount"])} if {
	some i, p in k8s.pods
	some e in k8s.containers(p.spec)
	mount := e.container.securityContext.procMount
	mount != "Default"
	msg := sprintf("%s sets securityContext.procMount %v; only Default is allowed", [k8s.describe(e), mount])
}
