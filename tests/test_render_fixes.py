"""The demo platform is right as a system, not only manifest by manifest (issue 14, item 6).

Each test states a property of the whole render that the render before these fixes broke:
ArgoCD projects that refuse what the add-on charts write, add-ons without cloud identity,
endpoints in the wrong namespace, spoofable client addresses, TLS against aliases, a log
shipper reading itself, secrets shared between envs, an ignored sampler ratio, a canary
without routing or a canary-only guard, dashboards without folders. The properties are
checked generally (every env, every add-on, every workload), and some with inputs changed
in memory (another namespace, no CIDR, a missing role) so no test passes on the demo's
particular values alone.
"""
from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from types import MappingProxyType

import promql_parser
import pytest

from generator.constructs import addons as addon_mod
from generator.errors import InputError
from generator.model import load_project
from generator.render import render_env

REPO = Path(__file__).resolve().parent.parent
ENVS = ("dev", "staging", "prod")
IRSA = "eks.amazonaws.com/role-arn"


@pytest.fixture(scope="module")
def platform():
    return load_project(REPO)


@pytest.fixture(scope="module")
def renders(platform):
    return {env: render_env(platform, env) for env in ENVS}


def objs(rendered, kind: str | None = None) -> list[dict]:
    return [f.obj for f in rendered.files if kind is None or f.obj["kind"] == kind]


def addon_values(rendered, addon: str) -> dict:
    app = next(o for o in objs(rendered, "Application") if o["spec"].get("source", {}).get("chart")
               and o["metadata"]["labels"]["app.kubernetes.io/name"] == addon)
    return app["spec"]["source"]["helm"].get("valuesObject", {})


def with_env(platform, env_name: str, **changes):
    """The platform with one environment changed in memory (dataclasses.replace)."""
    env = dataclasses.replace(platform.environments[env_name], **changes)
    envs = dict(platform.environments)
    envs[env_name] = env
    return dataclasses.replace(platform, environments=MappingProxyType(envs))


def moved_addon(platform, env_name: str, addon: str, namespace: str):
    env = platform.environments[env_name]
    addons = dict(env.addons)
    addons[addon] = MappingProxyType({**addons.get(addon, {}), "namespace": namespace})
    return with_env(platform, env_name, addons=MappingProxyType(addons))


def workload_env(rendered) -> list[tuple[str, str, str]]:
    """(workload, variable, value) for every literal env value of every container."""
    out = []
    for o in objs(rendered):
        spec = o.get("spec", {})
        pod = spec.get("template", {}).get("spec") or spec.get("jobTemplate", {}).get("spec", {}).get("template", {}).get("spec")
        if not pod:
            continue
        for c in pod.get("containers", []) + pod.get("initContainers", []):
            for e in c.get("env") or []:
                if "value" in e:
                    out.append((o["metadata"]["name"], e["name"], str(e["value"])))
    return out


# -- ArgoCD projects -------------------------------------------------------------------------------
@pytest.mark.parametrize("env", ENVS)
def test_kube_system_is_writable_only_by_the_project_of_an_addon_that_needs_it(env, renders):
    rendered = renders[env]
    projects = {o["metadata"]["name"]: o for o in objs(rendered, "AppProject")}
    apps = [o for o in objs(rendered, "Application") if o["metadata"]["name"] != f"{env}-root"]
    needs_system = {n for n, e in addon_mod.catalogue().items() if e.system_namespaces}
    for app in apps:
        project = projects[app["spec"]["project"]]
        dests = {d["namespace"] for d in project["spec"]["destinations"]}
        name = app["metadata"]["labels"]["app.kubernetes.io/name"]
        if "kube-system" in dests:
            assert name in needs_system, f"{app['metadata']['name']} shares a project that may write kube-system"
            members = [a for a in apps if a["spec"]["project"] == project["metadata"]["name"]]
            assert len(members) == 1, "a project with kube-system holds exactly the add-on that needs it"
    # the platform's own folders never get add-on rights
    app_project = projects[f"ecommerce-{env}"]
    assert {d["namespace"] for d in app_project["spec"]["destinations"]} == {"ecommerce"}
    assert app_project["spec"]["sourceRepos"] == ["https://github.com/example/ecommerce-platform.git"]


