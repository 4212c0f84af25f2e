package drydock.rules.docker_socket_test

import data.drydock.lib.testdata as t
import data.drydock.rules.docker_socket
import rego.v1

test_fail_docker_sock if {
	inp := t.inp([t.deployment(t.spec_with({"volumes": [{"name": "docker", "hostPath": {"path": "/var/run/docker.sock", "type": "Socket"}}]}))])
	count(docker_socket.deny) == 1 with input as inp
}

test_fail_containerd_sock if {
	inp := t.inp([t.cronjob(t.spec_with({"volumes": [{"name": "ctr", "hostPath": {"path": "/run/containerd/containerd.sock"}}]}))])
	count(docker_socket.deny) == 1 with input as inp
}

test_pass_other_host_path if {
	inp := t.inp([t.deployment(t.spec_with({"volumes": [{"name": "logs", "hostPath": {"path": "/var/log/docker.sock.d"}}]}))])
	count(docker_socket.deny) == 0 with input as inp
}
