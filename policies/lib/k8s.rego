# Shared helpers: find pod specs and containers in every pod-bearing kind.
package drydock.lib.k8s

import rego.v1

# Kinds whose pod template lives at spec.template. DeploymentConfig is
# OpenShift's Deployment; only OpenShift serves that kind.
template_kinds := {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "ReplicationController", "DeploymentConfig"}

# Kinds that run a fixed number of replicas (spec.replicas, default 1).
scalable_kinds := {"Deployment", "StatefulSet", "ReplicaSet", "Rollout", "DeploymentConfig"}

# Kinds that run to completion: no liveness/readiness probes expected.
batch_kinds := {"Job", "CronJob"}

container_lists := ["initContainers", "containers", "ephemeralContainers"]

is_rollout(obj) if {
	obj.kind == "Rollout"
	startswith(obj.apiVersion, "argoproj.io/")
}

# Knative Serving's Service carries a pod template at spec.template.
is_knative_service(obj) if {
	obj.kind == "Service"
	startswith(obj.apiVersion, "serving.knative.dev/")
}

# pod_spec_path(obj): JSON path of the pod spec of a pod-bearing object
# (undefined for other objects). Findings report paths below it.
pod_spec_path(obj) := ["spec"] if obj.kind == "Pod"

pod_spec_path(obj) := ["spec", "template", "spec"] if obj.kind in template_kinds

pod_spec_path(obj) := ["spec", "template", "spec"] if is_rollout(obj)

pod_spec_path(obj) := ["spec", "template", "spec"] if is_knative_service(obj)

pod_spec_path(obj) := ["spec", "jobTemplate", "spec", "template", "spec"] if obj.kind == "CronJob"

# pod_spec(obj) is the pod spec of a pod-bearing object (undefined otherwise,
# and for a workload without a pod template).
pod_spec(obj) := spec if {
	spec := object.get(obj, pod_spec_path(obj), false)
	is_object(spec)
}

# pod_meta(obj) is the metadata of the pods the object creates.
pod_meta(obj) := object.get(obj, "metadata", {}) if obj.kind == "Pod"

pod_meta(obj) := object.get(obj, array.concat(array.slice(pod_spec_path(obj), 0, count(pod_spec_path(obj)) - 1), ["metadata"]), {}) if {
	obj.kind != "Pod"
	pod_spec_path(obj)
}

# Every kind pod_spec knows (Rollout only under argoproj.io, Service only under
# serving.knative.dev).
pod_kinds := template_kinds | {"Pod", "CronJob", "Rollout", "Service"}

# pod_bearing(obj): the object's kind runs pods (whether or not it has a template).
pod_bearing(obj) if pod_spec_path(obj)

# pods[i]: every pod-bearing document, keyed by its index in input.documents;
# `path` is the JSON path of `spec` in the document.
pods[i] := p if {
	some i, d in input.documents
	d.object.kind in pod_kinds # cheap filter first: pod_spec is a function call per document
	spec := pod_spec(d.object)
	p := {"obj": d.object, "spec": spec, "meta": pod_meta(d.object), "path": pod_spec_path(d.object)}
}

# at(p, rel): JSON path of rel below the pod spec of a `pods` entry.
at(p, rel) := array.concat(p.path, rel)

# in_container(p, e, rel): JSON path of rel below container entry e of pod p.
in_container(p, e, rel) := array.concat(array.concat(p.path, e.path), rel)

# containers(spec): every container of a pod spec with the list it sits in.
# `path` is the container's JSON path below the pod spec ([list, index]).
containers(spec) := [{"container": c, "list": l, "path": [l, n]} |
	some l in container_lists
	some n, c in object.get(spec, l, [])
]

# app_containers(spec): regular containers and init containers (ephemeral
# debug containers cannot set resources or probes).
app_containers(spec) := [e | some e in containers(spec); e.list != "ephemeralContainers"]

list_label := {"containers": "container", "initContainers": "init container", "ephemeralContainers": "ephemeral container"}

# describe(e): `container "app"` / `init container "migrate"`.
describe(e) := sprintf("%s \"%s\"", [list_label[e.list], object.get(e.container, "name", "<unnamed>")])

name(obj) := object.get(obj, ["metadata", "name"], "<unnamed>")

namespace(obj) := object.get(obj, ["metadata", "namespace"], "default")

labels(obj) := object.get(obj, ["metadata", "labels"], {})

annotations(obj) := object.get(obj, ["metadata", "annotations"], {})

# display(obj): Kind/namespace/name for messages.
display(obj) := sprintf("%s/%s/%s", [object.get(obj, "kind", "<no kind>"), namespace(obj), name(obj)])

# Effective securityContext value of a container: the container's own
# setting wins over the pod's.
effective(spec, container, key) := container.securityContext[key]

