package drydock.rules.plaintext_secret_test

import data.drydock.lib.testdata as t
import data.drydock.rules.plaintext_secret
import rego.v1

test_fail_secret if {
	inp := t.inp([{"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db", "namespace": "shop"}, "stringData": {"password": "x"}}])
	some d in plaintext_secret.deny with input as inp
	contains(d.msg, "1 keys")
}

test_pass_external_secret if {
	es := {"apiVersion": "external-secrets.io/v1beta1", "kind": "ExternalSecret", "metadata": {"name": "db", "namespace": "shop"}, "spec": {}}
	inp := t.inp([es])
	count(plaintext_secret.deny) == 0 with input as inp
}
