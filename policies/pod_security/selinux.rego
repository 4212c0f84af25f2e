# METADATA
# title: Custom SELinux options
# description: >-
#   Pod Security Standards allow seLinuxOptions.type only from the container
#   types (container_t, container_init_t, container_kvm_t, container_engine_t)
#   and forbid setting a custom SELinux user or role, on the pod and on every
#   container.
# related_resources:
#   - https://kubernetes.io/docs/concepts/security/pod-security-standards/#baseline
# custom:
#   id: DD-PSS-014
#   severity: MEDIUM
#   fix: Remove seLinuxOptions.user and .role and use an allowed type such as container_t (or drop seLinuxOptions).
#   trivy: [KSV-0025]
package drydock.rules.selinux

import data.drydock.lib.k8s
import rego.v1

allowed_types := {"", "container_t", "container_init_t", "container_kvm_t", "container_engine_t"}

# options: [doc index, where, seLinuxOptions] for the pod and every container.
options contains [i, where, opts, where_path] if {
	some i, p in k8s.pods
	opts := p.spec.securityContext.seLinuxOptions
	where := "pod securityContext"
	where_path := k8s.at(p, ["securityContext", "seLinuxOptions"])
}

options contains [i, where, opts, where_path] if {
	some i, p in k8s.pods
	some e in k8s.containers(p.spec)
	opts := e.container.securityContext.seLinuxOptions
	where := k8s.describe(e)
	where_path := k8s.in_container(p, e, ["securityContext", "seLinuxOptions"])
}

deny contains {"msg": msg, "doc": i, "path": array.concat(where_path, ["type"])} if {
	some [i, where, opts, where_path] in options
	not object.get(opts, "type", "") in allowed_types
	msg := sprintf("%s sets seLinuxOptions.type %v; allowed: container_t, container_init_t, container_kvm_t, container_engine_t", [where, opts.type])
}

deny contains {"msg": msg, "doc": i, "path": array.concat(where_path, [field])} if {
	some [i, where, opts, where_path] in options
	some field in ["user", "role"]
	object.get(opts, field, "") != ""
	msg := sprintf("%s sets seLinuxOptions.%s %v; custom SELinux users and roles are not allowed", [where, field, opts[field]])
}
