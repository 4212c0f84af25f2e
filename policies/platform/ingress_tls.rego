# METADATA
# title: Ingress without TLS
# description: >-
#   An Ingress without spec.tls (or with hosts that no tls entry covers)
#   serves plain HTTP: credentials and session cookies cross the network in
#   clear text.
# related_resources:
#   - https://kubernetes.io/docs/concepts/services-networking/ingress/#tls
# custom:
#   id: DD-PLT-002
#   severity: HIGH
#   fix: Add a spec.tls entry listing every host of the Ingress with a secretName (cert-manager fills it).
package drydock.rules.ingress_tls

import data.drydock.lib.net
import rego.v1

deny contains {"msg": msg, "doc": i, "path": ["spec"]} if {
	some i, ing in net.ingresses
	count(object.get(ing, ["spec", "tls"], [])) == 0
	msg := "Ingress has no spec.tls; it serves plain HTTP"
}

deny contains {"msg": msg, "doc": i, "path": ["spec", "rules", n, "host"]} if {
	some i, ing in net.ingresses
	count(object.get(ing, ["spec", "tls"], [])) > 0
	some n, rule in object.get(ing, ["spec", "rules"], [])
	host := rule.host
	not host in net.tls_hosts(ing)
	msg := sprintf("Ingress host %s is not listed in any spec.tls[].hosts", [host])
}
