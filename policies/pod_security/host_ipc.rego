# METADATA
# title: Pod shares the host IPC namespace
# description: >-
#   Sharing the host's IPC namespace lets the pod read shared memory of other processes on the node. Pod Security Standards (baseline and restricted) forbid hostIPC.
# related_resources:
#   - https://kubernetes.io/docs/concepts/security/pod-security-standards/#baseline
# custom:
#   id: DD-PSS-004
#   severity: HIGH
#   fix: Remove spec.hostIPC from the pod spec (or set it to false).
#   trivy: [KSV-0008]
package drydock.rules.host_ipc

import data.drydock.lib.k8s
import rego.v1

deny contains {"msg": msg, "doc": i, "path": k8s.at(p, ["hostIPC"])} if {
	some i, p in k8s.pods
	p.spec.hostIPC == true
	msg := "pod spec sets hostIPC: true"
}