effective(spec, container, key) := spec.securityContext[key] if {
	not has_key(object.get(container, "securityContext", {}), key)
}

has_key(obj, key) if _ = obj[key]

# runtime_socket_path(v): the hostPath of a volume that mounts a container
# runtime's socket (docker, containerd, CRI-O); undefined for other volumes.
runtime_socket_path(v) := path if {
	path := trim_suffix(v.hostPath.path, "/")
	regex.match(`(^|/)(docker|containerd|crio|cri-dockerd)\.sock$`, path)
}

# Replica count of a scalable workload (default 1).
replicas(obj) := object.get(obj, ["spec", "replicas"], 1)

# docs_of_kind(kind)[i]: documents of one kind.
docs_of_kind(kind) := {i: d.object | some i; d := input.documents[i]; d.object.kind == kind}

# scalable_pods[i]: pod-bearing documents that run a replica count.
scalable_pods[i] := p if {
	some i, p in pods
	p.obj.kind in scalable_kinds
	p.obj.kind != "Rollout"
}

scalable_pods[i] := p if {
	some i, p in pods
	is_rollout(p.obj)
}

# hpas_for(obj): the HorizontalPodAutoscalers whose scaleTargetRef is obj
# (looked up in hpas_by_target, not by scanning the render).
hpas_for(obj) := [input.documents[j].object |
	idx := hpas_by_target
	some j in object.get(idx, [[namespace(obj), obj.kind, name(obj)]], set())
]

# min_replicas(obj): the fewest replicas the workload runs: the lowest HPA
# minReplicas (default 1) when autoscaled, spec.replicas (default 1) otherwise.
min_replicas(obj) := min({object.get(h, ["spec", "minReplicas"], 1) | some h in hpas_for(obj)}) if count(hpas_for(obj)) > 0

min_replicas(obj) := replicas(obj) if count(hpas_for(obj)) == 0

# pod_labels(p): labels of the pods an entry of `pods` creates.
pod_labels(p) := object.get(p.meta, "labels", {})

# ---------------------------------------------------------------------------
# Indexes over the render. Each is a rule, so an engine computes it once per
# evaluation; rules look things up in them instead of scanning
# input.documents for every document (which is quadratic in the render).
#
# Array keys are looked up with object.get(index, [key], default): the path is
# a one-element array holding the key. Bind an index to a variable before
# looking keys up in a loop (`idx := k8s.pods_by_label`): OPA then uses the
# whole index it has computed instead of re-evaluating the rule per key.
# ---------------------------------------------------------------------------

# object_keys: [namespace, kind, name] of every document that has a kind
# (namespace() and name() inlined: a function call per document costs more
# than the lookup).
object_keys contains [ns, kind, n] if {
	some d in input.documents
	kind := d.object.kind
	ns := object.get(d.object, ["metadata", "namespace"], "default")
	n := object.get(d.object, ["metadata", "name"], "<unnamed>")
}

# pdbs[i]: every PodDisruptionBudget, keyed by its index in input.documents.
pdbs[i] := d.object if {
	some i, d in input.documents
	d.object.kind == "PodDisruptionBudget"
}

# namespace_docs[name]: indexes of the Namespace objects named name.
namespace_docs[ns] contains i if {
	some i, d in input.documents
	d.object.kind == "Namespace"
	ns := name(d.object)
}

# services_by_ns_name[[namespace, name]]: indexes of the Services with that
# name (several when the render repeats one).
services_by_ns_name[k] contains i if {
	some i, d in input.documents
	d.object.kind == "Service"
	k := [namespace(d.object), name(d.object)]
}

# pods_by_ns[ns]: indexes of the pod-bearing documents of a namespace.
pods_by_ns[ns] contains i if {
	some i, p in pods
	ns := namespace(p.obj)
}

# pods_by_label[[namespace, key, value]]: indexes of the pod-bearing documents
# of a namespace whose pod template carries that (string) label.
pods_by_label[k] contains i if {
	some i, p in pods
	ns := namespace(p.obj)
	labels := pod_labels(p)
	is_object(labels)
	some key, value in labels
	is_string(value)
	k := [ns, key, value]
}

# hpas_by_target[[namespace, kind, name]]: indexes of the HorizontalPodAutoscalers
# whose scaleTargetRef names that workload.
hpas_by_target[k] contains i if {
	some i, d in input.documents
	d.object.kind == "HorizontalPodAutoscaler"
	ref := d.object.spec.scaleTargetRef
	k := [namespace(d.object), ref.kind, ref.name]
}

# tokenless_service_accounts: [namespace, name] of every ServiceAccount that
# sets automountServiceAccountToken: false.
tokenless_service_accounts contains [namespace(d.object), name(d.object)] if {
	some d in input.documents
	d.object.kind == "ServiceAccount"
	d.object.automountServiceAccountToken == false
}
