"""Bad-manifest suite: every rule fires on its own defect, hardened manifests pass.

tests/fixtures/policy/bad/<rule-id>.yaml is good/shop-stack.yaml with one
defect (regenerate with tests/fixtures/policy/make_bad.py). The findings must
be exactly the rule in its `# rule:` header plus any `# also:` ids the defect
necessarily trips. good/*.yaml must produce no finding at all.
"""
from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import pytest
import yaml

from generator.gate import GateContext
from generator.gate.engines.rego import PolicyGate, default_policy_dir, load_policies
from generator.core import Document, Severity, SourceRef

FIXTURES = Path(__file__).parent / "fixtures" / "policy"
BAD = sorted((FIXTURES / "bad").glob("*.yaml"))
GOOD = sorted((FIXTURES / "good").glob("*.yaml"))

PROD_ENV = {
    "name": "prod",
    "allowedRegistries": ["registry.example.com/ecommerce/"],
    "requireDigest": True,
    "allowedServiceTypes": ["ClusterIP", "ExternalName"],
    "requiredLabels": ["app.kubernetes.io/name", "app.kubernetes.io/part-of", "app.kubernetes.io/managed-by"],
    "existingPaths": ["prod/order-service", "prod/argocd"],
    "addonHostPaths": {"prod-node-agent": [{"path": "/var/log", "readOnly": True}]},
}


def load_docs(path: Path) -> list[Document]:
    """Documents of a multi-document YAML file with the line each starts on."""
    text = path.read_text()
    app = re.search(r"^# app: (\S+)", text, re.M)  # an add-on's expanded objects (make_bad.py APPS)
    docs = []
    for node in yaml.compose_all(text, Loader=yaml.SafeLoader):
        if node is None:
            continue
        obj = yaml.safe_load(yaml.serialize(node))
        if obj:
            docs.append(Document(str(path.relative_to(FIXTURES.parent.parent.parent)), node.start_mark.line + 1, obj,
                                 SourceRef("services/order-service.yaml", 1), app=app.group(1) if app else None))
    return docs


def expected_ids(path: Path) -> set[str]:
    text = path.read_text()
    ids = {re.search(r"^# rule: (\S+)", text, re.M).group(1)}
    also = re.search(r"^# also: (.+)$", text, re.M)
    if also:
        ids |= {x.strip() for x in also.group(1).split(",")}
    return ids


def ctx(**kw) -> GateContext:
    return replace(GateContext(env="prod", env_data=PROD_ENV, policy_dirs=(default_policy_dir(),)), **kw)


def test_every_rule_has_a_bad_fixture():
    ids = {r.id.lower() for r in load_policies().rules}
    assert {p.stem for p in BAD} == ids


@pytest.mark.parametrize("path", BAD, ids=[p.stem for p in BAD])
def test_bad_fixture_trips_its_rule(path):
    findings = PolicyGate().run(load_docs(path), ctx())
    assert {f.rule_id for f in findings} == expected_ids(path)


@pytest.mark.parametrize("path", GOOD, ids=[p.stem for p in GOOD])
def test_good_fixture_passes_every_rule(path):
    findings = PolicyGate().run(load_docs(path), ctx())
    assert [f"{f.rule_id}: {f.resource.display()}: {f.message}" for f in findings] == []


def test_good_fixtures_also_pass_without_env():
    for path in GOOD:
        assert PolicyGate().run(load_docs(path), ctx(env=None, env_data={})) == []


def test_finding_carries_document_location_and_rule_metadata():
    path = FIXTURES / "bad" / "dd-pss-001.yaml"
    docs = load_docs(path)
    [f] = PolicyGate().run(docs, ctx())
    deploy = next(d for d in docs if d.obj["kind"] == "Deployment")
    assert f.rule_id == "DD-PSS-001" and f.severity is Severity.CRITICAL and f.engine == "regorus"
    assert (f.file, f.line, f.source) == (deploy.file, deploy.line, deploy.source)
    assert f.resource.display() == "Deployment/shop/order-service"
    assert 'container "app"' in f.message and "privileged" in f.message
    assert f.related_ids == ("KSV-0017",) and f.fix and f.url.startswith("https://")
    assert f.title == "Privileged container"


def test_nulls_in_input_do_not_hide_findings():
    docs = load_docs(FIXTURES / "bad" / "dd-pss-002.yaml")
    deploy = next(d for d in docs if d.obj["kind"] == "Deployment")
    deploy.obj["spec"]["template"]["spec"]["nodeSelector"] = None
    deploy.obj["spec"]["template"]["spec"]["containers"][0]["env"].append(None)
    assert {f.rule_id for f in PolicyGate().run(docs, ctx())} == {"DD-PSS-002"}


def test_env_changes_verdict():
    docs = load_docs(FIXTURES / "bad" / "dd-wkl-009.yaml")
    assert {f.rule_id for f in PolicyGate().run(docs, ctx())} == {"DD-WKL-009"}
    relaxed = {**PROD_ENV, "requireDigest": False}
    assert PolicyGate().run(docs, ctx(env_data=relaxed)) == []
