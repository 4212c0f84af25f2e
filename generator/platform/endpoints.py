"""Find the in-cluster endpoints a workload is given: env values, ConfigMaps, args.

A workload names a peer in many ways: `http://api-gateway:8080`, `redis.ns.svc:6379`,
`jdbc:postgresql://db.ns.svc.cluster.local/app`, `mongodb://a:27017,b:27017/x`, or a
bare host in `DATABASE_HOST` with its port in `DATABASE_PORT`. This module turns all of
them into `Endpoint`s (host, port, where it is written); network.py resolves them.

Which names are in-cluster (no cluster to ask, so decided from the name and the render):
`svc.ns.svc[.<cluster domain>]` and `svc.ns.svc` always; `svc.ns` when `ns` is a namespace
of the render or `svc` a Service of the render (else `pod.svc` when `svc` is one, for a URL's host
or a value with a port); a dot-less `svc` when it is a URL's host,
has a port, or is the value of a host-like key (`*_HOST`, `*_ADDR`, `*_ENDPOINT`, ...).
Anything else (`api.stripe.com`, `10.0.0.5`) is external and not checked here.
"""
from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field

from ..core import Document
from .netpol import D, L

# Default port of a URL scheme (JDBC sub-protocols included: jdbc:postgresql://...).
SCHEME_PORTS = {
    "http": 80, "ws": 80, "https": 443, "wss": 443, "h2c": 80,
    "postgres": 5432, "postgresql": 5432, "mysql": 3306, "mariadb": 3306, "sqlserver": 1433,
    "mongodb": 27017, "redis": 6379, "rediss": 6379, "amqp": 5672, "amqps": 5671,
    "nats": 4222, "tls": None, "kafka": 9092, "memcached": 11211, "ldap": 389, "ldaps": 636,
    "smtp": 25, "cassandra": 9042, "zookeeper": 2181, "grpc": None, "grpcs": None, "tcp": None,
}
# Keys whose bare value is a host name (a dot-less word elsewhere is just a word).
_HOST_KEY = re.compile(r"(^|[_.-])(HOST|HOSTS|HOSTNAME|SERVER|SERVERS|ADDR|ADDRESS|ENDPOINT|ENDPOINTS|URL|URI|URLS|"
                       r"DSN|BROKER|BROKERS|BOOTSTRAP_SERVERS|UPSTREAM)$", re.IGNORECASE)
# Words that fill a host-like key without naming a host.
_NOT_A_HOST = frozenset({"none", "null", "nil", "true", "false", "yes", "no", "on", "off", "enabled", "disabled",
                         "default", "auto", "any", "all", "unset", "changeme", "todo"})
_GRPC_DNS_PATH = re.compile(r"/([^/\s?#\"'<>]+)")
_URL = re.compile(r"(?:jdbc:)?([a-z][a-z0-9+.-]*)://([^/\s?#\"'<>]*)", re.IGNORECASE)
_HOSTPORT = re.compile(r"^\[?([a-z0-9_.:-]+?)\]?(?::(\d{1,5}))?$", re.IGNORECASE)
_LABEL = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
_SERVICE = re.compile(r"^[a-z]([a-z0-9-]{0,61}[a-z0-9])?$")  # Service names are DNS-1035 labels
# Keys whose values look like host:port but are not (image `redis:7`, a version, a time).
_NOT_HOST_KEY = re.compile(r"(IMAGE|TAG|VERSION|TIME|SCHEDULE|CRON|DATE)", re.IGNORECASE)
# In a free text (a mounted config file, an argument) only fully qualified names are taken.
_FQDN_IN_TEXT = re.compile(r"(?<![a-z0-9.-])([a-z0-9][a-z0-9.-]*\.svc(?:\.[a-z0-9-]+)*)\.?(?::(\d{1,5}))?(?![a-z0-9-])",
                           re.IGNORECASE)


@dataclass(frozen=True)
class Endpoint:
    """One peer a workload is configured to reach."""

    text: str  # the value as written (e.g. the URL)
    service: str  # Service name (lower case); for an external endpoint its host name
    namespace: str  # namespace named or implied (the client's for short names); "" = external
    port: int | None  # None: no port written and no scheme default
    explicit_ns: bool  # the name carried the namespace
    key: str  # env var or ConfigMap key holding it
    doc: Document  # where it is written (the workload or the ConfigMap)
    path: tuple = field(default=(), compare=False)  # field path inside doc, for the line


@dataclass
class Names:
    """What the render knows, to tell `svc.ns` (in-cluster) from `example.com` (external)."""

    namespaces: set[str]
    services: set[str]
    cluster_domain: str = "cluster.local"


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        return False


def classify(host: str, client_ns: str, names: Names, hostish: bool) -> tuple[str, str, bool] | None:
    """(service, namespace, namespace-was-written) for an in-cluster host name, else None."""
    got = _classify(host, client_ns, names, hostish)
    return got if got and _SERVICE.match(got[0]) and _LABEL.match(got[1]) else None


