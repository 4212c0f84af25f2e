# METADATA
# title: Container adds Linux capabilities
# description: >-
#   The restricted Pod Security Standard allows a container to add only
#   NET_BIND_SERVICE. Any other added capability widens what a compromised
#   process can do to the kernel and the node.
# related_resources:
#   - https://kubernetes.io/docs/concepts/security/pod-security-standards/#restricted
# custom:
#   id: DD-PSS-007
#   severity: HIGH
#   fix: Remove the capability from securityContext.capabilities.add; only NET_BIND_SERVICE may be added.
#   trivy: [KSV-0022, KSV-0005, KSV-0106]
package drydock.rules.capabilities_added

import data.drydock.lib.k8s
import rego.v1

deny contains {"msg": msg, "doc": i, "path": k8s.in_container(p, e, ["securityContext", "capabilities", "add", n])} if {
	some i, p in k8s.pods
	some e in k8s.containers(p.spec)
	some n, cap in object.get(e.container, ["securityContext", "capabilities", "add"], [])
	trim_prefix(upper(cap), "CAP_") != "NET_BIND_SERVICE"
	msg := sprintf("%s adds capability %s (only NET_BIND_SERVICE is allowed)", [k8s.describe(e), cap])
}