def test_cert_manager_leader_election_follows_its_namespace(platform):
    moved = moved_addon(platform, "dev", "cert-manager", "tls-system")
    values = addon_values(render_env(moved, "dev"), "cert-manager")
    assert values["global"]["leaderElection"]["namespace"] == "tls-system"


@pytest.mark.parametrize("env", ENVS)
def test_control_plane_exporters_are_off_on_eks(env, renders):
    values = addon_values(renders[env], "kube-prometheus-stack")
    for component in ("kubeControllerManager", "kubeScheduler", "kubeEtcd", "kubeProxy", "coreDns"):
        assert values[component]["enabled"] is False, component


# -- cloud identity and secrets ----------------------------------------------------------------------
@pytest.mark.parametrize("env", ENVS)
def test_secret_store_and_dns_solver_service_accounts_carry_the_env_role(env, renders, platform):
    rendered, roles = renders[env], platform.environments[env].aws_roles
    store = next(o for o in objs(rendered, "ClusterSecretStore"))
    ref = store["spec"]["provider"]["aws"]["auth"]["jwt"]["serviceAccountRef"]
    eso = addon_values(rendered, "external-secrets")
    assert ref["name"] == "external-secrets"  # the chart's ServiceAccount (release name)
    assert eso["serviceAccount"]["annotations"][IRSA] == roles["externalSecrets"]
    assert f":role/ecommerce-{env}-" in roles["externalSecrets"]
    issuer = next(o for o in objs(rendered, "ClusterIssuer"))
    assert any("route53" in s.get("dns01", {}) for s in issuer["spec"]["acme"]["solvers"])
    cm = addon_values(rendered, "cert-manager")
    assert cm["serviceAccount"]["annotations"][IRSA] == roles["certManager"]


def test_a_missing_role_is_an_input_error(platform):
    broken = with_env(platform, "staging", aws_roles=MappingProxyType({"certManager": "arn:aws:iam::222233334444:role/x"}))
    with pytest.raises(InputError, match="spec.aws.roles.externalSecrets"):
        render_env(broken, "staging")


def test_secret_store_follows_a_moved_external_secrets(platform):
    moved = moved_addon(platform, "dev", "external-secrets", "eso")
    store = next(o for o in objs(render_env(moved, "dev"), "ClusterSecretStore"))
    assert store["spec"]["provider"]["aws"]["auth"]["jwt"]["serviceAccountRef"]["namespace"] == "eso"


def test_every_secret_path_is_scoped_to_its_env(renders):
    keys_by_env = {}
    for env in ENVS:
        keys = {d["remoteRef"]["key"] for o in objs(renders[env], "ExternalSecret") for d in o["spec"].get("data", [])}
        keys |= {d["extract"]["key"] for o in objs(renders[env], "ExternalSecret")
                 for d in o["spec"].get("dataFrom", []) if "extract" in d}
        assert keys and all(k.startswith(f"ecommerce/{env}/") for k in keys), sorted(keys)
        keys_by_env[env] = keys
    assert not (keys_by_env["dev"] & keys_by_env["prod"]) and not (keys_by_env["staging"] & keys_by_env["prod"])


@pytest.mark.parametrize("written,expected", [
    ("ecommerce/api-gateway/jwt", "ecommerce/prod/api-gateway/jwt"),
    ("payments/api-key", "ecommerce/prod/payments/api-key"),
    ("ecommerce/prod/already/scoped", "ecommerce/prod/already/scoped"),
    ("ecommerce/dev/other-env", "ecommerce/prod/dev/other-env"),
])
def test_secret_key_scoping(platform, written, expected):
    from generator.constructs.wiring import secret_key
    assert secret_key(platform.environments["prod"], written) == expected


# -- tracing endpoint -----------------------------------------------------------------------------------
def _otel_targets(rendered) -> tuple[set[str], set[str]]:
    endpoints = {v for _, n, v in workload_env(rendered) if n == "OTEL_EXPORTER_OTLP_ENDPOINT"}
    egress_ns = set()
    for np in objs(rendered, "NetworkPolicy"):
        for rule in np["spec"].get("egress") or []:
            for peer in rule.get("to", []):
                pods = peer.get("podSelector", {}).get("matchLabels", {})
                if pods.get("app.kubernetes.io/name") == "opentelemetry-collector":
                    egress_ns.add(peer["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"])
    return endpoints, egress_ns


