# METADATA
# title: Container does not drop ALL capabilities
# description: >-
#   The restricted Pod Security Standard requires every container to drop ALL
#   Linux capabilities so that the runtime's default set (NET_RAW, CHOWN, ...)
#   is not available to a compromised process.
# related_resources:
#   - https://kubernetes.io/docs/concepts/security/pod-security-standards/#restricted
# custom:
#   id: DD-PSS-008
#   severity: HIGH
#   fix: Add "ALL" to securityContext.capabilities.drop of the container.
#   trivy: [KSV-0003, KSV-0004, KSV-0106]
package drydock.rules.capabilities_drop_all

import data.drydock.lib.k8s
import rego.v1

deny contains {"msg": msg, "doc": i, "path": k8s.in_container(p, e, ["securityContext", "capabilities", "drop"])} if {
	some i, p in k8s.pods
	some e in k8s.containers(p.spec)
	not drops_all(e.container)
	msg := sprintf("%s does not drop ALL capabilities (securityContext.capabilities.drop)", [k8s.describe(e)])
}

drops_all(c) if {
	some cap in c.securityContext.capabilities.drop
	upper(cap) == "ALL"
}
