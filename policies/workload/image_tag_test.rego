package drydock.rules.image_tag_test

import data.drydock.lib.testdata as t
import data.drydock.rules.image_tag
import rego.v1

test_fail_latest if {
	inp := t.inp([t.deployment(t.spec_with_container({"image": "registry.example.com/shop/app:latest"}))])
	count(image_tag.deny) == 1 with input as inp
}

test_fail_no_tag_with_registry_port if {
	inp := t.inp([t.deployment(t.spec_with_container({"image": "registry.example.com:5000/shop/app"}))])
	some d in image_tag.deny with input as inp
	contains(d.msg, "has no tag")
}

test_pass_version_tag if {
	inp := t.inp([t.deployment(t.spec_with_container({"image": "registry.example.com:5000/shop/app:1.2.3"}))])
	count(image_tag.deny) == 0 with input as inp
}

test_pass_digest_only if {
	inp := t.inp([t.deployment(t.spec_with_container({"image": concat("@", ["registry.example.com/shop/app", t.digest])}))])
	count(image_tag.deny) == 0 with input as inp
}