def _classify(host: str, client_ns: str, names: Names, hostish: bool) -> tuple[str, str, bool] | None:
    host = host.strip().rstrip(".").lower()
    if not host or _is_ip(host) or host == "localhost":
        return None
    labels = host.split(".")
    if not all(_LABEL.match(x) for x in labels):
        return None
    domain = names.cluster_domain.split(".")
    if labels[-len(domain):] == domain and len(labels) > len(domain):
        labels = labels[:-len(domain)]
        if labels[-1] != "svc":
            return None  # pod.ns.pod.cluster.local and the like: not a Service name
    if labels[-1] == "svc":
        if len(labels) < 3:
            return None
        return labels[-3], labels[-2], True  # pod-0.svc.ns.svc: the Service is the middle label
    if len(labels) == 2:
        if labels[1] in names.namespaces or labels[0] in names.services:
            return labels[0], labels[1], True
        if hostish and labels[1] in names.services:  # pod.svc: a StatefulSet pod through its headless Service
            return labels[1], client_ns, False
        return None
    if len(labels) == 1 and hostish and labels[0] not in _NOT_A_HOST:
        return labels[0], client_ns, False
    return None


def _split_hosts(authority: str) -> list[tuple[str, int | None]]:
    authority = authority.rsplit("@", 1)[-1]  # drop user:password@
    out = []
    for part in authority.split(","):
        m = _HOSTPORT.match(part.strip())
        if m and m.group(1):
            out.append((m.group(1), int(m.group(2)) if m.group(2) else None))
    return out


def _external(host: str) -> str | None:
    """A public-looking DNS name (`api.stripe.com`), lower case, else None."""
    host = host.strip().rstrip(".").lower()
    labels = host.split(".")
    if len(labels) < 2 or _is_ip(host) or not all(_LABEL.match(x) for x in labels) or not labels[-1].isalpha():
        return None
    return host


def parse_value(value: str, key: str, client_ns: str, names: Names, sibling_port: int | None = None,
                free_text: bool = False, external: bool = False) -> list[tuple[str, str, int | None, bool]]:
    """In-cluster (service, namespace, port, explicit-ns) tuples named in one value.

    With external=True, DNS names outside the cluster come back too, as (host, "", port, False).
    """
    found: list[tuple[str, str, int | None, bool]] = []
    spans = []
    for m in _URL.finditer(value):
        spans.append(m.span())
        scheme = m.group(1).lower()
        default = SCHEME_PORTS.get(scheme.split("+", 1)[0])
        authority = m.group(2)
        if scheme == "dns":  # gRPC target dns:[//resolver]/host:port: the host is in the path
            target = _GRPC_DNS_PATH.match(value, m.end())
            authority = target.group(1) if target else ""
            if target:
                spans[-1] = (m.start(), target.end())
        for host, port in _split_hosts(authority):
            got = classify(host, client_ns, names, hostish=True)
            if got:
                found.append((got[0], got[1], port or default, got[2]))
            elif external and not free_text and _external(host):  # config files cite doc links
                found.append((_external(host), "", port or default, False))
    rest = value
    for start, end in reversed(spans):
        rest = rest[:start] + " " + rest[end:]
    if free_text:
        for m in _FQDN_IN_TEXT.finditer(rest):
            got = classify(m.group(1), client_ns, names, hostish=False)
            if got:
                found.append((got[0], got[1], int(m.group(2)) if m.group(2) else None, got[2]))
        return found
    tokens = [t for t in re.split(r"[\s,;]+", rest.strip()) if t]
    if not tokens or len(tokens) > 16 or _NOT_HOST_KEY.search(key):  # prose, or an image/version, not hosts
        return found
    hostish = bool(_HOST_KEY.search(key))
    for tok in tokens:
        m = _HOSTPORT.match(tok)
        if not m:
            continue
        port = int(m.group(2)) if m.group(2) else None
        got = classify(m.group(1), client_ns, names, hostish=hostish or port is not None)
        if got:
            found.append((got[0], got[1], port or sibling_port, got[2]))
        elif external and (hostish or port is not None) and _external(m.group(1)):
            found.append((_external(m.group(1)), "", port or sibling_port, False))
    return found


def pod_spec(obj: dict) -> tuple[dict | None, tuple]:
    """The pod spec of any workload kind (and its path), or (None, ())."""
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        return None, ()
    if obj.get("kind") == "Pod":
        return (spec, ("spec",)) if isinstance(spec.get("containers"), list) else (None, ())
    job = spec.get("jobTemplate")
    if isinstance(job, dict) and isinstance(job.get("spec"), dict):
        tpl = job["spec"].get("template")
        if isinstance(tpl, dict) and isinstance(tpl.get("spec"), dict):
            return tpl["spec"], ("spec", "jobTemplate", "spec", "template", "spec")
    tpl = spec.get("template")
    if isinstance(tpl, dict) and isinstance(tpl.get("spec"), dict) and isinstance(tpl["spec"].get("containers"), list):
        return tpl["spec"], ("spec", "template", "spec")
    return None, ()


