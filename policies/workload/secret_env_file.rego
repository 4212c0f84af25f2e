# METADATA
# title: Secret value passed where a file path is expected
# description: >-
#   An environment variable whose name says it holds a file path (*_FILE,
#   *_PATH, *_DIR, GOOGLE_APPLICATION_CREDENTIALS, KUBECONFIG) gets its value
#   from a Secret key: the program receives the secret's content where it
#   expects the path of a file, fails to open it, and may print the secret in
#   the error. Such programs read their credentials from a file: mount the
#   Secret as a volume.
# related_resources:
#   - https://kubernetes.io/docs/concepts/configuration/secret/#using-secrets-as-files-from-a-pod
# custom:
#   id: DD-WKL-015
#   severity: LOW
#   fix: Mount the Secret as a volume (secret.secretName, items) and set the variable to the mounted file's path.
package drydock.rules.secret_env_file

import data.drydock.lib.k8s
import rego.v1

file_name := `(?i)(_FILE|_FILENAME|_PATH|_DIR)$|^(GOOGLE_APPLICATION_CREDENTIALS|KUBECONFIG)$`

deny contains {"msg": msg, "doc": i, "path": k8s.in_container(p, e, ["env", n, "valueFrom", "secretKeyRef"])} if {
	some i, p in k8s.pods
	some e in k8s.containers(p.spec)
	some n, env in object.get(e.container, "env", [])
	ref := env.valueFrom.secretKeyRef
	regex.match(file_name, env.name)
	msg := sprintf("%s sets env %s (a file path by its name) to the content of Secret %v key %v; mount the Secret as a file instead", [k8s.describe(e), env.name, object.get(ref, "name", "<unnamed>"), object.get(ref, "key", "<no key>")])
}
