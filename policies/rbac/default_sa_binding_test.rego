package drydock.rules.default_sa_binding_test

import data.drydock.lib.testdata as t
import data.drydock.rules.default_sa_binding
import rego.v1

binding(sa) := {
	"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": {"name": "b", "namespace": "shop"},
	"roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "reader"},
	"subjects": [{"kind": "ServiceAccount", "name": sa}],
}

test_fail_default if {
	inp := t.inp([binding("default")])
	some d in default_sa_binding.deny with input as inp
	contains(d.msg, "namespace shop")
}

test_pass_dedicated if {
	inp := t.inp([binding("app")])
	count(default_sa_binding.deny) == 0 with input as inp
}
