# Shared helpers: container image references.
package drydock.lib.images

import rego.v1

# pinned(image): the reference carries a sha256 digest.
pinned(image) if contains(image, "@sha256:")

# last_segment(image): the last path segment without a digest, e.g. "app:1.2".
last_segment(image) := seg if {
	parts := split(split(image, "@")[0], "/")
	seg := parts[count(parts) - 1]
}

# tag(image): the tag, undefined when the reference has none.
tag(image) := t if {
	seg := last_segment(image)
	contains(seg, ":")
	t := split(seg, ":")[1]
}

has_tag(image) if tag(image)
