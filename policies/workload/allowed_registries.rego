# METADATA
# title: Image from a registry that is not allowed
# description: >-
#   Images must come from the registries the environment trusts
#   (environments/<env>.yaml allowedRegistries, matched as prefixes). Skipped
#   when the environment sets no list.
# related_resources:
#   - https://kubernetes.io/docs/concepts/containers/images/
# custom:
#   id: DD-WKL-010
#   severity: HIGH
#   fix: Mirror the image into a registry the environment trusts and set the container's image to it.
#   fix_input: Set spec.image in the services/ file to an image under one of spec.images.registries in environments/<env>.yaml, or add its registry there.
#   trivy: [KSV-0125]
package drydock.rules.allowed_registries

import data.drydock.lib.k8s
import rego.v1

deny contains {"msg": msg, "doc": i, "path": k8s.in_container(p, e, ["image"])} if {
	allowed := input.env.allowedRegistries
	some i, p in k8s.pods
	some e in k8s.containers(p.spec)
	image := e.container.image
	not strings.any_prefix_match(image, allowed)
	msg := sprintf("%s image %s is not from an allowed registry (%s)", [k8s.describe(e), image, concat(", ", allowed)])
}
