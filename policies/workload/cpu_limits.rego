# METADATA
# title: Container has no cpu limit
# description: >-
#   Without resources.limits.cpu one busy pod can starve its neighbours on the node.
# related_resources:
#   - https://kubernetes.io/docs/concepts/configuration/manage-resources-containers/
# custom:
#   id: DD-WKL-003
#   severity: MEDIUM
#   fix: Set resources.limits.cpu on the container.
#   fix_input: Set spec.resources.cpu in environments/<env>.yaml (or spec.overrides.<env>.cpu in the services/ file); drydock renders requests equal to limits.
#   trivy: [KSV-0011]
package drydock.rules.cpu_limits

import data.drydock.lib.k8s
import rego.v1

deny contains {"msg": msg, "doc": i, "path": k8s.in_container(p, e, ["resources", "limits", "cpu"])} if {
	some i, p in k8s.pods
	some e in k8s.app_containers(p.spec)
	not has_value(e.container)
	msg := sprintf("%s has no resources.limits.cpu", [k8s.describe(e)])
}

has_value(c) if c.resources.limits.cpu != ""
