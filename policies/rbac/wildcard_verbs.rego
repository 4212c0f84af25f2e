# METADATA
# title: Role grants every verb
# description: >-
#   A Role or ClusterRole rule with verbs ["*"] grants every current and future
#   verb (including escalate, bind, impersonate and delete) on its resources.
# related_resources:
#   - https://kubernetes.io/docs/concepts/security/rbac-good-practices/
# custom:
#   id: DD-RBAC-001
#   severity: HIGH
#   fix: List the verbs the workload needs (for example get, list, watch) instead of "*".
#   trivy: [KSV-0045]
package drydock.rules.wildcard_verbs

import data.drydock.lib.rbac
import rego.v1

deny contains {"msg": msg, "doc": i, "path": ["rules", n, "verbs"]} if {
	some [i, n, rule] in rbac.role_rules
	"*" in rule.verbs
	msg := sprintf("rules[%d] grants every verb (\"*\") on %s", [n, rbac.describe_resources(rule)])
}
