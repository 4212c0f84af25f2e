# METADATA
# title: Windows HostProcess container
# description: >-
#   A Windows HostProcess container runs directly on the node with host
#   privileges. Pod Security Standards forbid windowsOptions.hostProcess.
# related_resources:
#   - https://kubernetes.io/docs/concepts/security/pod-security-standards/#baseline
# custom:
#   id: DD-PSS-018
#   severity: CRITICAL
#   fix: Remove securityContext.windowsOptions.hostProcess (or set it to false) on the pod and its containers.
package drydock.rules.host_process

import data.drydock.lib.k8s
import rego.v1

deny contains {"msg": msg, "doc": i, "path": k8s.at(p, ["securityContext", "windowsOptions", "hostProcess"])} if {
	some i, p in k8s.pods
	p.spec.securityContext.windowsOptions.hostProcess == true
	msg := "pod securityContext.windowsOptions.hostProcess is true"
}

deny contains {"msg": msg, "doc": i, "path": k8s.in_container(p, e, ["securityContext", "windowsOptions", "hostProcess"])} if {
	some i, p in k8s.pods
	some e in k8s.containers(p.spec)
	e.container.securityContext.windowsOptions.hostProcess == true
	msg := sprintf("%s sets securityContext.windowsOptions.hostProcess: true", [k8s.describe(e)])
}
