# METADATA
# title: Test rule
# description: Exercises engine failures.
# custom:
#   id: DD-TEST-903
#   severity: HIGH
#   fix: none
package drydock.rules.conflict

import rego.v1

limit := 1 if { true }

limit := 2 if { true }

deny contains {"msg": "x", "doc": 0} if {
  limit > 5
}
