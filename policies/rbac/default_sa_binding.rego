# METADATA
# title: Binding grants permissions to the default ServiceAccount
# description: >-
#   Every pod that does not name a ServiceAccount runs as "default", so
#   permissions bound to it leak to all of them. Give each workload its own
#   ServiceAccount.
# related_resources:
#   - https://kubernetes.io/docs/concepts/security/service-accounts/#default-service-accounts
# custom:
#   id: DD-RBAC-006
#   severity: MEDIUM
#   fix: Create a dedicated ServiceAccount for the workload, bind the role to it and set serviceAccountName on the pod.
package drydock.rules.default_sa_binding

import data.drydock.lib.rbac
import rego.v1

deny contains {"msg": msg, "doc": i, "path": ["subjects", n]} if {
	some i, b in rbac.bindings
	some n, s in object.get(b, "subjects", [])
	s.kind == "ServiceAccount"
	s.name == "default"
	msg := sprintf("%s grants %s %s to the default ServiceAccount of namespace %s", [b.kind, b.roleRef.kind, b.roleRef.name, object.get(s, "namespace", object.get(b.metadata, "namespace", "default"))])
}
