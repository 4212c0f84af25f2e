# METADATA
# title: Role can read Secrets
# description: >-
#   get, list or watch on secrets (without resourceNames) lets the holder read
#   every Secret in scope: database passwords, TLS keys and other service
#   account tokens. A rule restricted with resourceNames passes.
# related_resources:
#   - https://kubernetes.io/docs/concepts/security/rbac-good-practices/#listing-secrets
# custom:
#   id: DD-RBAC-003
#   severity: HIGH
#   fix: Remove secrets from the rule, or restrict it with resourceNames to the Secrets the workload owns.
#   trivy: [KSV-0041]
package drydock.rules.secrets_read

import data.drydock.lib.rbac
import rego.v1

read_verbs := {"get", "list", "watch", "*"}

# One finding per rule entry: get, list and watch on the same entry are one defect (one fix).
deny contains {"msg": msg, "doc": i, "path": ["rules", n, "verbs"]} if {
	some [i, n, rule] in rbac.role_rules
	rbac.core_group(rule)
	"secrets" in object.get(rule, "resources", [])
	count(object.get(rule, "resourceNames", [])) == 0
	verbs := sort([verb | some verb in rule.verbs; verb in read_verbs])
	count(verbs) > 0
	msg := sprintf("rules[%d] grants %s on all secrets", [n, concat(", ", verbs)])
}
