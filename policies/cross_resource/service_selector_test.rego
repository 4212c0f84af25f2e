package drydock.rules.service_selector_test

import data.drydock.lib.testdata as t
import data.drydock.rules.service_selector
import rego.v1

svc(ns, selector) := {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "app", "namespace": ns}, "spec": {"selector": selector, "ports": [{"port": 80, "targetPort": "http"}]}}

test_fail_typo if {
	inp := t.inp([t.deployment(t.pod_spec), svc("shop", {"app.kubernetes.io/name": "ap"})])
	some d in service_selector.deny with input as inp
	d.doc == 1
}

test_fail_other_namespace if {
	inp := t.inp([t.deployment(t.pod_spec), svc("other", t.selector_labels)])
	count(service_selector.deny) == 1 with input as inp
}

test_pass_matches_rollout if {
	inp := t.inp([t.rollout(t.pod_spec), svc("shop", t.selector_labels)])
	count(service_selector.deny) == 0 with input as inp
}

test_pass_headless_without_selector if {
	s := {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "ext", "namespace": "shop"}, "spec": {"ports": [{"port": 5432}]}}
	inp := t.inp([s])
	count(service_selector.deny) == 0 with input as inp
}

svc_for(sel) := {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "prom", "namespace": "monitoring"},
	"spec": {"selector": sel, "ports": [{"port": 9090}]}}

prometheus_cr(ns, api) := {"apiVersion": api, "kind": "Prometheus", "metadata": {"name": "k-prometheus", "namespace": ns}, "spec": {}}

test_pass_service_of_operator_created_pods if {
	sel := {"app.kubernetes.io/name": "prometheus", "operator.prometheus.io/name": "k-prometheus"}
	inp := t.inp([svc_for(sel), prometheus_cr("monitoring", "monitoring.coreos.com/v1")])
	count(service_selector.deny) == 0 with input as inp
}

test_fail_custom_resource_in_another_namespace if {
	sel := {"operator.prometheus.io/name": "k-prometheus"}
	inp := t.inp([svc_for(sel), prometheus_cr("other", "monitoring.coreos.com/v1")])
	count(service_selector.deny) == 1 with input as inp
}

test_fail_builtin_object_of_that_name_is_no_operator if {
	sel := {"app": "k-prometheus"}
	cm := {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "k-prometheus", "namespace": "monitoring"}}
	inp := t.inp([svc_for(sel), cm, prometheus_cr("monitoring", "networking.k8s.io/v1")])
	count(service_selector.deny) == 1 with input as inp
}
