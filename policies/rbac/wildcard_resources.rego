# METADATA
# title: Role grants access to every resource
# description: >-
#   A Role or ClusterRole rule with resources ["*"] covers secrets, RBAC
#   objects and every resource type added in the future.
# related_resources:
#   - https://kubernetes.io/docs/concepts/security/rbac-good-practices/
# custom:
#   id: DD-RBAC-002
#   severity: HIGH
#   fix: List the resource types the workload needs instead of "*".
#   trivy: [KSV-0046]
package drydock.rules.wildcard_resources

import data.drydock.lib.rbac
import rego.v1

deny contains {"msg": msg, "doc": i, "path": ["rules", n, "resources"]} if {
	some [i, n, rule] in rbac.role_rules
	"*" in object.get(rule, "resources", [])
	msg := sprintf("rules[%d] grants %s on every resource (\"*\")", [n, concat(", ", rule.verbs)])
}
