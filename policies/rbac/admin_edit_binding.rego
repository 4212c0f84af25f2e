# METADATA
# title: Binding to the admin or edit ClusterRole
# description: >-
#   The built-in admin and edit ClusterRoles let their subjects read every
#   Secret, run pods as any ServiceAccount of the namespace and change
#   workloads; admin also grants RBAC within the namespace. A workload or a
#   CI identity rarely needs that: bind a Role with just its permissions.
# related_resources:
#   - https://kubernetes.io/docs/reference/access-authn-authz/rbac/#user-facing-roles
# custom:
#   id: DD-RBAC-007
#   severity: HIGH
#   fix: Bind a Role that lists only the resources and verbs the subject needs instead of the admin or edit ClusterRole.
#   trivy: [KSV-0111]
package drydock.rules.admin_edit_binding

import data.drydock.lib.rbac
import rego.v1

broad := {"admin", "edit"}

deny contains {"msg": msg, "doc": i, "path": ["roleRef", "name"]} if {
	some i, b in rbac.bindings
	b.roleRef.kind == "ClusterRole"
	b.roleRef.name in broad
	msg := sprintf("%s grants the built-in %s ClusterRole to %s", [b.kind, b.roleRef.name, subjects(b)])
}

subjects(b) := concat(", ", [sprintf("%s %s", [s.kind, s.name]) | some s in object.get(b, "subjects", [])]) if count(object.get(b, "subjects", [])) > 0

subjects(b) := "no subjects" if count(object.get(b, "subjects", [])) == 0
