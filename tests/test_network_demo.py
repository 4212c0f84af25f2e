"""The connectivity check on the committed demo render, and docs/reachability.md kept fresh."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from generator.model.loader import load_project
from generator.platform import reachability
from generator.platform.network import check
from generator.yamlio import parse_manifests, read_manifests

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def platform():
    return load_project(ROOT)


def _docs(env: str, edit=lambda text: text):
    docs = []
    for path in sorted((ROOT / "rendered" / env).rglob("*.yaml")):
        docs += parse_manifests(edit(path.read_text()), str(path.relative_to(ROOT)))
    return docs


@pytest.mark.parametrize("env", ["dev", "staging", "prod"])
def test_demo_render_has_no_connectivity_defect_but_the_known_otlp_one(platform, env):
    findings, extras = check(read_manifests([ROOT / "rendered" / env]), platform.environments[env].gate_data(platform.services), env)
    matrix = extras["reachability"][env]
    # today: prod sends OTLP to opentelemetry-collector.monitoring while the chart installs into observability
    assert all(f.rule_id == "DD-NET-002" and "opentelemetry-collector" in f.message for f in findings), \
        [f.message for f in findings]
    assert matrix["workloads"]


def test_otlp_endpoint_in_the_wrong_namespace_is_caught_on_every_workload(platform):
    """The defect as issue 14 states it, injected into the current render (already fixed or not)."""
    to_monitoring = lambda text: re.sub(r"opentelemetry-collector\.[a-z-]+\.svc", "opentelemetry-collector.monitoring.svc", text)
    docs = _docs("prod", to_monitoring)
    findings, _ = check(docs, platform.environments["prod"].gate_data(platform.services), "prod")
    senders = {d.resource.name for d in docs if "opentelemetry-collector.monitoring.svc" in (d.text or "")
               and d.obj.get("kind") in ("Rollout", "Deployment", "Job")}
    wrong = [f for f in findings if f.rule_id == "DD-NET-002"]
    assert senders and {f.resource.name for f in wrong} == senders
    for f in wrong:
        assert "observability, not monitoring" in f.message and "prod-opentelemetry-collector" in f.message
        assert f.file.startswith("rendered/prod/") and f.line > 1
        written = to_monitoring((ROOT / f.file).read_text()).splitlines()[f.line - 1]
        assert "opentelemetry-collector.monitoring.svc" in written  # the line of the value, not the document


def test_otlp_egress_naming_the_wrong_namespace_is_caught(platform):
    """Endpoint fixed to observability but the NetworkPolicy egress still names monitoring."""
    def edit(text):
        text = re.sub(r"opentelemetry-collector\.[a-z-]+\.svc", "opentelemetry-collector.observability.svc", text)
        return re.sub(r"(kubernetes\.io/metadata\.name: )observability(\n\s+podSelector:\n\s+matchLabels:\n\s+"
                      r"app\.kubernetes\.io/name: opentelemetry-collector)", r"\1monitoring\2", text)
    findings, _ = check(_docs("prod", edit), platform.environments["prod"].gate_data(platform.services), "prod")
    blocked = [f for f in findings if f.rule_id == "DD-NET-006"]
    assert blocked and all("egress of ecommerce/" in f.message and "observability/HelmRelease/opentelemetry-collector"
                           in f.message for f in blocked)


def test_docs_reachability_matches_a_fresh_computation(monkeypatch):
    monkeypatch.chdir(ROOT)
    assert (ROOT / "docs" / "reachability.md").read_text() == reachability.render(ROOT), \
        "docs/reachability.md is stale: run python -m generator.platform.reachability"


def test_typo_in_a_service_config_url_points_at_the_rendered_line_and_the_service_file(platform):
    typo = lambda text: text.replace("API_BASE_URL: http://api-gateway:8080", "API_BASE_URL: http://api-gatway:8080")
    findings, _ = check(_docs("dev", typo), platform.environments["dev"].gate_data(platform.services), "dev")
    f = [f for f in findings if f.rule_id == "DD-NET-001"]
    assert len(f) == 1 and "ecommerce/Deployment/frontend" in f[0].message and "api-gatway.ecommerce" in f[0].message
    assert f[0].file == "rendered/dev/frontend/configmap-frontend-config.yaml"
    assert "api-gatway" in typo((ROOT / f[0].file).read_text()).splitlines()[f[0].line - 1]
    assert (f[0].source.file, f[0].source.line) == ("services/frontend.yaml",
                                                   platform.services["frontend"].lines["spec.config.API_BASE_URL"])


def test_a_policy_that_blocks_a_declared_dependency_in_the_demo(platform):
    """order-service's egress loses its postgresql rule: the declared datastore is cut off."""
    def edit(text):
        return text.replace("  - ports:\n    - port: 5432\n      protocol: TCP\n    to:\n    - podSelector:\n"
                            "        matchLabels:\n          app.kubernetes.io/instance: postgresql-dev",
                            "  - ports:\n    - port: 5433\n      protocol: TCP\n    to:\n    - podSelector:\n"
                            "        matchLabels:\n          app.kubernetes.io/instance: postgresql-dev")
    docs = _docs("dev", lambda text: edit(text) if "name: order-service\n  namespace" in text else text)
    findings, _ = check(docs, platform.environments["dev"].gate_data(platform.services), "dev")
    blocked = [f for f in findings if f.rule_id == "DD-NET-006"]
    assert blocked and all(f.resource.name == "order-service" and "postgresql" in f.message for f in blocked)
    assert "egress of ecommerce/Deployment/order-service" in blocked[0].message
