# METADATA
# title: Plaintext Secret in the render
# description: >-
#   A v1 Secret in the rendered tree is committed to git, base64 is not
#   encryption. Secrets must come from the secret store at runtime
#   (ExternalSecret, SealedSecret, CSI driver).
# related_resources:
#   - https://kubernetes.io/docs/concepts/security/secrets-good-practices/
# custom:
#   id: DD-PLT-001
#   severity: HIGH
#   fix: Replace the Secret with an ExternalSecret (or SealedSecret) that pulls the value from the secret store.
package drydock.rules.plaintext_secret

import data.drydock.lib.k8s
import rego.v1

deny contains {"msg": msg, "doc": i, "path": ["data"]} if {
	some i, d in input.documents
	d.object.kind == "Secret"
	d.object.apiVersion == "v1"
	keys := {k | some k in object.keys(object.get(d.object, "data", {}))} | {k | some k in object.keys(object.get(d.object, "stringData", {}))}
	msg := sprintf("Secret %s is committed in plain text (%d keys); use an ExternalSecret or SealedSecret", [k8s.name(d.object), count(keys)])
}
