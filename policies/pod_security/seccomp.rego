# METADATA
# title: Seccomp profile not RuntimeDefault or Localhost
# description: >-
#   Without a seccomp profile a container can call every system call, which
#   makes kernel exploits easier. The restricted Pod Security Standard requires
#   seccompProfile.type RuntimeDefault or Localhost for every container (set on
#   the pod or per container) and forbids Unconfined.
# related_resources:
#   - https://kubernetes.io/docs/tutorials/security/seccomp/
# custom:
#   id: DD-PSS-012
#   severity: MEDIUM
#   fix: Set securityContext.seccompProfile.type to RuntimeDefault on the pod spec (containers inherit it).
#   trivy: [KSV-0030, KSV-0104]
package drydock.rules.seccomp

import data.drydock.lib.k8s
import rego.v1

allowed := {"RuntimeDefault", "Localhost"}

deny contains {"msg": msg, "doc": i, "path": k8s.in_container(p, e, ["securityContext", "seccompProfile", "type"])} if {
	some i, p in k8s.pods
	some e in k8s.containers(p.spec)
	not allowed_profile(p.spec, e.container)
	msg := sprintf("%s has no RuntimeDefault/Localhost seccomp profile (effective seccompProfile.type: %v)", [k8s.describe(e), profile_type(p.spec, e.container)])
}

deny contains {"msg": msg, "doc": i, "path": k8s.at(p, ["securityContext", "seccompProfile", "type"])} if {
	some i, p in k8s.pods
	t := p.spec.securityContext.seccompProfile.type
	not t in allowed
	msg := sprintf("pod securityContext.seccompProfile.type is %v; use RuntimeDefault or Localhost", [t])
}

profile_type(spec, c) := k8s.effective(spec, c, "seccompProfile").type

profile_type(spec, c) := "unset" if not has_profile_type(spec, c)

# Helpers keep function calls out of `not` (OPA hoists calls out of negations).
allowed_profile(spec, c) if k8s.effective(spec, c, "seccompProfile").type in allowed

has_profile_type(spec, c) if k8s.effective(spec, c, "seccompProfile").type
