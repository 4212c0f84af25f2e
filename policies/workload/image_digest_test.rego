package drydock.rules.image_digest_test

import data.drydock.lib.testdata as t
import data.drydock.rules.image_digest
import rego.v1

test_fail_tag_only if {
	inp := t.inp_env([t.deployment(t.spec_with_container({"image": "registry.example.com/shop/app:1.2.3"}))], {"requireDigest": true})
	count(image_digest.deny) == 1 with input as inp
}

test_pass_digest if {
	inp := t.inp_env([t.deployment(t.pod_spec)], {"requireDigest": true})
	count(image_digest.deny) == 0 with input as inp
}

test_pass_not_required if {
	inp := t.inp([t.deployment(t.spec_with_container({"image": "registry.example.com/shop/app:1.2.3"}))])
	count(image_digest.deny) == 0 with input as inp
}
