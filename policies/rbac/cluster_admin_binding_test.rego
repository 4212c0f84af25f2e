package drydock.rules.cluster_admin_binding_test

import data.drydock.lib.testdata as t
import data.drydock.rules.cluster_admin_binding
import rego.v1

binding(kind, role) := {
	"apiVersion": "rbac.authorization.k8s.io/v1", "kind": kind, "metadata": {"name": "b", "namespace": "shop"},
	"roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
	"subjects": [{"kind": "ServiceAccount", "name": "app", "namespace": "shop"}],
}

test_fail_cluster_role_binding if {
	inp := t.inp([binding("ClusterRoleBinding", "cluster-admin")])
	count(cluster_admin_binding.deny) == 1 with input as inp
}

test_fail_role_binding if {
	inp := t.inp([binding("RoleBinding", "cluster-admin")])
	count(cluster_admin_binding.deny) == 1 with input as inp
}

test_pass_view if {
	inp := t.inp([binding("RoleBinding", "view")])
	count(cluster_admin_binding.deny) == 0 with input as inp
}