@pytest.mark.parametrize("namespace", [None, "telemetry"])
def test_otlp_endpoint_and_egress_name_the_collectors_namespace(platform, namespace):
    p = moved_addon(platform, "prod", "opentelemetry-collector", namespace) if namespace else platform
    rendered = render_env(p, "prod")
    collector_ns = addon_mod.enabled_addons(p.environments["prod"])["opentelemetry-collector"].namespace
    endpoints, egress_ns = _otel_targets(rendered)
    assert endpoints == {f"http://opentelemetry-collector.{collector_ns}.svc.cluster.local:4317"}
    assert egress_ns == {collector_ns}
    app = next(o for o in objs(rendered, "Application") if o["metadata"]["name"] == "prod-opentelemetry-collector")
    assert app["spec"]["destination"]["namespace"] == collector_ns


def test_no_otlp_endpoint_without_a_collector(platform, renders):
    # dev switches the collector off: nothing may point at a collector that does not run
    assert _otel_targets(renders["dev"]) == (set(), set())


# -- ingress-nginx ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("env", ENVS)
def test_forwarded_headers_trusted_only_from_the_load_balancer(env, renders, platform):
    controller = addon_values(renders[env], "ingress-nginx")["controller"]
    cidrs = platform.environments[env].load_balancer_cidrs
    assert cidrs and controller["config"]["use-forwarded-headers"] == "true"
    assert controller["config"]["proxy-real-ip-cidr"] == ",".join(cidrs)
    assert "0.0.0.0/0" not in controller["config"]["proxy-real-ip-cidr"]
    assert controller["service"]["externalTrafficPolicy"] == "Local"


def test_without_a_load_balancer_cidr_no_forwarded_header_is_trusted(platform):
    controller = addon_values(render_env(with_env(platform, "dev", load_balancer_cidrs=()), "dev"), "ingress-nginx")["controller"]
    assert controller["config"]["use-forwarded-headers"] == "false"
    assert "proxy-real-ip-cidr" not in controller["config"]


@pytest.mark.parametrize("cidr", ["0.0.0.0/0", "::/0", "not-a-cidr"])
def test_a_catch_all_load_balancer_cidr_is_refused(platform, cidr):
    with pytest.raises(InputError, match="loadBalancerCIDRs"):
        render_env(with_env(platform, "dev", load_balancer_cidrs=(cidr,)), "dev")


@pytest.mark.parametrize("env", ENVS)
def test_the_sampler_ratio_comes_with_its_sampler(env, renders):
    config = addon_values(renders[env], "ingress-nginx")["controller"]["config"]
    if "otel-sampler-ratio" in config:
        assert config["otel-sampler"] == "TraceIdRatioBased"
    if env == "prod":
        assert config["enable-opentelemetry"] == "true" and config["otel-sampler-ratio"] == "0.05"


# -- managed datastores and TLS ------------------------------------------------------------------------
def test_prod_clients_verify_tls_against_the_real_endpoint(renders, platform):
    env = platform.environments["prod"]
    rendered = renders["prod"]
    endpoints = dict(env.managed_endpoints)
    values = workload_env(rendered)
    assert values
    for workload, name, value in values:
        assert ".svc.cluster.local" not in value or "opentelemetry" in value, (workload, name, value)
    hosts = {n: v for _, n, v in values if n.endswith("_HOST")}
    assert hosts["DATABASE_HOST"] == endpoints["postgresql"] or hosts.get("POSTGRESQL_HOST") == endpoints["postgresql"]
    assert hosts["REDIS_HOST"] == endpoints["redis"] and hosts["AMQP_HOST"] == endpoints["rabbitmq"]
    urls = {v for _, n, v in values if n == "REDIS_URL"}
    assert urls == {f"rediss://{endpoints['redis']}:6379/0"}
    assert {v for _, n, v in values if n.endswith("_SSLMODE")} == {"verify-full"}
    assert {(w, v) for w, n, v in values if n == "AMQP_PORT"} and all(
        v == "5671" for _, n, v in values if n == "AMQP_PORT")
    # the ExternalName aliases point at the same hosts
    for svc in objs(rendered, "Service"):
        if svc["spec"].get("type") == "ExternalName":
            assert svc["spec"]["externalName"] == endpoints[svc["metadata"]["name"]]


