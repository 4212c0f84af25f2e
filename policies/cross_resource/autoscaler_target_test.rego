package drydock.rules.autoscaler_target_test

import data.drydock.lib.testdata as t
import data.drydock.rules.autoscaler_target
import rego.v1

hpa(name) := {"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "metadata": {"name": "app", "namespace": "shop"}, "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": name}, "minReplicas": 2, "maxReplicas": 4}}

vpa(kind) := {"apiVersion": "autoscaling.k8s.io/v1", "kind": "VerticalPodAutoscaler", "metadata": {"name": "app", "namespace": "shop"}, "spec": {"targetRef": {"apiVersion": "apps/v1", "kind": kind, "name": "app"}}}

test_fail_hpa_missing if {
	inp := t.inp([t.deployment(t.pod_spec), hpa("app-v2")])
	some d in autoscaler_target.deny with input as inp
	contains(d.msg, "Deployment/app-v2")
}

test_fail_vpa_wrong_kind if {
	inp := t.inp([t.deployment(t.pod_spec), vpa("StatefulSet")])
	count(autoscaler_target.deny) == 1 with input as inp
}

test_pass_targets_exist if {
	inp := t.inp([t.deployment(t.pod_spec), hpa("app"), vpa("Deployment")])
	count(autoscaler_target.deny) == 0 with input as inp
}
