# METADATA
# title: Pod shares the host PID namespace
# description: >-
#   Sharing the host's PID namespace lets the pod see and signal every process on the node. Pod Security Standards (baseline and restricted) forbid hostPID.
# related_resources:
#   - https://kubernetes.io/docs/concepts/security/pod-security-standards/#baseline
# custom:
#   id: DD-PSS-003
#   severity: HIGH
#   fix: Remove spec.hostPID from the pod spec (or set it to false).
#   trivy: [KSV-0010]
package drydock.rules.host_pid

import data.drydock.lib.k8s
import rego.v1

deny contains {"msg": msg, "doc": i, "path": k8s.at(p, ["hostPID"])} if {
	some i, p in k8s.pods
	p.spec.hostPID == true
	msg := "pod spec sets hostPID: true"
}
