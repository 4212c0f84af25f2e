# METADATA
# title: Test rule
# description: Exercises engine failures.
# custom:
#   id: DD-TEST-902
#   severity: HIGH
#   fix: none
package drydock.rules.div

import rego.v1

deny contains {"msg": sprintf("%v", [x]), "doc": 0} if {
  n := count(input.documents)
  x := 1 / (n - n)
}
