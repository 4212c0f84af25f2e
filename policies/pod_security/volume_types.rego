# METADATA
# title: Volume type outside the restricted allow-list
# description: >-
#   The restricted Pod Security Standard allows only configMap, csi,
#   downwardAPI, emptyDir, ephemeral, persistentVolumeClaim, projected and
#   secret volumes; other types (hostPath, nfs, iscsi, ...) reach outside the
#   pod's sandbox.
# related_resources:
#   - https://kubernetes.io/docs/concepts/security/pod-security-standards/#restricted
# custom:
#   id: DD-PSS-017
#   severity: MEDIUM
#   fix: Use one of the allowed volume types; move network storage behind a PersistentVolumeClaim.
#   trivy: [KSV-0028]
package drydock.rules.volume_types

import data.drydock.lib.k8s
import rego.v1

allowed := {"configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim", "projected", "secret"}

deny contains {"msg": msg, "doc": i, "path": k8s.at(p, ["volumes", n, key])} if {
	some i, p in k8s.pods
	some n, v in object.get(p.spec, "volumes", [])
	some key in object.keys(v)
	key != "name"
	key != "hostPath" # DD-PSS-005 reports hostPath volumes (one finding per defect)
	not key in allowed
	msg := sprintf("volume \"%s\" has type %s, which the restricted profile does not allow", [object.get(v, "name", "<unnamed>"), key])
}
