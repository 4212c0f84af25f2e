# METADATA
# title: Unsafe sysctl
# description: >-
#   Pod Security Standards allow only the namespaced "safe" sysctls; any other
#   sysctl can change kernel behaviour for the whole node.
# related_resources:
#   - https://kubernetes.io/docs/tasks/administer-cluster/sysctl-cluster/
# custom:
#   id: DD-PSS-016
#   severity: MEDIUM
#   fix: Remove the sysctl from securityContext.sysctls; only the safe set (e.g. net.ipv4.ip_local_port_range) is allowed.
#   trivy: [KSV-0026]
package drydock.rules.sysctls

import data.drydock.lib.k8s
import rego.v1

safe := {
	"kernel.shm_rmid_forced",
	"net.ipv4.ip_local_port_range",
	"net.ipv4.ip_unprivileged_port_start",
	"net.ipv4.tcp_syncookies",
	"net.ipv4.ping_group_range",
	"net.ipv4.ip_local_reserved_ports",
	"net.ipv4.tcp_keepalive_time",
	"net.ipv4.tcp_fin_timeout",
	"net.ipv4.tcp_keepalive_intvl",
	"net.ipv4.tcp_keepalive_probes",
}

deny contains {"msg": msg, "doc": i, "path": k8s.at(p, ["securityContext", "sysctls", n])} if {
	some i, p in k8s.pods
	some n, s in object.get(p.spec, ["securityContext", "sysctls"], [])
	not s.name in safe
	msg := sprintf("pod securityContext.sysctls sets unsafe sysctl %v", [s.name])
}
