# METADATA
# title: Image uses latest or no tag
# description: >-
#   An image without a tag means :latest. A mutable tag makes rollouts
#   unreproducible and lets a registry push change what runs without a diff.
# related_resources:
#   - https://kubernetes.io/docs/concepts/containers/images/#image-names
# custom:
#   id: DD-WKL-008
#   severity: MEDIUM
#   fix: Set the container image to an explicit version tag, ideally with a digest (name:1.4.2@sha256:...).
#   fix_input: Set this service's entry under spec.images.versions in environments/<env>.yaml to an explicit version (ideally version@sha256:digest).
#   trivy: [KSV-0013]
package drydock.rules.image_tag

import data.drydock.lib.images
import data.drydock.lib.k8s
import rego.v1

deny contains {"msg": msg, "doc": i, "path": k8s.in_container(p, e, ["image", "tag"])} if {
	some i, p in k8s.pods
	some e in k8s.containers(p.spec)
	image := e.container.image
	not images.pinned(image)
	not images.has_tag(image)
	msg := sprintf("%s image %s has no tag (it means :latest)", [k8s.describe(e), image])
}

deny contains {"msg": msg, "doc": i, "path": k8s.in_container(p, e, ["image", "tag"])} if {
	some i, p in k8s.pods
	some e in k8s.containers(p.spec)
	image := e.container.image
	not images.pinned(image)
	images.tag(image) == "latest"
	msg := sprintf("%s image %s uses the mutable tag :latest", [k8s.describe(e), image])
}
