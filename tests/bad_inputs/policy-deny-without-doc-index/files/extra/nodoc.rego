# METADATA
# title: Test rule
# description: Exercises engine failures.
# custom:
#   id: DD-TEST-905
#   severity: HIGH
#   fix: none
package drydock.rules.nodoc

import rego.v1

deny contains {"msg": "no index"} if { count(input.documents) > 0 }
