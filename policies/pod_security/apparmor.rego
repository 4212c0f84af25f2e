# METADATA
# title: AppArmor profile overridden
# description: >-
#   Pod Security Standards forbid disabling or replacing the runtime's default
#   AppArmor profile: only runtime/default (RuntimeDefault) and localhost/*
#   (Localhost) profiles are allowed, whether set with the legacy
#   container.apparmor.security.beta.kubernetes.io annotation or with
#   securityContext.appArmorProfile.
# related_resources:
#   - https://kubernetes.io/docs/tutorials/security/apparmor/
# custom:
#   id: DD-PSS-013
#   severity: MEDIUM
#   fix: Remove the AppArmor override or set it to RuntimeDefault (annotation value runtime/default) or a Localhost profile.
#   trivy: [KSV-0002]
package drydock.rules.apparmor

import data.drydock.lib.k8s
import rego.v1

annotation_prefix := "container.apparmor.security.beta.kubernetes.io/"

allowed_types := {"RuntimeDefault", "Localhost"}

deny contains {"msg": msg, "doc": i, "path": array.concat(array.slice(p.path, 0, count(p.path) - 1), ["metadata", "annotations", key])} if {
	some i, p in k8s.pods
	some key, value in k8s.annotations({"metadata": p.meta})
	startswith(key, annotation_prefix)
	not allowed_annotation(value)
	msg := sprintf("annotation %s is %v; only runtime/default or localhost/<profile> are allowed", [key, value])
}

deny contains {"msg": msg, "doc": i, "path": k8s.at(p, ["securityContext", "appArmorProfile", "type"])} if {
	some i, p in k8s.pods
	t := p.spec.securityContext.appArmorProfile.type
	not t in allowed_types
	msg := sprintf("pod securityContext.appArmorProfile.type is %v; use RuntimeDefault or Localhost", [t])
}

deny contains {"msg": msg, "doc": i, "path": k8s.in_container(p, e, ["securityContext", "appArmorProfile", "type"])} if {
	some i, p in k8s.pods
	some e in k8s.containers(p.spec)
	t := e.container.securityContext.appArmorProfile.type
	not t in allowed_types
	msg := sprintf("%s sets securityContext.appArmorProfile.type %v; use RuntimeDefault or Localhost", [k8s.describe(e), t])
}

allowed_annotation(v) if v == "runtime/default"

allowed_annotation(v) if startswith(v, "localhost/")
