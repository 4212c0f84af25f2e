# Builders for rule tests: hardened objects that pass every rule, to be
# mutated one field at a time with object.union. Loaded only by tests.
package drydock.lib.testdata

import rego.v1

digest := "sha256:2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae"

image := concat("", ["registry.example.com/shop/app:1.4.2@", digest])

labels := {
	"app.kubernetes.io/name": "app",
	"app.kubernetes.io/part-of": "shop",
	"app.kubernetes.io/managed-by": "drydock",
}

selector_labels := {"app.kubernetes.io/name": "app"}

container := {
	"name": "app",
	"image": image,
	"ports": [{"name": "http", "containerPort": 8080}],
	"securityContext": {
		"allowPrivilegeEscalation": false,
		"readOnlyRootFilesystem": true,
		"runAsNonRoot": true,
		"capabilities": {"drop": ["ALL"]},
	},
	"resources": {
		"requests": {"cpu": "100m", "memory": "128Mi"},
		"limits": {"cpu": "500m", "memory": "128Mi"},
	},
	"livenessProbe": {"httpGet": {"path": "/healthz", "port": "http"}},
	"readinessProbe": {"httpGet": {"path": "/ready", "port": "http"}},
}

pod_spec := {
	"automountServiceAccountToken": false,
	"serviceAccountName": "app",
	"securityContext": {
		"runAsNonRoot": true,
		"runAsUser": 10001,
		"seccompProfile": {"type": "RuntimeDefault"},
	},
	"containers": [container],
	"volumes": [{"name": "tmp", "emptyDir": {}}],
}

# c(patch): the hardened container deep-merged with patch.
c(patch) := object.union(container, patch)

# spec_with(patch): the hardened pod spec deep-merged with patch.
spec_with(patch) := object.union(pod_spec, patch)

# spec_with_container(patch): pod spec whose only container is c(patch).
spec_with_container(patch) := object.union(pod_spec, {"containers": [c(patch)]})

meta(kind_name) := {"name": kind_name, "namespace": "shop", "labels": labels}

deployment(spec) := {
	"apiVersion": "apps/v1",
	"kind": "Deployment",
	"metadata": meta("app"),
	"spec": {
		"replicas": 1,
		"selector": {"matchLabels": selector_labels},
		"template": {"metadata": {"labels": labels}, "spec": spec},
	},
}

cronjob(spec) := {
	"apiVersion": "batch/v1",
	"kind": "CronJob",
	"metadata": meta("job"),
	"spec": {
		"schedule": "*/5 * * * *",
		"jobTemplate": {"spec": {"template": {"metadata": {"labels": labels}, "spec": object.union(spec, {"restartPolicy": "Never"})}}},
	},
}

pod(spec) := {"apiVersion": "v1", "kind": "Pod", "metadata": meta("app"), "spec": spec}

rollout(spec) := {
	"apiVersion": "argoproj.io/v1alpha1",
	"kind": "Rollout",
	"metadata": meta("app"),
	"spec": {
		"replicas": 1,
		"selector": {"matchLabels": selector_labels},
		"template": {"metadata": {"labels": labels}, "spec": spec},
	},
}

# inp(objs): a gate input holding objs, env empty.
inp(objs) := {"documents": [{"file": "t.yaml", "line": 1, "object": o} | some o in objs], "env": {}}

# inp_env(objs, env): same with input.env.
inp_env(objs, env) := {"documents": [{"file": "t.yaml", "line": 1, "object": o} | some o in objs], "env": env}
