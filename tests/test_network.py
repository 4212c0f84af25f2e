"""Connectivity simulation (generator/platform/network.py) on the small `shop` tree.

Each test changes one thing in tests/fixtures/network/shop.yaml (by text, so lines stay
true) and asserts the finding a user would need: rule, objects named, file:line, fix.
"""
from __future__ import annotations

from pathlib import Path

import pytest

from generator.core import Severity
from generator.platform.network import RULES, check
from generator.yamlio import parse_manifests

BASE = (Path(__file__).parent / "fixtures" / "network" / "shop.yaml").read_text()
DECLARED = {"services": {
    "web": {"namespace": "shop", "dependsOn": ["api"], "datastores": ["cache"], "queues": [],
            "file": "services/web.yaml", "line": 12, "lines": {"api": 13, "cache": 14}},
    "api": {"namespace": "shop", "dependsOn": [], "datastores": ["db"], "queues": [],
            "file": "services/api.yaml", "line": 9},
}}


def run(*edits: tuple[str, str], data: dict | None = None, extra: str = ""):
    text = BASE
    for old, new in edits:
        assert text.count(old) == 1, f"edit must match once: {old!r}"
        text = text.replace(old, new)
    findings, extras = check(parse_manifests(text + extra, "shop.yaml"), DECLARED if data is None else data, "test")
    return findings, extras["reachability"]["test"], text


def line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


def only(findings, rule):
    got = [f for f in findings if f.rule_id == rule]
    assert got, f"no {rule} in {[(f.rule_id, f.message) for f in findings]}"
    return got


def test_pass_base_tree_is_clean_and_matrix_shows_the_open_paths():
    findings, reach, _ = run()
    assert findings == []
    m = reach["matrix"]
    assert m["shop/Deployment/web"]["shop/Deployment/api"]["allowed"] == ["8080/TCP"]
    assert m["shop/Deployment/web"]["shop/Deployment/cache"]["allowed"] == ["6379/TCP"]
    assert m["shop/Deployment/api"]["shop/StatefulSet/db"]["allowed"] == ["5432/TCP"]
    assert m["shop/Deployment/web"]["obs/Deployment/collector"]["allowed"] == ["4317/TCP"]
    blocked = m["shop/Deployment/web"]["shop/StatefulSet/db"]
    assert blocked == {"allowed": [], "blocked": {"5432/TCP": "egress: allow-dns, default-deny, web"}}
    # obs is not isolated: the collector may reach anything, but shop's ingress still decides
    assert m["obs/Deployment/collector"]["shop/Deployment/api"]["allowed"] == []
    assert m["obs/Deployment/collector"]["shop/Deployment/api"]["blocked"] == {"8080/TCP": "ingress: api, default-deny"}


def test_fail_endpoint_resolves_nowhere():
    findings, _, text = run(("value: http://api:8080/v1", "value: http://payments:8080/v1"))
    f = only(findings, "DD-NET-001")[0]
    assert "shop/Deployment/web" in f.message and "payments.shop" in f.message and "API_URL" in f.message
    assert (f.file, f.line) == ("shop.yaml", line_of(text, "http://payments:8080"))
    assert f.severity == Severity.HIGH and f.fix == RULES["DD-NET-001"][2]


def test_fail_wrong_namespace_names_where_the_service_runs():
    findings, _, text = run(("http://collector.obs.svc.cluster.local:4317", "http://collector.monitoring.svc.cluster.local:4317"))
    f = only(findings, "DD-NET-002")[0]
    assert "collector" in f.message and "monitoring" in f.message and "only in obs" in f.message
    assert f.line == line_of(text, "collector.monitoring.svc")


# An Application whose chart the test does not expand: its release counts as a Service in telemetry.
OTEL_APP = """---
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata: {name: dev-otel, namespace: argocd}
spec:
  destination: {namespace: telemetry, server: https://kubernetes.default.svc}
  source: {chart: opentelemetry-collector, repoURL: https://x.example, targetRevision: 1.0.0,
           helm: {releaseName: otel}}
"""


def test_fail_wrong_namespace_of_an_unexpanded_helm_chart():
    findings, _, _ = run(("http://collector.obs.svc:4317", "http://otel-collector.monitoring.svc:4317"), extra=OTEL_APP)
    f = only(findings, "DD-NET-002")[0]
    assert "dev-otel" in f.message and "telemetry" in f.message and "shop/Deployment/api" in f.message


def test_fail_port_not_exposed_lists_the_exposed_ports():
    findings, _, text = run(("value: http://api:8080/v1", "value: http://api:9090/v1"))
    f = only(findings, "DD-NET-003")[0]
    assert "9090" in f.message and "exposes only: 8080" in f.message
    assert f.line == line_of(text, "http://api:9090")


