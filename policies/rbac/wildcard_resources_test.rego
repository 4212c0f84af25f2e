package drydock.rules.wildcard_resources_test

import data.drydock.lib.testdata as t
import data.drydock.rules.wildcard_resources
import rego.v1

cluster_role(rules) := {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": "r"}, "rules": rules}

test_fail_star_resource if {
	inp := t.inp([cluster_role([{"apiGroups": ["apps"], "resources": ["*"], "verbs": ["get"]}])])
	count(wildcard_resources.deny) == 1 with input as inp
}

test_pass_named_resources if {
	inp := t.inp([cluster_role([{"apiGroups": ["apps"], "resources": ["deployments"], "verbs": ["get"]}, {"nonResourceURLs": ["/metrics"], "verbs": ["get"]}])])
	count(wildcard_resources.deny) == 0 with input as inp
}
