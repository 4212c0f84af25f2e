# METADATA
# title: Service account token mounted
# description: >-
#   Unless automountServiceAccountToken is false, every pod gets an API token.
#   Most workloads never call the Kubernetes API; a stolen token is a free
#   foothold. A pod passes when it sets false itself or leaves it unset and its
#   ServiceAccount (in the render) sets false; every ServiceAccount must set
#   false. A ServiceAccount that a RoleBinding or ClusterRoleBinding in the
#   render grants a role is one whose pods call the API (controllers,
#   operators, webhooks of add-ons): its pods need the token and pass, and so
#   does the ServiceAccount unless a pod of it turns the token off (then the
#   ServiceAccount should too). The binding itself is judged by the DD-RBAC
#   rules. The `default` ServiceAccount never earns this.
# related_resources:
#   - https://kubernetes.io/docs/tasks/configure-pod-container/configure-service-account/#opt-out-of-api-credential-automounting
# custom:
#   id: DD-WKL-013
#   severity: MEDIUM
#   fix: Set automountServiceAccountToken to false on the pod spec and the ServiceAccount; mount a projected token only where the API is needed.
#   trivy: [KSV-0036]
package drydock.rules.automount_token

import data.drydock.lib.k8s
import data.drydock.lib.rbac
import rego.v1

deny contains {"msg": msg, "doc": i, "path": k8s.at(p, ["automountServiceAccountToken"])} if {
	some i, p in k8s.pods
	not token_disabled(p)
	not [k8s.namespace(p.obj), service_account(p)] in api_users
	msg := sprintf("pod spec mounts the service account token of %s (automountServiceAccountToken is not false)", [service_account(p)])
}

deny contains {"msg": msg, "doc": i, "path": ["automountServiceAccountToken"]} if {
	some i, d in input.documents
	d.object.kind == "ServiceAccount"
	object.get(d.object, "automountServiceAccountToken", true) != false
	not token_needed(k8s.namespace(d.object), k8s.name(d.object))
	msg := sprintf("ServiceAccount %s does not set automountServiceAccountToken: false", [k8s.name(d.object)])
}

service_account(p) := object.get(p.spec, "serviceAccountName", "default")

token_disabled(p) if p.spec.automountServiceAccountToken == false

token_disabled(p) if {
	not k8s.has_key(p.spec, "automountServiceAccountToken")
	[k8s.namespace(p.obj), service_account(p)] in k8s.tokenless_service_accounts
}

# api_users: [namespace, name] of every non-default ServiceAccount a binding in the render grants a role.
api_users contains [ns, s.name] if {
	some b in rbac.bindings
	some s in object.get(b, "subjects", [])
	s.kind == "ServiceAccount"
	s.name != "default"
	ns := object.get(s, "namespace", k8s.namespace(b))
}

token_needed(ns, name) if {
	[ns, name] in api_users
	not opted_out(ns, name)
}

# opted_out: a pod of this ServiceAccount turns the token off: it does not need it.
opted_out(ns, name) if {
	some p in k8s.pods
	k8s.namespace(p.obj) == ns
	service_account(p) == name
	p.spec.automountServiceAccountToken == false
}
