package drydock.rules.secrets_read_test

import data.drydock.lib.testdata as t
import data.drydock.rules.secrets_read
import rego.v1

role(rules) := {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": {"name": "r", "namespace": "shop"}, "rules": rules}

test_fail_list_secrets if {
	inp := t.inp([role([{"apiGroups": [""], "resources": ["secrets", "configmaps"], "verbs": ["list"]}])])
	count(secrets_read.deny) == 1 with input as inp
}

test_pass_resource_names if {
	inp := t.inp([role([{"apiGroups": [""], "resources": ["secrets"], "resourceNames": ["app-tls"], "verbs": ["get"]}])])
	count(secrets_read.deny) == 0 with input as inp
}

test_pass_create_only if {
	inp := t.inp([role([{"apiGroups": [""], "resources": ["secrets"], "verbs": ["create"]}])])
	count(secrets_read.deny) == 0 with input as inp
}

test_fail_get_list_watch_is_one_finding if {
	inp := t.inp([role([{"apiGroups": [""], "resources": ["secrets"], "verbs": ["get", "list", "watch", "create"]}])])
	count(secrets_read.deny) == 1 with input as inp
	some d in secrets_read.deny with input as inp
	d.msg == "rules[0] grants get, list, watch on all secrets"
}
