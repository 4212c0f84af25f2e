# METADATA
# title: Container has no memory limit
# description: >-
#   Without resources.limits.memory a leak can exhaust the node's memory and trigger the OOM killer on other pods.
# related_resources:
#   - https://kubernetes.io/docs/concepts/configuration/manage-resources-containers/
# custom:
#   id: DD-WKL-005
#   severity: MEDIUM
#   fix: Set resources.limits.memory on the container.
#   fix_input: Set spec.resources.memory in environments/<env>.yaml (or spec.overrides.<env>.memory in the services/ file); drydock renders requests equal to limits.
#   trivy: [KSV-0018]
package drydock.rules.memory_limits

import data.drydock.lib.k8s
import rego.v1

deny contains {"msg": msg, "doc": i, "path": k8s.in_container(p, e, ["resources", "limits", "memory"])} if {
	some i, p in k8s.pods
	some e in k8s.app_containers(p.spec)
	not has_value(e.container)
	msg := sprintf("%s has no resources.limits.memory", [k8s.describe(e)])
}

has_value(c) if c.resources.limits.memory != ""
