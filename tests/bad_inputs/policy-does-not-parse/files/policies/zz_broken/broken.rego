# METADATA
# title: Broken rule
# custom:
#   id: DD-TEST-900
#   severity: HIGH
#   fix: none
package drydock.rules.broken

import rego.v1

deny contains x if {
  x := {"msg": "m", "doc": 0
}