def test_a_managed_datastore_without_its_endpoint_is_an_input_error(platform):
    endpoints = dict(platform.environments["prod"].managed_endpoints)
    del endpoints["redis"]
    with pytest.raises(InputError, match="managedEndpoints.redis"):
        render_env(with_env(platform, "prod", managed_endpoints=MappingProxyType(endpoints)), "prod")


def test_in_cluster_datastores_keep_the_service_names(renders):
    hosts = {v for _, n, v in workload_env(renders["dev"]) if n.endswith("_HOST")}
    assert hosts and all(h.endswith(".ecommerce.svc.cluster.local") for h in hosts)


# -- fluent-bit ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("env", ENVS)
def test_fluent_bit_does_not_ship_its_own_log(env, renders):
    values = addon_values(renders[env], "fluent-bit")
    assert values["podAnnotations"]["fluentbit.io/exclude"] == "true"
    assert "K8S-Logging.Exclude On" in values["config"]["filters"]


# -- canary ----------------------------------------------------------------------------------------------
def test_prod_canaries_are_routed_and_guarded_at_every_step(renders, platform):
    rendered = renders["prod"]
    rollouts = objs(rendered, "Rollout")
    assert rollouts
    services = {o["metadata"]["name"]: o for o in objs(rendered, "Service")}
    ingresses = {o["metadata"]["name"]: o for o in objs(rendered, "Ingress")}
    templates = {o["metadata"]["name"]: o for o in objs(rendered, "AnalysisTemplate")}
    for r in rollouts:
        name, canary = r["metadata"]["name"], r["spec"]["strategy"]["canary"]
        analysis = canary["analysis"]
        assert analysis.get("startingStep", 0) == 0, f"{name}: the first steps run unguarded"
        args = {a["name"]: a for a in analysis["args"]}
        hash_args = [a for a in args.values() if a.get("valueFrom", {}).get("podTemplateHashValue") == "Latest"]
        assert hash_args, f"{name}: the analysis cannot tell canary pods from stable ones"
        for ref in analysis["templates"]:
            tpl = templates[ref["templateName"]]
            for metric in tpl["spec"]["metrics"]:
                assert "count" not in metric, f"{name}: a counted background analysis stops before the last step"
                query = metric["provider"]["prometheus"]["query"]
                assert "{{args." + hash_args[0]["name"] + "}}" in query, f"{name}: the query is not canary-only"
                filled = query
                for arg, spec in args.items():
                    filled = filled.replace("{{args." + arg + "}}", spec.get("value", "5d8f7c9b4"))
                promql_parser.parse(filled)
                assert re.search(r'pod=~"' + name + r'-5d8f7c9b4-\.\*"', filled)
        svc = platform.services[name]
        if svc.ingress_host:
            assert canary["stableService"] == name and canary["canaryService"] in services
            stable, canary_svc = services[canary["stableService"]], services[canary["canaryService"]]
            assert canary_svc["spec"]["ports"] == stable["spec"]["ports"]
            assert canary_svc["spec"]["selector"] == stable["spec"]["selector"]
            ingress = ingresses[canary["trafficRouting"]["nginx"]["stableIngress"]]
            backends = {p["backend"]["service"]["name"] for rule in ingress["spec"]["rules"] for p in rule["http"]["paths"]}
            assert canary["stableService"] in backends
        else:
            # no ingress, no mesh: weights follow replica counts; a canaryService would starve the canary
            assert "trafficRouting" not in canary and "stableService" not in canary


# -- Grafana -----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("env", ["staging", "prod"])
def test_dashboard_folders_are_read_by_the_grafana_sidecar(env, renders):
    folder_keys = {k for o in objs(renders[env], "ConfigMap")
                   if o["metadata"].get("labels", {}).get("grafana_dashboard") == "1"
                   for k in o["metadata"].get("annotations", {}) if "folder" in k}
    assert folder_keys == {"grafana_folder"}
    dashboards = addon_values(renders[env], "kube-prometheus-stack")["grafana"]["sidecar"]["dashboards"]
    assert dashboards["folderAnnotation"] in folder_keys
    assert dashboards["provider"]["foldersFromFilesStructure"] is True
