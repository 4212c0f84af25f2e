package drydock.rules.admin_edit_binding_test

import data.drydock.lib.testdata as t
import data.drydock.rules.admin_edit_binding
import rego.v1

binding(kind, role_kind, role) := {
	"apiVersion": "rbac.authorization.k8s.io/v1", "kind": kind, "metadata": {"name": "b", "namespace": "shop"},
	"roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": role_kind, "name": role},
	"subjects": [{"kind": "ServiceAccount", "name": "ci", "namespace": "shop"}],
}

test_fail_role_binding_to_admin if {
	count(admin_edit_binding.deny) == 1 with input as t.inp([binding("RoleBinding", "ClusterRole", "admin")])
}

test_fail_cluster_role_binding_to_edit if {
	count(admin_edit_binding.deny) == 1 with input as t.inp([binding("ClusterRoleBinding", "ClusterRole", "edit")])
}

test_pass_view if {
	count(admin_edit_binding.deny) == 0 with input as t.inp([binding("RoleBinding", "ClusterRole", "view")])
}

test_pass_own_role_named_admin if {
	count(admin_edit_binding.deny) == 0 with input as t.inp([binding("RoleBinding", "Role", "admin")])
}