def test_fail_scheme_default_port_not_exposed():
    findings, _, _ = run(("value: http://api:8080/v1", "value: https://api.shop.svc/v1"))
    assert "443" in only(findings, "DD-NET-003")[0].message


def test_fail_service_selector_matches_no_pod():
    findings, _, text = run(("  selector: {app.kubernetes.io/name: api}", "  selector: {app.kubernetes.io/name: api-v2}"))
    f = only(findings, "DD-NET-004")[0]
    assert f.resource.kind == "Service" and f.resource.name == "api" and f.line == line_of(text, "name: api-v2}")


def test_fail_named_target_port_missing_on_pods():
    findings, _, text = run(("  - {name: http, port: 8080, targetPort: http}", "  - {name: http, port: 8080, targetPort: web}"))
    f = only(findings, "DD-NET-005")[0]
    assert "'web'" in f.message and f.line == line_of(text, "targetPort: web")


def test_fail_server_ingress_blocks_a_declared_dependency():
    findings, _, text = run(("""    - podSelector:
        matchLabels: {app.kubernetes.io/name: web}
    ports:
    - {port: http}""", """    - podSelector:
        matchLabels: {app.kubernetes.io/name: admin}
    ports:
    - {port: http}"""))
    f = only(findings, "DD-NET-006")[0]
    assert "ingress of shop/Deployment/api (NetworkPolicy api, default-deny)" in f.message
    assert "shop/Deployment/web" in f.message and f.line == line_of(text, "http://api:8080/v1")


def test_fail_client_egress_blocks_endpoint():
    findings, _, _ = run(("    - {port: 8080}\n", "    - {port: 8081}\n"))
    assert "egress of shop/Deployment/web" in only(findings, "DD-NET-006")[0].message


def test_fail_declared_dependency_blocked_without_any_endpoint():
    # web no longer names api anywhere, and api's ingress does not admit web: the declaration is broken
    findings, _, _ = run(("        - name: API_URL\n          value: http://api:8080/v1\n", ""),
                         ("""        matchLabels: {app.kubernetes.io/name: web}
    ports:
    - {port: http}""", """        matchLabels: {app.kubernetes.io/name: admin}
    ports:
    - {port: http}"""))
    f = only(findings, "DD-NET-007")[0]
    assert "shop/Deployment/web declares a dependency on api" in f.message and "ingress of shop/Deployment/api" in f.message
    assert (f.source.file, f.source.line) == ("services/web.yaml", 13)  # the dependsOn entry


def test_fail_declared_dependency_without_service():
    data = {"services": {**DECLARED["services"], "web": {**DECLARED["services"]["web"], "queues": ["rabbitmq"]}}}
    f = only(run(data=data)[0], "DD-NET-007")[0]
    assert "rabbitmq" in f.message and "no Service rabbitmq" in f.message


def test_fail_dns_egress_missing():
    findings, _, _ = run(("    - {port: 53, protocol: UDP}\n    - {port: 53, protocol: TCP}\n", "    - {port: 5353, protocol: UDP}\n"))
    got = only(findings, "DD-NET-008")
    assert {f.resource.name for f in got} == {"web", "api"}  # db and cache name nobody by DNS
    assert all("53/UDP and 53/TCP" in f.message for f in got) and got[0].severity == Severity.HIGH


def test_fail_dns_tcp_only_missing_is_medium():
    findings, _, _ = run(("    - {port: 53, protocol: TCP}\n", ""))
    got = only(findings, "DD-NET-008")
    assert all(f.severity == Severity.MEDIUM and "53/TCP" in f.message for f in got)


def test_pass_dns_to_all_destinations():
    findings, _, _ = run(("""  - to:
    - namespaceSelector:
        matchLabels: {kubernetes.io/metadata.name: kube-system}
      podSelector:
        matchLabels: {k8s-app: kube-dns}
    ports:""", """  - ports:"""))
    assert not [f for f in findings if f.rule_id == "DD-NET-008"]


