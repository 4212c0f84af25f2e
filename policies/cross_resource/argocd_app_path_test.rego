package drydock.rules.argocd_app_path_test

import data.drydock.lib.testdata as t
import data.drydock.rules.argocd_app_path
import rego.v1

app(path) := {
	"apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
	"metadata": {"name": "order-service", "namespace": "argocd"},
	"spec": {
		"project": "default",
		"source": {"repoURL": "https://git.example.com/shop/deploy.git", "targetRevision": "main", "path": path},
		"destination": {"server": "https://kubernetes.default.svc", "namespace": "shop"},
	},
}

env := {"existingPaths": ["prod/order-service", "prod/argocd"]}

test_fail_missing_folder if {
	inp := t.inp_env([app("rendered/prod/ordr-service")], env)
	some d in argocd_app_path.deny with input as inp
	contains(d.msg, "rendered/prod/ordr-service")
}

test_fail_other_env if {
	inp := t.inp_env([app("rendered/staging/order-service")], env)
	count(argocd_app_path.deny) == 1 with input as inp
}

test_pass_existing if {
	inp := t.inp_env([app("rendered/prod/order-service"), app("./rendered/prod/argocd/")], env)
	count(argocd_app_path.deny) == 0 with input as inp
}

test_pass_without_existing_paths if {
	inp := t.inp([app("rendered/prod/nowhere")])
	count(argocd_app_path.deny) == 0 with input as inp
}
