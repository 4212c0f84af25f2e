"""`drydock new service`: a commented service file that validates, deployed to dev only."""
from __future__ import annotations

import difflib
import itertools
from pathlib import Path

import pytest
import yaml

from generator.errors import InputError
from generator.model import load_project
from generator.render import render_env
from generator.scaffold import COMPONENTS, new_service

from .conftest import run_drydock, tree_bytes


def _changed(before: dict[str, bytes], after: dict[str, bytes]) -> set[str]:
    return {k for k in before.keys() | after.keys() if before.get(k) != after.get(k)}


def test_cli_writes_a_valid_commented_file_and_only_adds_one_dev_line(repo_copy: Path):
    before = tree_bytes(repo_copy)
    r = run_drydock("new", "service", "payment-service", "--depends-on", "order-service,user-service",
                    "--datastore", "postgresql", "--queue", "rabbitmq", "--port", "9090", cwd=repo_copy)
    assert r.code == 0, r.err
    after = tree_bytes(repo_copy)
    assert _changed(before, after) == {"services/payment-service.yaml", "environments/dev.yaml"}
    diff = [l for l in difflib.unified_diff(before["environments/dev.yaml"].decode().splitlines(),
                                            after["environments/dev.yaml"].decode().splitlines(), lineterm="", n=0)
            if l[:1] in "+-" and not l.startswith(("+++", "---"))]
    assert diff == ['+      payment-service: "0.1.0"']
    text = after["services/payment-service.yaml"].decode()
    assert text.count("\n#") + text.count("  # ") >= 5, "the scaffold explains itself in comments"
    data = yaml.safe_load(text)
    assert data["spec"]["dependsOn"] == {"services": ["order-service", "user-service"], "datastores": ["postgresql"],
                                         "queues": ["rabbitmq"]}
    assert data["spec"]["ports"] == [{"name": "http", "port": 9090}]
    svc = load_project(repo_copy).services["payment-service"]
    assert svc.depends_on_services == ("order-service", "user-service")
    # it prints the next commands
    assert "drydock synth --env dev" in r.out and "drydock diff" in r.out
    assert "drydock promote --from dev --to staging --service payment-service --digest" in r.out


# Every component, with and without datastores and queues, stays in the quick set; the other combinations are slow.
QUICK_SCAFFOLDS = {("backend", 2, 1), ("frontend", 0, 0), ("admin", 0, 1)}


@pytest.mark.parametrize("component,datastores,queues", [
    pytest.param(c, ds, q, marks=() if (c, len(ds), len(q)) in QUICK_SCAFFOLDS else pytest.mark.slow)
    for c, ds, q in itertools.product(COMPONENTS, ([], ["mongodb", "redis"]), ([], ["rabbitmq"]))
])
def test_every_scaffold_renders_in_dev_and_nowhere_else(repo_copy: Path, component, datastores, queues):
    new_service(repo_copy, "basket", component=component, depends_on=["api-gateway"], datastores=datastores,
                queues=queues)
    platform = load_project(repo_copy)
    dev = render_env(platform, "dev")
    assert any(f.path.startswith("basket/") for f in dev.files)
    routes = [f.obj for f in dev.files if f.obj["kind"] == "Ingress" and "basket" in f.text]
    assert bool(routes) == (component != "backend")  # frontends and admin UIs get a route
    for env in ("staging", "prod"):
        assert not [f.path for f in render_env(platform, env).files if "basket" in f.text]


