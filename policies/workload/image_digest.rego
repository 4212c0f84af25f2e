# METADATA
# title: Image not pinned by digest
# description: >-
#   When the environment sets requireDigest, every image must be referenced by
#   its sha256 digest so that what was reviewed and scanned is exactly what runs.
# related_resources:
#   - https://kubernetes.io/docs/concepts/containers/images/#image-names
# custom:
#   id: DD-WKL-009
#   severity: MEDIUM
#   fix: Reference the container image as name:tag@sha256:<digest>.
#   fix_input: Pin this service's entry under spec.images.versions in environments/<env>.yaml as version@sha256:digest.
package drydock.rules.image_digest

import data.drydock.lib.images
import data.drydock.lib.k8s
import rego.v1

deny contains {"msg": msg, "doc": i, "path": k8s.in_container(p, e, ["image", "tag"])} if {
	input.env.requireDigest == true
	some i, p in k8s.pods
	some e in k8s.containers(p.spec)
	image := e.container.image
	not images.pinned(image)
	msg := sprintf("%s image %s is not pinned by @sha256 digest (requireDigest is on for this environment)", [k8s.describe(e), image])
}