def test_fail_undeclared_path_open():
    # cache admits every pod in shop and api may send anywhere in shop: api -> cache is open but undeclared
    findings, _, _ = run(("""  policyTypes: [Ingress]
  ingress:
  - from:
    - podSelector:
        matchLabels: {app.kubernetes.io/name: web}
""", """  policyTypes: [Ingress]
  ingress:
  - from:
    - podSelector: {}
"""), ("""  - to:
    - namespaceSelector:
        matchLabels: {kubernetes.io/metadata.name: obs}""", """  - to:
    - podSelector: {}
  - to:
    - namespaceSelector:
        matchLabels: {kubernetes.io/metadata.name: obs}"""))
    got = only(findings, "DD-NET-009")
    assert any("shop/Deployment/api can open shop/Deployment/cache on 6379/TCP" in f.message
               and "api does not declare a dependency on cache" in f.message for f in got)
    assert all(f.severity == Severity.MEDIUM for f in got)


def test_pass_foreign_manifests_skip_declared_checks_but_keep_the_rest():
    edits = (("""  policyTypes: [Ingress]
  ingress:
  - from:
    - podSelector:
        matchLabels: {app.kubernetes.io/name: web}
""", """  policyTypes: [Ingress]
  ingress:
  - from:
    - podSelector: {}
"""), ("value: http://api:8080/v1", "value: http://api:9090/v1"))
    findings, _, _ = run(*edits, data={})
    assert {f.rule_id for f in findings} == {"DD-NET-003"}


def test_named_port_in_policy_follows_the_container_port_name():
    # api's ingress allows port `http`; renaming the container port closes it (and the Service's targetPort follows)
    findings, _, _ = run(("        - {name: http, containerPort: 8080}", "        - {name: web, containerPort: 8080}"),
                         ("  - {name: http, port: 8080, targetPort: http}", "  - {name: http, port: 8080, targetPort: web}"))
    assert "ingress of shop/Deployment/api" in only(findings, "DD-NET-006")[0].message


def test_end_port_range_and_match_expressions():
    findings, _, _ = run(("    - {port: 5000, endPort: 5500, protocol: TCP}", "    - {port: 5000, endPort: 5400, protocol: TCP}"))
    assert "egress of shop/Deployment/api" in only(findings, "DD-NET-006")[0].message
    # NotIn: the db admits pods with a tier label except web; drop api's tier label -> blocked
    findings, _, _ = run(("labels: {app.kubernetes.io/name: api, tier: backend}", "labels: {app.kubernetes.io/name: api}"))
    assert "ingress of shop/StatefulSet/db (NetworkPolicy db, default-deny)" in only(findings, "DD-NET-006")[0].message


def test_namespace_selector_uses_namespace_labels():
    # web reaches obs by the namespace's own label; a namespace without it is not selected
    findings, _, _ = run(("    purpose: observability", "    purpose: other"))
    assert "obs/Deployment/collector" in only(findings, "DD-NET-006")[0].message


def test_multiple_policies_union():
    # move web's cache rule into a second policy: the union still allows it
    extra = """---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: web-cache, namespace: shop}
spec:
  podSelector:
    matchLabels: {app.kubernetes.io/name: web}
  policyTypes: [Egress]
  egress:
  - to:
    - podSelector:
        matchLabels: {app.kubernetes.io/name: cache}
"""
    edit = ("""  - to:
    - podSelector:
        matchLabels: {app.kubernetes.io/name: cache}
    ports:
    - {port: redis}
""", "")
    assert run(edit, extra=extra)[0] == []
    assert "egress of shop/Deployment/web" in only(run(edit)[0], "DD-NET-006")[0].message


DB_SERVICE = """apiVersion: v1
kind: Service
metadata:
  name: db
  namespace: shop
spec:
  selector: {app.kubernetes.io/name: db}
  ports:
  - {name: pg, port: 5432, targetPort: pg}
"""


@pytest.mark.parametrize("cidr, excepted, blocked", [
    ("192.168.0.0/16", "", False),
    ("192.168.0.0/16", "\n        except: [192.168.1.0/24]", True),
    ("10.0.0.0/8", "", True),
])
def test_ip_block_against_endpoints_addresses(cidr, excepted, blocked):
    selectorless = """apiVersion: v1
kind: Service
metadata: {name: db, namespace: shop}
spec:
  ports:
  - {name: pg, port: 5432, targetPort: 5432}
---
apiVersion: v1
kind: Endpoints
metadata: {name: db, namespace: shop}
subsets:
- addresses: [{ip: 192.168.1.20}]
  ports: [{name: pg, port: 5432}]
"""
    findings, _, _ = run((DB_SERVICE, selectorless),
                         ("""    - podSelector:
        matchExpressions:
        - {key: app.kubernetes.io/name, operator: In, values: [db]}
    ports:""", f"""    - ipBlock:
        cidr: {cidr}{excepted}
    ports:"""))
    assert bool([f for f in findings if f.rule_id == "DD-NET-006"]) is blocked


