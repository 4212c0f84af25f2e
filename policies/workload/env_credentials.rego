# METADATA
# title: Credential as a literal environment value
# description: >-
#   An environment variable whose name looks like a credential (PASSWORD,
#   SECRET, TOKEN, API_KEY, ...) has a literal value. It ends up in git, in the
#   rendered tree and in `kubectl describe` output.
# related_resources:
#   - https://kubernetes.io/docs/concepts/configuration/secret/#using-secrets-as-environment-variables
# custom:
#   id: DD-WKL-011
#   severity: HIGH
#   fix: Store the value in a Secret (e.g. via ExternalSecret) and use env[].valueFrom.secretKeyRef instead of value.
package drydock.rules.env_credentials

import data.drydock.lib.k8s
import rego.v1

credential_name := `(?i)(PASSWORD|PASSWD|SECRET|TOKEN|API_?KEY|PRIVATE_?KEY|ACCESS_?KEY|CREDENTIAL)`

# Names that point at or describe a credential rather than hold one.
not_a_credential := `(?i)_(FILE|PATH|DIR|NAME|REF|KEY_?ID|ID|URL|ENDPOINT|TTL|EXPIRY|TIMEOUT|ENABLED|HEADER|ISSUER|AUDIENCE|LENGTH)$`

deny contains {"msg": msg, "doc": i, "path": k8s.in_container(p, e, ["env", n, "value"])} if {
	some i, p in k8s.pods
	some e in k8s.containers(p.spec)
	some n, env in object.get(e.container, "env", [])
	is_string(env.value) # cheap tests before the regular expressions
	env.value != ""
	regex.match(credential_name, env.name)
	not regex.match(not_a_credential, env.name)
	msg := sprintf("%s sets env %s to a literal value; reference a Secret with valueFrom.secretKeyRef", [k8s.describe(e), env.name])
}
