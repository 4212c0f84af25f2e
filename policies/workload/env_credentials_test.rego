package drydock.rules.env_credentials_test

import data.drydock.lib.testdata as t
import data.drydock.rules.env_credentials
import rego.v1

test_fail_db_password if {
	inp := t.inp([t.deployment(t.spec_with_container({"env": [{"name": "DB_PASSWORD", "value": "hunter2"}]}))])
	some d in env_credentials.deny with input as inp
	contains(d.msg, "DB_PASSWORD")
}

test_fail_api_key_lowercase if {
	inp := t.inp([t.deployment(t.spec_with_container({"env": [{"name": "stripe_api_key", "value": "sk_live_x"}]}))])
	count(env_credentials.deny) == 1 with input as inp
}

test_pass_secret_ref_and_pointers if {
	env := [
		{"name": "DB_PASSWORD", "valueFrom": {"secretKeyRef": {"name": "db", "key": "password"}}},
		{"name": "DB_PASSWORD_FILE", "value": "/var/run/secrets/db/password"},
		{"name": "TOKEN_TTL", "value": "3600"},
		{"name": "LOG_LEVEL", "value": "info"},
	]
	inp := t.inp([t.deployment(t.spec_with_container({"env": env}))])
	count(env_credentials.deny) == 0 with input as inp
}
