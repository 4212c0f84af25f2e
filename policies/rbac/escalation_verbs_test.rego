package drydock.rules.escalation_verbs_test

import data.drydock.lib.testdata as t
import data.drydock.rules.escalation_verbs
import rego.v1

cluster_role(rules) := {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": "r"}, "rules": rules}

test_fail_impersonate if {
	inp := t.inp([cluster_role([{"apiGroups": [""], "resources": ["users", "groups"], "verbs": ["impersonate"]}])])
	count(escalation_verbs.deny) == 1 with input as inp
}

test_fail_bind_and_escalate if {
	inp := t.inp([cluster_role([{"apiGroups": ["rbac.authorization.k8s.io"], "resources": ["clusterroles"], "verbs": ["bind", "escalate"]}])])
	count(escalation_verbs.deny) == 2 with input as inp
}

test_pass_read_only if {
	inp := t.inp([cluster_role([{"apiGroups": ["rbac.authorization.k8s.io"], "resources": ["clusterroles"], "verbs": ["get", "list"]}])])
	count(escalation_verbs.deny) == 0 with input as inp
}
