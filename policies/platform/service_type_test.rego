package drydock.rules.service_type_test

import data.drydock.lib.testdata as t
import data.drydock.rules.service_type
import rego.v1

svc(type) := {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": "shop"}, "spec": {"type": type, "selector": t.selector_labels, "ports": [{"port": 80}]}}

test_fail_load_balancer if {
	inp := t.inp([svc("LoadBalancer")])
	count(service_type.deny) == 1 with input as inp
}

test_fail_node_port_not_in_env if {
	inp := t.inp_env([svc("NodePort")], {"allowedServiceTypes": ["ClusterIP", "LoadBalancer"]})
	count(service_type.deny) == 1 with input as inp
}

test_pass_cluster_ip if {
	inp := t.inp([svc("ClusterIP")])
	count(service_type.deny) == 0 with input as inp
}

test_pass_allowed_by_env if {
	inp := t.inp_env([svc("LoadBalancer")], {"allowedServiceTypes": ["ClusterIP", "LoadBalancer"]})
	count(service_type.deny) == 0 with input as inp
}
