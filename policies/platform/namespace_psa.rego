# METADATA
# title: Namespace does not enforce the restricted Pod Security Standard
# description: >-
#   Pod Security Admission enforces a profile per namespace through the label
#   pod-security.kubernetes.io/enforce. Without "restricted" the API server
#   admits pods that break the rules this gate checks (e.g. created by hand or
#   by an operator).
# related_resources:
#   - https://kubernetes.io/docs/concepts/security/pod-security-admission/
# custom:
#   id: DD-PLT-005
#   severity: MEDIUM
#   fix: Label the Namespace with pod-security.kubernetes.io/enforce=restricted.
package drydock.rules.namespace_psa

import data.drydock.lib.k8s
import rego.v1

label := "pod-security.kubernetes.io/enforce"

deny contains {"msg": msg, "doc": i, "path": ["metadata", "labels", label]} if {
	some i, d in input.documents
	d.object.kind == "Namespace"
	value := object.get(k8s.labels(d.object), label, "<unset>")
	value != "restricted"
	msg := sprintf("Namespace %s has %s=%v; it must be restricted", [k8s.name(d.object), label, value])
}
