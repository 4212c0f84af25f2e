package drydock.rules.secret_env_file_test

import data.drydock.lib.testdata as t
import data.drydock.rules.secret_env_file
import rego.v1

from_secret(name) := {"name": name, "valueFrom": {"secretKeyRef": {"name": "creds", "key": "k"}}}

test_fail_password_file_from_secret if {
	inp := t.inp([t.deployment(t.spec_with_container({"env": [from_secret("POSTGRES_PASSWORD_FILE")]}))])
	count(secret_env_file.deny) == 1 with input as inp
}

test_fail_google_credentials_from_secret if {
	inp := t.inp([t.cronjob(t.spec_with_container({"env": [from_secret("GOOGLE_APPLICATION_CREDENTIALS")]}))])
	count(secret_env_file.deny) == 1 with input as inp
}

test_pass_password_from_secret if {
	inp := t.inp([t.deployment(t.spec_with_container({"env": [from_secret("DB_PASSWORD")]}))])
	count(secret_env_file.deny) == 0 with input as inp
}

test_pass_file_path_as_literal if {
	inp := t.inp([t.deployment(t.spec_with_container({"env": [{"name": "POSTGRES_PASSWORD_FILE", "value": "/run/secrets/pw"}]}))])
	count(secret_env_file.deny) == 0 with input as inp
}
