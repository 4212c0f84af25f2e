# METADATA
# title: Container has no memory request
# description: >-
#   Without resources.requests.memory the scheduler may overcommit the node and the pod is first to be evicted.
# related_resources:
#   - https://kubernetes.io/docs/concepts/configuration/manage-resources-containers/
# custom:
#   id: DD-WKL-004
#   severity: LOW
#   fix: Set resources.requests.memory on the container.
#   fix_input: Set spec.resources.memory in environments/<env>.yaml (or spec.overrides.<env>.memory in the services/ file); drydock renders requests equal to limits.
#   trivy: [KSV-0016]
package drydock.rules.memory_requests

import data.drydock.lib.k8s
import rego.v1

deny contains {"msg": msg, "doc": i, "path": k8s.in_container(p, e, ["resources", "requests", "memory"])} if {
	some i, p in k8s.pods
	some e in k8s.app_containers(p.spec)
	not has_value(e.container)
	msg := sprintf("%s has no resources.requests.memory", [k8s.describe(e)])
}

has_value(c) if c.resources.requests.memory != ""
