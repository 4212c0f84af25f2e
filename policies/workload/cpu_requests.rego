# METADATA
# title: Container has no cpu request
# description: >-
#   Without resources.requests.cpu the scheduler cannot place the pod sensibly and it is first to be starved under contention.
# related_resources:
#   - https://kubernetes.io/docs/concepts/configuration/manage-resources-containers/
# custom:
#   id: DD-WKL-002
#   severity: LOW
#   fix: Set resources.requests.cpu on the container.
#   fix_input: Set spec.resources.cpu in environments/<env>.yaml (or spec.overrides.<env>.cpu in the services/ file); drydock renders requests equal to limits.
#   trivy: [KSV-0015]
package drydock.rules.cpu_requests

import data.drydock.lib.k8s
import rego.v1

deny contains {"msg": msg, "doc": i, "path": k8s.in_container(p, e, ["resources", "requests", "cpu"])} if {
	some i, p in k8s.pods
	some e in k8s.app_containers(p.spec)
	not has_value(e.container)
	msg := sprintf("%s has no resources.requests.cpu", [k8s.describe(e)])
}

has_value(c) if c.resources.requests.cpu != ""
