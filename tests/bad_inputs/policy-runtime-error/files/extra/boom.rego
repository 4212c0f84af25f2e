# METADATA
# title: Test rule
# description: Exercises engine failures.
# custom:
#   id: DD-TEST-901
#   severity: HIGH
#   fix: none
package drydock.rules.boom

import rego.v1

deny contains {"msg": "boom", "doc": i} if {
  some i, d in input.documents
  to_number(d.object.kind) > 0
}