def test_external_name_needs_an_egress_rule_for_outside_addresses():
    external = """apiVersion: v1
kind: Service
metadata: {name: db, namespace: shop}
spec:
  type: ExternalName
  externalName: db.abc123.eu-west-1.rds.amazonaws.com
  ports:
  - {name: pg, port: 5432}
"""
    findings, _, _ = run((DB_SERVICE, external))
    assert "egress of shop/Deployment/api" in only(findings, "DD-NET-006")[0].message
    findings, _, _ = run((DB_SERVICE, external),
                         ("""    - podSelector:
        matchExpressions:
        - {key: app.kubernetes.io/name, operator: In, values: [db]}
    ports:""", """    - ipBlock: {cidr: 10.0.0.0/8}
    ports:"""))
    assert findings == []


def test_no_policy_at_all_means_everything_is_open():
    text = "\n---\n".join(part for part in BASE.split("\n---\n") if "kind: NetworkPolicy" not in part)
    findings, extras = check(parse_manifests(text, "shop.yaml"), DECLARED, "test")
    reach = extras["reachability"]["test"]
    assert {f.rule_id for f in findings} == {"DD-NET-009"}  # undeclared paths, nothing blocked
    assert reach["matrix"]["shop/Deployment/web"]["shop/StatefulSet/db"]["allowed"] == ["5432/TCP"]


def test_unexpanded_chart_in_the_right_namespace_still_needs_client_egress():
    # api's egress admits only the obs namespace on that path: telemetry is blocked
    findings, _, _ = run(("http://collector.obs.svc:4317", "http://otel-collector.telemetry.svc:4317"), extra=OTEL_APP)
    f = only(findings, "DD-NET-006")[0]
    assert "egress of shop/Deployment/api" in f.message and "telemetry/HelmRelease/otel" in f.message
    findings, _, _ = run(("http://collector.obs.svc:4317", "http://otel-collector.telemetry.svc:4317"),
                         ("matchLabels: {kubernetes.io/metadata.name: obs}", "matchLabels: {kubernetes.io/metadata.name: telemetry}"),
                         extra=OTEL_APP)
    assert findings == []


def test_external_url_needs_client_egress_and_dns():
    findings, _, text = run(("value: http://api:8080/v1", "value: https://payments.example.com/v1"))
    f = only(findings, "DD-NET-006")[0]
    assert "payments.example.com:443" in f.message and "egress of shop/Deployment/web" in f.message
    assert f.line == line_of(text, "payments.example.com")
    # an egress rule to outside addresses on 443 opens it (the address behind a name is unknown)
    findings, _, _ = run(("value: http://api:8080/v1", "value: https://payments.example.com/v1"),
                         ("    - {port: 8080}\n", "    - {port: 8080}\n  - to:\n    - ipBlock: {cidr: 0.0.0.0/0}\n    ports:\n    - {port: 443}\n"))
    assert [f.rule_id for f in findings] == []


def test_udp_service_port_needs_a_udp_rule():
    statsd = """---
apiVersion: apps/v1
kind: Deployment
metadata: {name: statsd, namespace: shop}
spec:
  selector: {matchLabels: {app.kubernetes.io/name: statsd}}
  template:
    metadata: {labels: {app.kubernetes.io/name: statsd}}
    spec:
      containers:
      - {name: statsd, image: statsd:1, ports: [{name: metrics, containerPort: 8125, protocol: UDP}]}
---
apiVersion: v1
kind: Service
metadata: {name: statsd, namespace: shop}
spec:
  selector: {app.kubernetes.io/name: statsd}
  ports: [{port: 8125, protocol: UDP, targetPort: metrics}]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: statsd, namespace: shop}
spec:
  podSelector: {matchLabels: {app.kubernetes.io/name: statsd}}
  ingress: [{ports: [{port: 8125, protocol: UDP}]}]
"""
    edit = ("value: http://api:8080/v1", "value: statsd:8125")
    rule = "        matchLabels: {app.kubernetes.io/name: api}\n    ports:\n    - {port: 8080}\n"
    to_statsd = "        matchLabels: {app.kubernetes.io/name: statsd}\n    ports:\n    - {port: 8125%s}\n"
    findings, _, _ = run(edit, (rule, to_statsd % ""), extra=statsd, data={})
    assert "port 8125/UDP" in only(findings, "DD-NET-006")[0].message  # the rule allows TCP only
    findings, _, _ = run(edit, (rule, to_statsd % ", protocol: UDP"), extra=statsd, data={})
    assert findings == []


