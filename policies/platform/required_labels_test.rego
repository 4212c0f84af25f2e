package drydock.rules.required_labels_test

import data.drydock.lib.testdata as t
import data.drydock.rules.required_labels
import rego.v1

test_fail_missing_default if {
	d := json.patch(t.deployment(t.pod_spec), [{"op": "remove", "path": "/metadata/labels/app.kubernetes.io~1part-of"}])
	inp := t.inp([d])
	some x in required_labels.deny with input as inp
	contains(x.msg, "app.kubernetes.io/part-of")
}

test_fail_env_required if {
	inp := t.inp_env([t.deployment(t.pod_spec)], {"requiredLabels": ["team"]})
	count(required_labels.deny) == 1 with input as inp
}

test_pass_defaults if {
	inp := t.inp([t.deployment(t.pod_spec), t.cronjob(t.pod_spec)])
	count(required_labels.deny) == 0 with input as inp
}
