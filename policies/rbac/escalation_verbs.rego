# METADATA
# title: Role grants escalate, bind or impersonate
# description: >-
#   escalate and bind let the holder grant themselves permissions they do not
#   have; impersonate lets them act as any user, group or service account.
# related_resources:
#   - https://kubernetes.io/docs/concepts/security/rbac-good-practices/#escalate-verb
# custom:
#   id: DD-RBAC-004
#   severity: CRITICAL
#   fix: Remove the escalate, bind and impersonate verbs; only cluster operators' tooling should hold them.
package drydock.rules.escalation_verbs

import data.drydock.lib.rbac
import rego.v1

dangerous := {"escalate", "bind", "impersonate"}

deny contains {"msg": msg, "doc": i, "path": ["rules", n, "verbs"]} if {
	some [i, n, rule] in rbac.role_rules
	some verb in rule.verbs
	verb in dangerous
	msg := sprintf("rules[%d] grants the %s verb on %s", [n, verb, rbac.describe_resources(rule)])
}
