package drydock.rules.allowed_registries_test

import data.drydock.lib.testdata as t
import data.drydock.rules.allowed_registries
import rego.v1

env := {"allowedRegistries": ["registry.example.com/shop/", "ghcr.io/example/"]}

test_fail_docker_hub if {
	inp := t.inp_env([t.deployment(t.spec_with_container({"image": "nginx:1.27"}))], env)
	some d in allowed_registries.deny with input as inp
	contains(d.msg, "nginx:1.27")
}

test_fail_lookalike_host if {
	inp := t.inp_env([t.deployment(t.spec_with_container({"image": "registry.example.com.evil.io/shop/app:1"}))], env)
	count(allowed_registries.deny) == 1 with input as inp
}

test_pass_allowed if {
	inp := t.inp_env([t.deployment(t.pod_spec)], env)
	count(allowed_registries.deny) == 0 with input as inp
}

test_pass_no_list if {
	inp := t.inp([t.deployment(t.spec_with_container({"image": "nginx:1.27"}))])
	count(allowed_registries.deny) == 0 with input as inp
}
