# METADATA
# title: Image from a registry that is not allowed
# description: >-
#   Images must come from the registries the environment trusts
#   (environments/<env>.yaml allowedRegistries, matched as prefixes). Skipped
#   when the environment sets no list. Objects expanded from an add-on's Helm
#   chart (input.documents[i].app names its ArgoCD Application) are held to
#   that add-on's own image prefixes (generator/addons.yaml `images`, passed as
#   input.env.addonImages) instead: an add-on may pull its upstream images and
#   nothing else, so an image smuggled in through add-on values still fails.
# related_resources:
#   - https://kubernetes.io/docs/concepts/containers/images/
# custom:
#   id: DD-WKL-010
#   severity: HIGH
#   fix: Mirror the image into a registry the environment trusts and set the container's image to it.
#   fix_input: Set spec.image in the services/ file to an image under one of spec.images.registries in environments/<env>.yaml, or add its registry there (add-on images - the `images` of the add-on in generator/addons.yaml).
#   trivy: [KSV-0125]
package drydock.rules.allowed_registries

import data.drydock.lib.k8s
import rego.v1

deny contains {"msg": msg, "doc": i, "path": k8s.in_container(p, e, ["image"])} if {
	some i, p in k8s.pods
	allowed := trusted(i)
	allowed != null # the env sets no list: nothing to check
	some e in k8s.containers(p.spec)
	image := e.container.image
	not strings.any_prefix_match(image, allowed)
	msg := sprintf("%s image %s is not from an allowed registry (%s)", [k8s.describe(e), image, concat(", ", allowed)])
}

# trusted(i): the prefixes document i may pull from: an add-on's objects its own images,
# ours (and an Application the catalogue does not list) the env's registries.
trusted(i) := object.get(
	object.get(input.env, "addonImages", {}),
	object.get(input.documents[i], "app", ""),
	object.get(input.env, "allowedRegistries", null),
)
