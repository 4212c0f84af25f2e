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

addon_env := {
	"allowedRegistries": ["registry.example.com/shop/"],
	"addonImages": {"prod-cert-manager": ["quay.io/jetstack/cert-manager-"]},
}

addon_doc(image, app) := {"file": "t.yaml", "line": 1, "app": app,
	"object": t.deployment(t.spec_with_container({"image": image}))}

test_pass_addon_image_from_its_catalogue_prefixes if {
	inp := {"documents": [addon_doc("quay.io/jetstack/cert-manager-controller:v1.16.2", "prod-cert-manager")], "env": addon_env}
	count(allowed_registries.deny) == 0 with input as inp
}

test_fail_addon_image_smuggled_through_values if {
	inp := {"documents": [addon_doc("docker.io/evil/miner:1", "prod-cert-manager")], "env": addon_env}
	some d in allowed_registries.deny with input as inp
	contains(d.msg, "docker.io/evil/miner:1")
	contains(d.msg, "quay.io/jetstack/cert-manager-")
}

test_fail_addon_prefixes_are_not_shared_with_other_apps if {
	# another add-on's image, or our own registry, is not trusted for this Application
	inp := {"documents": [addon_doc("registry.example.com/shop/app:1", "prod-cert-manager")], "env": addon_env}
	count(allowed_registries.deny) == 1 with input as inp
}

test_fail_our_objects_do_not_get_addon_prefixes if {
	inp := t.inp_env([t.deployment(t.spec_with_container({"image": "quay.io/jetstack/cert-manager-controller:v1"}))], addon_env)
	count(allowed_registries.deny) == 1 with input as inp
}

test_fail_unlisted_app_falls_back_to_env_registries if {
	inp := {"documents": [addon_doc("quay.io/jetstack/cert-manager-controller:v1", "prod-unknown")], "env": addon_env}
	count(allowed_registries.deny) == 1 with input as inp
}
