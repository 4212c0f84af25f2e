# Shared helpers: RBAC roles and bindings.
package drydock.lib.rbac

import rego.v1

role_kinds := {"Role", "ClusterRole"}

binding_kinds := {"RoleBinding", "ClusterRoleBinding"}

# role_rules: [doc index, rule index, rule] for every rule of every Role/ClusterRole.
role_rules contains [i, n, rule] if {
	some i, d in input.documents
	d.object.kind in role_kinds
	startswith(d.object.apiVersion, "rbac.authorization.k8s.io/")
	some n, rule in object.get(d.object, "rules", [])
}

# bindings[i]: every RoleBinding/ClusterRoleBinding.
bindings[i] := d.object if {
	some i, d in input.documents
	d.object.kind in binding_kinds
	startswith(d.object.apiVersion, "rbac.authorization.k8s.io/")
}

describe_resources(rule) := concat(", ", object.get(rule, "resources", ["<no resources>"]))

# core_group(rule): the rule applies to the core API group ("") or to all groups.
core_group(rule) if "" in object.get(rule, "apiGroups", [""])

core_group(rule) if "*" in object.get(rule, "apiGroups", [])