def test_system_form_uses_effective_namespaces_and_names_the_application():
    """From the platform engine: chart objects without metadata.namespace land in the app's namespace."""
    from types import SimpleNamespace

    chart = """apiVersion: apps/v1
kind: Deployment
metadata: {name: agent}
spec:
  selector: {matchLabels: {app.kubernetes.io/name: agent}}
  template:
    metadata: {labels: {app.kubernetes.io/name: agent}}
    spec:
      containers:
      - name: agent
        image: agent:1
        env: [{name: SINK, value: "http://collector.monitoring.svc:4317"}]
"""
    from dataclasses import replace as dc_replace
    docs = parse_manifests(BASE, "shop.yaml") + [dc_replace(d, app="dev-agent") for d in parse_manifests(chart, "charts/agent/deployment.yaml")]
    objects = [SimpleNamespace(doc=d, namespace=("obs" if d.app else d.obj["metadata"].get("namespace", ""))) for d in docs]
    system = SimpleNamespace(objects=objects, env="dev")
    ctx = SimpleNamespace(env_data={}, env="dev")
    findings, extras = check(system, ctx)
    f = only(findings, "DD-NET-002")[0]
    assert "obs/Deployment/agent (Application dev-agent)" in f.message and "exists only in obs" in f.message
    assert "obs/Deployment/agent" in extras["reachability"]["dev"]["workloads"]


EDGE = """---
apiVersion: networking.k8s.io/v1
kind: IngressClass
metadata:
  name: public
  annotations: {ingressclass.kubernetes.io/is-default-class: "true"}
spec: {controller: example.com/edge}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: edge-controller, namespace: edge}
spec:
  selector: {matchLabels: {app.kubernetes.io/name: edge}}
  template:
    metadata: {labels: {app.kubernetes.io/name: edge}}
    spec:
      containers:
      - {name: controller, image: edge:1, args: [serve, --controller-class=example.com/edge]}
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: web, namespace: shop}
spec:
  rules:
  - host: shop.example.com
    http:
      paths:
      - path: /
        pathType: Prefix
        backend:
          service:
            name: web
            port: {name: http}
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop}
spec:
  selector: {app.kubernetes.io/name: web}
  ports: [{name: http, port: 80, targetPort: http}]
"""
WEB_INGRESS = """---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: web-from-edge, namespace: shop}
spec:
  podSelector: {matchLabels: {app.kubernetes.io/name: web}}
  policyTypes: [Ingress]
  ingress:
  - from:
    - namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: edge}}
    ports: [{port: %s}]
"""


def test_fail_ingress_backend_blocked_for_the_controller_of_its_class():
    text = BASE + EDGE
    findings, _, _ = run(extra=EDGE, data={})
    f = only(findings, "DD-NET-010")[0]
    assert "Ingress/shop/web routes to Service web (port http)" in f.message
    assert "ingress of shop/Deployment/web" in f.message and "edge/Deployment/edge-controller" in f.message
    assert f.line == line_of(text, "port: {name: http}")
    assert run(extra=EDGE + WEB_INGRESS % "3000", data={})[0] == []  # the pod port, not the Service port
    assert only(run(extra=EDGE + WEB_INGRESS % "80", data={})[0], "DD-NET-010")


def test_a_service_defect_met_by_several_clients_is_one_finding():
    # web (API_URL) and a second client both use api, whose selector matches nothing
    second = """---
apiVersion: batch/v1
kind: Job
metadata: {name: smoke, namespace: shop}
spec:
  template:
    metadata: {labels: {app.kubernetes.io/name: smoke}}
    spec:
      containers: [{name: smoke, image: curl:1, env: [{name: TARGET_URL, value: "http://api.shop.svc:8080/health"}]}]
"""
    findings, _, _ = run(("  selector: {app.kubernetes.io/name: api}", "  selector: {app.kubernetes.io/name: api-v2}"),
                         extra=second, data={})
    got = only(findings, "DD-NET-004")
    assert len(got) == 1 and "(and 1 more client endpoint(s))" in got[0].message


def test_headless_service_clients_use_the_pod_port():
    headless = DB_SERVICE.replace("spec:\n", "spec:\n  clusterIP: None\n")
    findings, _, _ = run((DB_SERVICE, headless),
                         ("jdbc:postgresql://db.shop.svc:5432/app", "jdbc:postgresql://db-0.db.shop.svc.cluster.local:5432/app"))
    assert findings == []
    findings, _, _ = run((DB_SERVICE, headless), ("jdbc:postgresql://db.shop.svc:5432/app", "jdbc:postgresql://db.shop.svc:6432/app"))
    assert "neither the Service nor its pods list that port" in only(findings, "DD-NET-003")[0].message