def _sibling_port(values: dict[str, str], key: str) -> int | None:
    """`DATABASE_HOST` -> the number in `DATABASE_PORT` (also *_HOSTNAME, *_SERVER, *_ADDR)."""
    m = re.match(r"^(.*?)(HOST|HOSTNAME|SERVER|ADDR|ADDRESS)$", key, re.IGNORECASE)
    if not m:
        return None
    port = values.get(m.group(1) + ("port" if m.group(2).islower() else "PORT"))
    return int(port) if isinstance(port, str) and port.strip().isdigit() else None


def workload_endpoints(doc: Document, configmaps: dict[tuple[str, str], Document], names: Names,
                       ns: str | None = None) -> list[Endpoint]:
    """Every endpoint configured for the workload `doc` (all its containers), in namespace `ns`.

    In-cluster endpoints carry their Service and namespace; external DNS names (from URLs and
    host-like keys) come with namespace "" so the caller can check egress and DNS for them.
    """
    spec, base = pod_spec(doc.obj)
    if spec is None:
        return []
    ns = ns or str(D(doc.obj.get("metadata")).get("namespace") or "default")
    out: list[Endpoint] = []
    seen: set = set()

    def add(value: str, key: str, where: Document, path: tuple, values: dict, free_text: bool = False) -> None:
        for svc, sns, port, explicit in parse_value(value, key, ns, names, _sibling_port(values, key), free_text,
                                                    external=True):
            ident = (svc, sns, port, key, where.file, path)
            if ident not in seen:
                seen.add(ident)
                out.append(Endpoint(value.strip(), svc, sns, port, explicit, key, where, path))

    def cm_values(name: str) -> tuple[Document | None, dict]:
        cm = configmaps.get((ns, name))
        data = D(cm.obj.get("data")) if cm else {}
        return cm, {k: v for k, v in data.items() if isinstance(v, str)}

    for kind in ("initContainers", "containers"):
        for ci, c in enumerate(L(spec.get(kind))):
            if not isinstance(c, dict):
                continue
            cpath = base + (kind, ci)
            values: dict[str, str] = {}  # what the container sees, for sibling *_PORT lookups
            for src in L(c.get("envFrom")):
                ref = D(D(src).get("configMapRef"))
                values.update(cm_values(str(ref.get("name") or ""))[1])
            for e in L(c.get("env")):
                if isinstance(e, dict) and isinstance(e.get("value"), str):
                    values[str(e.get("name"))] = e["value"]
                ref = D(D(D(e).get("valueFrom")).get("configMapKeyRef"))
                if ref:
                    values[str(D(e).get("name"))] = cm_values(str(ref.get("name") or ""))[1].get(str(ref.get("key")), "")
            for ei, e in enumerate(L(c.get("env"))):
                if not isinstance(e, dict):
                    continue
                name = str(e.get("name") or "")
                if isinstance(e.get("value"), str):
                    add(e["value"], name, doc, cpath + ("env", ei, "value"), values)
                ref = D(e.get("valueFrom")).get("configMapKeyRef")
                if isinstance(ref, dict):
                    cm, data = cm_values(str(ref.get("name") or ""))
                    key = str(ref.get("key") or "")
                    if cm is not None and key in data:
                        add(data[key], name, cm, ("data", key), values)
            for src in L(c.get("envFrom")):
                ref = D(D(src).get("configMapRef"))
                cm, data = cm_values(str(ref.get("name") or ""))
                prefix = str(D(src).get("prefix") or "")
                for key, value in sorted(data.items()):
                    if cm is not None:
                        add(value, prefix + key, cm, ("data", key), values)
            for field_name in ("command", "args"):
                for ai, arg in enumerate(L(c.get(field_name))):
                    if not isinstance(arg, str):
                        continue
                    flag = re.match(r"^--?([A-Za-z0-9_.-]+)=(.+)$", arg)  # --otlp-endpoint=host:port
                    if flag:
                        add(flag.group(2), flag.group(1).replace("-", "_"), doc, cpath + (field_name, ai), values)
                    else:
                        add(arg, field_name, doc, cpath + (field_name, ai), values, free_text=True)
    for cm_name in _mounted_configmaps(spec):
        cm, data = cm_values(cm_name)
        for key, value in sorted(data.items()):
            if cm is not None:
                # A one-line value is a setting (HOST=redis); a multi-line one is a config file.
                add(value, key, cm, ("data", key), data, free_text="\n" in value.strip())
    return out


def _mounted_configmaps(spec: dict) -> list[str]:
    names = []
    for v in L(spec.get("volumes")):
        if not isinstance(v, dict):
            continue
        if isinstance(v.get("configMap"), dict):
            names.append(str(v["configMap"].get("name") or ""))
        for src in L(D(v.get("projected")).get("sources")):
            if isinstance(src, dict) and isinstance(src.get("configMap"), dict):
                names.append(str(src["configMap"].get("name") or ""))
    return names
