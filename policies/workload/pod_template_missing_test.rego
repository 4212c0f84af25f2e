package drydock.rules.pod_template_missing_test

import data.drydock.lib.testdata as t
import data.drydock.rules.pod_template_missing
import rego.v1

test_fail_deployment_without_template if {
	d := json.remove(t.deployment(t.pod_spec), ["spec/template"])
	count(pod_template_missing.deny) == 1 with input as t.inp([d])
}

test_fail_cronjob_without_containers if {
	count(pod_template_missing.deny) == 1 with input as t.inp([t.cronjob(object.union(t.pod_spec, {"containers": []}))])
}

test_fail_deployment_config_without_template if {
	d := {"apiVersion": "apps.openshift.io/v1", "kind": "DeploymentConfig", "metadata": t.meta("app"), "spec": {"replicas": 1}}
	count(pod_template_missing.deny) == 1 with input as t.inp([d])
}

test_pass_complete_workloads if {
	count(pod_template_missing.deny) == 0 with input as t.inp([t.deployment(t.pod_spec), t.cronjob(t.pod_spec), t.pod(t.pod_spec)])
}

test_pass_core_service_is_not_a_workload if {
	s := {"apiVersion": "v1", "kind": "Service", "metadata": t.meta("app"), "spec": {"ports": [{"port": 80}]}}
	count(pod_template_missing.deny) == 0 with input as t.inp([s])
}
