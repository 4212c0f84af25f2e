# METADATA
# title: Binding to cluster-admin
# description: >-
#   A RoleBinding or ClusterRoleBinding to the cluster-admin ClusterRole gives
#   its subjects full control (cluster-wide for a ClusterRoleBinding, the whole
#   namespace for a RoleBinding).
# related_resources:
#   - https://kubernetes.io/docs/reference/access-authn-authz/rbac/#user-facing-roles
# custom:
#   id: DD-RBAC-005
#   severity: CRITICAL
#   fix: Bind a Role that lists only the permissions the subject needs instead of cluster-admin.
#   trivy: [KSV-0111]
package drydock.rules.cluster_admin_binding

import data.drydock.lib.rbac
import rego.v1

deny contains {"msg": msg, "doc": i, "path": ["roleRef", "name"]} if {
	some i, b in rbac.bindings
	b.roleRef.kind == "ClusterRole"
	b.roleRef.name == "cluster-admin"
	msg := sprintf("%s binds the cluster-admin ClusterRole", [b.kind])
}
