package drydock.rules.automount_token_test

import data.drydock.lib.testdata as t
import data.drydock.rules.automount_token
import rego.v1

sa(automount) := {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "app", "namespace": "shop"}, "automountServiceAccountToken": automount}

test_fail_pod_unset_no_sa if {
	inp := t.inp([t.deployment(object.remove(t.pod_spec, ["automountServiceAccountToken"]))])
	count(automount_token.deny) == 1 with input as inp
}

test_fail_pod_true if {
	inp := t.inp([t.deployment(t.spec_with({"automountServiceAccountToken": true})), sa(false)])
	count(automount_token.deny) == 1 with input as inp
}

test_fail_service_account if {
	inp := t.inp([t.deployment(t.pod_spec), sa(true)])
	some d in automount_token.deny with input as inp
	d.doc == 1
}

test_pass_pod_false if {
	inp := t.inp([t.deployment(t.pod_spec), sa(false)])
	count(automount_token.deny) == 0 with input as inp
}

test_pass_inherits_from_service_account if {
	inp := t.inp([t.deployment(object.remove(t.pod_spec, ["automountServiceAccountToken"])), sa(false)])
	count(automount_token.deny) == 0 with input as inp
}

binding(kind, sa_name, sa_ns) := {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": kind,
	"metadata": {"name": "b", "namespace": "shop"},
	"roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "view"},
	"subjects": [{"kind": "ServiceAccount", "name": sa_name, "namespace": sa_ns}]}

controller := t.deployment(object.union(object.remove(t.pod_spec, ["automountServiceAccountToken"]), {"serviceAccountName": "app"}))

test_pass_service_account_granted_a_role_keeps_its_token if {
	inp := t.inp([controller, sa(true), binding("ClusterRoleBinding", "app", "shop")])
	count(automount_token.deny) == 0 with input as inp
}

test_fail_binding_of_another_namespace_does_not_count if {
	inp := t.inp([controller, sa(true), binding("RoleBinding", "app", "other")])
	count(automount_token.deny) == 2 with input as inp
}

test_fail_default_service_account_never_earns_the_token if {
	pod := t.deployment(object.remove(t.pod_spec, ["automountServiceAccountToken"]))
	inp := t.inp([pod, binding("RoleBinding", "default", "shop")])
	count(automount_token.deny) == 1 with input as inp
}

test_fail_bound_service_account_whose_pods_turn_the_token_off if {
	inp := t.inp([t.deployment(object.union(t.pod_spec, {"serviceAccountName": "app"})), sa(true), binding("RoleBinding", "app", "shop")])
	some d in automount_token.deny with input as inp
	d.doc == 1
}
