"""`drydock validate services/x.yaml environments/y.yaml waivers.yaml` checks drydock's own
inputs with their schemas (issue 17 item 5): the kind decides, unknown keys get a "did you
mean", a value of the wrong form gets words instead of a regex."""
from __future__ import annotations

from pathlib import Path

import pytest

from .conftest import run_drydock


def _edit(repo: Path, rel: str, old: str, new: str) -> None:
    p = repo / rel
    assert old in p.read_text()
    p.write_text(p.read_text().replace(old, new, 1))


def test_the_demo_inputs_are_valid(repo_copy: Path):
    r = run_drydock("validate", "services/frontend.yaml", "environments/prod.yaml", "waivers.yaml", cwd=repo_copy)
    assert r.code == 0, r.err
    for line in ("services/frontend.yaml: valid Service", "environments/prod.yaml: valid Environment",
                 "waivers.yaml: valid WaiverList"):
        assert line in r.err


@pytest.mark.parametrize("rel,old,new,where,fix", [
    ("services/frontend.yaml", "  ports:", "  prots:", "spec.prots: unknown key 'prots' (services/frontend.yaml:10",
     "did you mean 'ports'?"),
    ("services/frontend.yaml", "component: frontend", "component: frontnd", "spec.component", "did you mean 'frontend'?"),
    ("services/frontend.yaml", "image: registry.example.com/ecommerce/frontend", "image: Registry/Frontend:1.0",
     "spec.image", "an image repository without tag"),
    ("services/frontend.yaml", "LOG_FORMAT: json", "LOG_FORMAT: off", "spec.config.LOG_FORMAT", 'quote it: LOG_FORMAT: "off"'),
    ("services/frontend.yaml", "services: [api-gateway]", "services: [api-gateway, cart]", "unknown dependency 'cart'",
     "services/cart.yaml"),
    ("environments/dev.yaml", "  replicas: 1", "  replica: 1", "unknown key 'replica'", "did you mean 'replicas'?"),
    ("environments/dev.yaml", "domain: dev.shop.example.com", "domain: Dev_Shop", "spec.domain", "a lower-case DNS domain"),
    ("environments/dev.yaml", "    policy: tag", "    policy: tags", "spec.images.policy", "did you mean 'tag'?"),
    ("waivers.yaml", "    owner: platform-team", "    owner: platform-team\n    ownr: x", "unknown key 'ownr'",
     "did you mean 'owner'?"),
    ("waivers.yaml", "env: [dev, staging, prod]", "env: [dev, qa]", "unknown environment 'qa'", "use one of: dev, prod, staging"),
])
def test_a_bad_input_is_invalid_with_a_human_fix(repo_copy: Path, rel, old, new, where, fix):
    _edit(repo_copy, rel, old, new)
    r = run_drydock("validate", rel, cwd=repo_copy)
    assert r.code == 1, r.err
    errors = [ln for ln in r.err.splitlines() if ln.startswith("error: ")]
    assert any(where in ln and rel in ln for ln in errors), r.err
    assert fix in r.err
    assert "^" not in r.err and "[a-z" not in r.err  # no raw regex shown to the user
    assert "Traceback" not in r.err


def test_the_kind_decides_and_an_unknown_kind_gets_a_suggestion(repo_copy: Path):
    (repo_copy / "x.yaml").write_text("apiVersion: drydock/v1\nkind: Servce\nmetadata: {name: x}\n")
    r = run_drydock("validate", "x.yaml", cwd=repo_copy)
    assert r.code == 1 and "did you mean 'Service'?" in r.err, r.err
    # a Service document under another file name is checked as a Service
    (repo_copy / "x.yaml").write_text((repo_copy / "services" / "frontend.yaml").read_text())
    r = run_drydock("validate", "x.yaml", cwd=repo_copy)
    assert r.code == 1 and "does not match the file name 'x.yaml'" in r.err, r.err


def test_manifests_keep_the_kubernetes_schema_validation(repo_with_render: Path):
    one = sorted((repo_with_render / "rendered" / "dev").rglob("deployment-*.yaml"))[0].relative_to(repo_with_render)
    r = run_drydock("validate", str(one), "services/frontend.yaml", cwd=repo_with_render)
    assert r.code == 0 and "1 documents valid" in r.err, r.err
    (repo_with_render / str(one)).write_text((repo_with_render / str(one)).read_text().replace("replicas:", "replicaz:"))
    r = run_drydock("validate", str(one), "services/frontend.yaml", cwd=repo_with_render)
    assert r.code == 1 and "replicaz" in r.out + r.err
