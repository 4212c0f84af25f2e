# METADATA
# title: Ingress without a cert-manager issuer
# description: >-
#   Certificates for Ingress hosts are issued and renewed by cert-manager. An
#   Ingress without the cert-manager.io/cluster-issuer (or cert-manager.io/issuer)
#   annotation gets no certificate, or one that nobody renews.
# related_resources:
#   - https://cert-manager.io/docs/usage/ingress/
# custom:
#   id: DD-PLT-003
#   severity: LOW
#   fix: Annotate the Ingress with cert-manager.io/cluster-issuer (or cert-manager.io/issuer) naming the issuer to use.
package drydock.rules.ingress_cert_manager

import data.drydock.lib.k8s
import data.drydock.lib.net
import rego.v1

issuer_annotations := ["cert-manager.io/cluster-issuer", "cert-manager.io/issuer"]

deny contains {"msg": msg, "doc": i, "path": ["metadata", "annotations"]} if {
	some i, ing in net.ingresses
	not has_issuer(ing)
	msg := "Ingress has no cert-manager.io/cluster-issuer or cert-manager.io/issuer annotation"
}

has_issuer(obj) if {
	some a in issuer_annotations
	k8s.annotations(obj)[a] != ""
}
