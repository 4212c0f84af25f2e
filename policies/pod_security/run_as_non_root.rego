# METADATA
# title: Container may run as root
# description: >-
#   The restricted Pod Security Standard requires runAsNonRoot: true, set on
#   the pod's securityContext or on every container, so the kubelet refuses to
#   start an image whose user is root.
# related_resources:
#   - https://kubernetes.io/docs/concepts/security/pod-security-standards/#restricted
# custom:
#   id: DD-PSS-010
#   severity: HIGH
#   fix: Set securityContext.runAsNonRoot to true on the pod (or on the container) and run the image as a non-zero UID.
#   trivy: [KSV-0012]
package drydock.rules.run_as_non_root

import data.drydock.lib.k8s
import rego.v1

deny contains {"msg": msg, "doc": i, "path": k8s.in_container(p, e, ["securityContext", "runAsNonRoot"])} if {
	some i, p in k8s.pods
	some e in k8s.containers(p.spec)
	not runs_as_non_root(p.spec, e.container)
	msg := sprintf("%s does not run with runAsNonRoot: true (neither the container nor the pod securityContext sets it)", [k8s.describe(e)])
}

# A helper, not `not f(x) == true`: OPA hoists the call out of the negation,
# so an undefined result would make the whole rule body undefined.
runs_as_non_root(spec, c) if k8s.effective(spec, c, "runAsNonRoot") == true
