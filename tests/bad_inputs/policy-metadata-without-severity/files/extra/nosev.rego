# METADATA
# title: Test rule
# description: Exercises engine failures.
# custom:
#   id: DD-TEST-904
#   fix: none
package drydock.rules.nosev

import rego.v1

deny contains {"msg": "x", "doc": 0} if { false }
