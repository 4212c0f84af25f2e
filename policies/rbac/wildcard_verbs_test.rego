package drydock.rules.wildcard_verbs_test

import data.drydock.lib.testdata as t
import data.drydock.rules.wildcard_verbs
import rego.v1

role(rules) := {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": {"name": "r", "namespace": "shop"}, "rules": rules}

test_fail_star_verb if {
	inp := t.inp([role([{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["*"]}])])
	some d in wildcard_verbs.deny with input as inp
	contains(d.msg, "configmaps")
}

test_pass_explicit_verbs if {
	inp := t.inp([role([{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "list", "watch"]}])])
	count(wildcard_verbs.deny) == 0 with input as inp
}