def test_dependencies_networkpolicies_admit_the_new_service(repo_copy: Path):
    new_service(repo_copy, "payment-service", depends_on=["order-service"], datastores=["postgresql"])
    dev = {f.path: f for f in render_env(load_project(repo_copy), "dev").files}
    for path in ("order-service/networkpolicy-order-service.yaml", "postgresql/networkpolicy-postgresql.yaml"):
        policy = dev[path].obj
        peers = [p.get("podSelector", {}).get("matchLabels", {}) for rule in policy["spec"].get("ingress", [])
                 for p in rule.get("from", [])]
        assert any(m.get("app.kubernetes.io/name") == "payment-service" for m in peers), (path, peers)
    egress = dev["payment-service/networkpolicy-payment-service.yaml"].obj["spec"].get("egress", [])
    targets = [p.get("podSelector", {}).get("matchLabels", {}).get("app.kubernetes.io/name")
               for rule in egress for p in rule.get("to", [])]
    assert "order-service" in targets and "postgresql" in targets


@pytest.mark.parametrize("name,match", [
    ("order-service", "already exists"),
    ("Payment", "invalid service name"),
    ("pay_ment", "invalid service name"),
    ("-pay", "invalid service name"),
    ("pay-", "invalid service name"),
    ("9pay", "invalid service name"),
    ("p" * 41, "invalid service name"),
    ("redis", "reserved"),
    ("argocd", "reserved"),
    ("platform", "reserved"),
])
def test_refuses_existing_and_invalid_names_with_the_rule(repo_copy: Path, name, match):
    before = tree_bytes(repo_copy)
    r = run_drydock("new", "service", "--", name, cwd=repo_copy)
    assert r.code == 2, r.err
    assert match in r.err and "fix:" in r.err and "Traceback" not in r.err
    if "invalid" in match:
        assert "lowercase letters, digits and '-'" in r.err
    assert tree_bytes(repo_copy) == before


@pytest.mark.parametrize("kw,match", [
    ({"depends_on": ["nope"]}, "unknown dependency 'nope'"),
    ({"depends_on": ["basket"]}, "cannot depend on itself"),
    ({"port": 80}, "outside 1024-65535"),
    ({"port": 70000}, "outside 1024-65535"),
    ({"datastores": ["mysql"]}, "unknown --datastore"),
    ({"queues": ["kafka"]}, "unknown --queue"),
    ({"component": "gateway"}, "unknown component"),
])
def test_refuses_bad_options_before_writing(repo_copy: Path, kw, match):
    before = tree_bytes(repo_copy)
    with pytest.raises(InputError, match=match):
        new_service(repo_copy, "basket", **kw)
    assert tree_bytes(repo_copy) == before


def test_refuses_a_dependency_that_dev_does_not_deploy(repo_copy: Path):
    new_service(repo_copy, "search")
    dev = repo_copy / "environments" / "dev.yaml"
    dev.write_text(dev.read_text().replace('      search: "0.1.0"\n', ""))  # exists, deployed nowhere
    before = tree_bytes(repo_copy)
    with pytest.raises(InputError, match="'search' is not deployed to dev"):
        new_service(repo_copy, "basket", depends_on=["search"])
    assert tree_bytes(repo_copy) == before


def test_keeps_comments_and_order_of_the_dev_file(repo_copy: Path):
    dev = repo_copy / "environments" / "dev.yaml"
    dev.write_text(dev.read_text().replace("    versions:\n", "    versions:  # bumped by CI\n")
                   .replace('      order-service: "1.5.0"\n', '      # canary build\n      order-service: "1.5.0"\n'))
    new_service(repo_copy, "basket")
    text = dev.read_text()
    assert "versions:  # bumped by CI" in text and "      # canary build\n      order-service" in text
    assert '      basket: "0.1.0"\n' in text
    keys = [l.split(":")[0].strip() for l in text.split("    versions:")[1].split("  rollout:")[0].splitlines()[1:]
            if l.strip() and not l.strip().startswith("#")]
    assert keys == sorted(keys)


def test_refuses_to_scaffold_into_a_digest_pinned_env(repo_copy: Path):
    before = tree_bytes(repo_copy)
    r = run_drydock("new", "service", "basket", "--env", "staging", cwd=repo_copy)
    assert r.code == 2 and "pins images by digest" in r.err and "drydock promote --from dev --to staging" in r.err
    assert tree_bytes(repo_copy) == before
