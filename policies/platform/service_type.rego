# METADATA
# title: Service exposed with LoadBalancer or NodePort
# description: >-
#   LoadBalancer and NodePort Services open a port outside the cluster,
#   bypassing the Ingress controller (TLS, WAF, rate limits). They are allowed
#   only when the environment lists the type in allowedServiceTypes.
# related_resources:
#   - https://kubernetes.io/docs/concepts/services-networking/service/#publishing-services-service-types
# custom:
#   id: DD-PLT-008
#   severity: HIGH
#   fix: Use type ClusterIP behind the Ingress, or add the type to allowedServiceTypes of the environment.
package drydock.rules.service_type

import data.drydock.lib.k8s
import rego.v1

exposing := {"LoadBalancer", "NodePort"}

allowed := object.get(input, ["env", "allowedServiceTypes"], ["ClusterIP", "ExternalName"])

deny contains {"msg": msg, "doc": i, "path": ["spec", "type"]} if {
	some i, d in input.documents
	d.object.kind == "Service"
	type := d.object.spec.type
	type in exposing
	not type in allowed
	msg := sprintf("Service %s has type %s, which this environment does not allow (%s)", [k8s.name(d.object), type, concat(", ", allowed)])
}
