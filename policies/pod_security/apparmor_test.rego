package drydock.rules.apparmor_test

import data.drydock.lib.testdata as t
import data.drydock.rules.apparmor
import rego.v1

test_fail_unconfined_annotation if {
	d := t.deployment(t.pod_spec)
	bad := object.union(d, {"spec": {"template": {"metadata": {"annotations": {"container.apparmor.security.beta.kubernetes.io/app": "unconfined"}}}}})
	inp := t.inp([bad])
	count(apparmor.deny) == 1 with input as inp
}

test_fail_container_unconfined if {
	inp := t.inp([t.deployment(t.spec_with_container({"securityContext": {"appArmorProfile": {"type": "Unconfined"}}}))])
	count(apparmor.deny) == 1 with input as inp
}

test_fail_pod_unconfined if {
	inp := t.inp([t.pod(t.spec_with({"securityContext": {"appArmorProfile": {"type": "Unconfined"}}}))])
	count(apparmor.deny) == 1 with input as inp
}

test_pass_unset_and_runtime_default if {
	d := t.deployment(t.spec_with({"securityContext": {"appArmorProfile": {"type": "RuntimeDefault"}}}))
	ok := object.union(d, {"spec": {"template": {"metadata": {"annotations": {"container.apparmor.security.beta.kubernetes.io/app": "localhost/k8s-app"}}}}})
	inp := t.inp([ok, t.deployment(t.pod_spec)])
	count(apparmor.deny) == 0 with input as inp
}
