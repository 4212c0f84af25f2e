"""The input loader: every problem reported at once, with file:line:col, field and fix."""
from __future__ import annotations

from pathlib import Path

import pytest

from generator.errors import InputError
from generator.model import load_project
from generator.model.types import Environment

from .conftest import REPO, run_drydock, tree_bytes


def test_demo_platform_loads_with_the_seed_services():
    platform = load_project(REPO)
    assert sorted(platform.services) == sorted(
        ["frontend", "api-gateway", "admin-panel", "product-service", "order-service", "user-service"])
    assert sorted(platform.environments) == ["dev", "prod", "staging"]
    gateway = platform.services["api-gateway"]
    assert set(gateway.depends_on_services) == {"product-service", "order-service", "user-service"}
    assert platform.services["frontend"].depends_on_services == ("api-gateway",)


@pytest.mark.parametrize("env,replicas,cpu,memory,autoscaling,monitoring", [
    ("dev", 1, "0.5", "512Mi", "none", "basic"),
    ("staging", 2, "1", "1Gi", "hpa", "full"),
    ("prod", 3, "2", "2Gi", "hpa+vpa", "full+apm"),
])
def test_environment_values_match_the_seed_table(env, replicas, cpu, memory, autoscaling, monitoring):
    e: Environment = load_project(REPO).environments[env]
    assert (e.replicas, e.cpu, e.memory, e.autoscaling, e.monitoring) == (replicas, cpu, memory, autoscaling, monitoring)


def _write_service(repo: Path, name: str, body: str) -> Path:
    path = repo / "services" / f"{name}.yaml"
    path.write_text(body)
    return path


BAD_ORDER_SERVICE = """\
apiVersion: drydock/v1
kind: Service
metadata:
  name: order-service
spec:
  component: backend
  image: registry.example.com/ecommerce/order-service
  replica: 3
  ports:
    - name: http
      port: "8080"
  dependsOn:
    services: [billing-service]
"""


def test_unknown_key_wrong_type_and_bad_dependency_are_reported_together(repo_with_render: Path):
    _write_service(repo_with_render, "order-service", BAD_ORDER_SERVICE)
    before = tree_bytes(repo_with_render / "rendered")
    r = run_drydock("synth", "--all", cwd=repo_with_render)
    assert r.code == 2, r.err
    assert "Traceback" not in r.err
    lines = [l for l in r.err.splitlines() if l.startswith("error:")]
    assert any("unknown key 'replica'" in l and "services/order-service.yaml:8:3" in l for l in lines), r.err
    assert any("spec.ports[0].port" in l and "expected integer" in l and "services/order-service.yaml:11:13" in l
               for l in lines), r.err
    assert any("unknown dependency 'billing-service'" in l and "services/order-service.yaml:13:16" in l
               for l in lines), r.err
    assert "fix:" in r.err
    assert tree_bytes(repo_with_render / "rendered") == before


@pytest.mark.parametrize("body,fragment", [
    ("apiVersion: drydock/v1\nkind: Service\nmetadata:\n  name: Order_Service\n", "DNS-1123"),
    ("apiVersion: drydock/v1\nkind: Service\nmetadata:\n  name: order-service\n  name: x\n", "duplicate key 'name'"),
    ("apiVersion: drydock/v1\nkind: Service\nmetadata: &m\n  name: order-service\nspec: *m\n", "anchors and aliases"),
    ("apiVersion: drydock/v1\nkind: Service\nmetadata: !!python/object:os.system\n  name: x\n", "not allowed"),
    ("", "file is empty"),
    ("a: 1\n---\nb: 2\n", "more than one YAML document"),
    ("apiVersion: drydock/v1\nkind: Service\nmetadata:\n\tname: x\n", "tabs"),
])
def test_malformed_service_files_get_a_located_error(repo_copy: Path, body: str, fragment: str):
    _write_service(repo_copy, "order-service", body)
    with pytest.raises(InputError) as exc:
        load_project(repo_copy)
    text = "\n".join(p.render() + " " + (p.hint or "") for p in exc.value.problems)
    assert fragment in text
    assert all(p.file for p in exc.value.problems)


def test_dependency_cycle_is_named(repo_copy: Path):
    path = repo_copy / "services" / "user-service.yaml"
    path.write_text(path.read_text().replace("  dependsOn:\n", "  dependsOn:\n    services: [api-gateway]\n"))
    with pytest.raises(InputError) as exc:
        load_project(repo_copy)
    msg = exc.value.problems[0].message
    assert "dependency cycle" in msg and "user-service" in msg and "api-gateway" in msg


def test_conflicting_ports_and_undeclared_port_reference(repo_copy: Path):
    path = repo_copy / "services" / "frontend.yaml"
    text = path.read_text().replace("    - name: http\n      port: 8080\n",
                                    "    - name: http\n      port: 8080\n    - name: admin\n      port: 8080\n")
    path.write_text(text.replace("  metrics:\n    port: http", "  metrics:\n    port: metrics"))
    with pytest.raises(InputError) as exc:
        load_project(repo_copy)
    messages = [p.message for p in exc.value.problems]
    assert any("port port 8080 is used twice" in m for m in messages), messages
    assert any("port 'metrics' is not declared" in m for m in messages), messages


def test_duplicate_service_names_across_files(repo_copy: Path):
    (repo_copy / "services" / "frontend-copy.yaml").write_text((repo_copy / "services" / "frontend.yaml").read_text())
    with pytest.raises(InputError) as exc:
        load_project(repo_copy)
    assert any("does not match the file name" in p.message for p in exc.value.problems)


def test_prod_requires_digests(repo_copy: Path):
    path = repo_copy / "environments" / "prod.yaml"
    lines = path.read_text().splitlines(keepends=True)
    path.write_text("".join(l.split("@sha256")[0] + '"\n' if "frontend:" in l else l for l in lines))
    platform = load_project(repo_copy)  # a missing prod digest stops prod, not the others
    platform.for_env("dev")
    with pytest.raises(InputError) as exc:
        platform.for_env("prod")
    assert any("'frontend' is not pinned by digest" in p.message for p in exc.value.problems)
