# METADATA
# title: Pod shares the host Network namespace
# description: >-
#   Sharing the host's network namespace lets the pod sniff node traffic and reach services bound to localhost on the node. Pod Security Standards (baseline and restricted) forbid hostNetwork.
# related_resources:
#   - https://kubernetes.io/docs/concepts/security/pod-security-standards/#baseline
# custom:
#   id: DD-PSS-002
#   severity: HIGH
#   fix: Remove spec.hostNetwork from the pod spec (or set it to false).
#   trivy: [KSV-0009]
package drydock.rules.host_network

import data.drydock.lib.k8s
import rego.v1

deny contains {"msg": msg, "doc": i, "path": k8s.at(p, ["hostNetwork"])} if {
	some i, p in k8s.pods
	p.spec.hostNetwork == true
	msg := "pod spec sets hostNetwork: true"
}
