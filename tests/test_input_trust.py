"""Input boundaries (issue 15 "Inputs"): files that are not plain files, names Kubernetes would
refuse, config values YAML would change, non-finite numbers, patterns that let a trailing
newline through, keys of user maps. Each is exit 2 with file:line and a fix, never a hang."""
from __future__ import annotations

import os
import re
from pathlib import Path

import jsonschema
import jsonschema_rs
import pytest
from hypothesis import given, settings, strategies as st

from generator.model.inputschema import did_you_mean, schema

from .conftest import run_drydock

INPUT_KINDS = ("service", "environment")


def _synth(repo: Path, *extra: str, timeout: int = 60):
    return run_drydock("synth", "--env", "dev", "--no-gate", "--out", str(repo / "out"), *extra, cwd=repo, timeout=timeout)


def _errors(err: str) -> list[str]:
    return [ln for ln in err.splitlines() if ln.startswith("error: ")]


def _edit(repo: Path, rel: str, old: str, new: str) -> None:
    p = repo / rel
    text = p.read_text()
    assert old in text, old
    p.write_text(text.replace(old, new, 1))


# --- files that are not plain files --------------------------------------------------------

def test_a_fifo_among_the_services_is_refused_at_once(repo_copy: Path):
    os.mkfifo(repo_copy / "services" / "pipe.yaml")
    r = _synth(repo_copy, timeout=30)  # reading a FIFO would block: the timeout is the failure
    assert r.code == 2 and any("not a regular file (it is a FIFO)" in e and "services/pipe.yaml" in e for e in _errors(r.err)), r.err


def test_a_directory_named_like_an_input_is_refused(repo_copy: Path):
    (repo_copy / "environments" / "qa.yaml").mkdir()
    r = _synth(repo_copy)
    assert r.code == 2 and any("it is a directory" in e for e in _errors(r.err)), r.err


def test_a_symlink_out_of_the_repo_is_refused(repo_copy: Path, tmp_path: Path):
    outside = tmp_path / "elsewhere.yaml"
    outside.write_text((repo_copy / "services" / "frontend.yaml").read_text())
    (repo_copy / "services" / "frontend.yaml").unlink()
    (repo_copy / "services" / "frontend.yaml").symlink_to(outside)
    r = _synth(repo_copy)
    assert r.code == 2 and any("outside the repository" in e for e in _errors(r.err)), r.err


@pytest.mark.parametrize("folder", ["services", "waivers"])
def test_a_linked_folder_out_of_the_repo_is_refused(repo_copy: Path, tmp_path: Path, folder: str):
    """No file is a link, but the folder is: waivers/ -> /elsewhere would waive from outside the repo."""
    outside = tmp_path / "elsewhere"
    if folder == "services":
        (repo_copy / "services").rename(outside)
    else:
        (repo_copy / "waivers").rename(outside)  # the repo's own add-on waivers, moved out
    (repo_copy / folder).symlink_to(outside, target_is_directory=True)
    r = run_drydock("synth", "--env", "dev", "--engines", "policy", "--out", str(repo_copy / "out"), cwd=repo_copy, timeout=60)
    assert r.code == 2 and any("linked folder" in e and f"({folder}/" in e for e in _errors(r.err)), r.err


def test_a_linked_folder_inside_the_repo_is_read(repo_copy: Path):
    (repo_copy / "services").rename(repo_copy / "real-services")
    (repo_copy / "services").symlink_to(repo_copy / "real-services", target_is_directory=True)
    assert _synth(repo_copy).code == 0


def test_a_symlink_to_a_device_is_refused(repo_copy: Path):
    (repo_copy / "waivers.yaml").unlink()
    (repo_copy / "waivers.yaml").symlink_to("/dev/zero")
    r = run_drydock("synth", "--env", "dev", "--engines", "policy", "--out", str(repo_copy / "out"), cwd=repo_copy, timeout=60)
    assert r.code == 2 and any("waivers.yaml" in e for e in _errors(r.err)), r.err


def test_a_symlink_inside_the_repo_is_read(repo_copy: Path):
    (repo_copy / "shared").mkdir()
    (repo_copy / "services" / "frontend.yaml").rename(repo_copy / "shared" / "frontend.yaml")
    (repo_copy / "services" / "frontend.yaml").symlink_to(repo_copy / "shared" / "frontend.yaml")
    assert _synth(repo_copy).code == 0


# --- names Kubernetes would refuse ---------------------------------------------------------

def _rename_service(repo: Path, old: str, new: str) -> None:
    for p in [*(repo / "services").glob("*.yaml"), *(repo / "environments").glob("*.yaml")]:
        text = p.read_text()
        text = re.sub(rf"(?<![-\w]){re.escape(old)}(?![-\w])", new, text)
        p.write_text(text)
    (repo / "services" / f"{old}.yaml").rename(repo / "services" / f"{new}.yaml")


@pytest.mark.parametrize("length", [63, 58])
def test_a_service_name_whose_generated_names_exceed_kubernetes_limits_is_refused(repo_copy: Path, length: int):
    # Both are valid DNS labels; 63 makes the Application 'prod-<name>' too long, 58 the
    # canary Service '<name>-canary' (65 > 63) of prod's canary rollout.
    long = "s" + "x" * (length - 1)
    _rename_service(repo_copy, "user-service", long)
    r = run_drydock("synth", "--env", "prod", "--no-gate", "--out", str(repo_copy / "out"), cwd=repo_copy)
    errs = _errors(r.err)
    assert r.code == 2, r.err
    assert any("63 characters" in e and f"services/{long}.yaml" in e for e in errs), r.err
    assert re.search(r"fix: shorten the .*name.* by at least \d+ characters", r.err) and not (repo_copy / "out").exists()


def test_a_service_name_starting_with_a_digit_is_not_a_valid_service_name(repo_copy: Path):
    _rename_service(repo_copy, "user-service", "1user-service")
    r = _synth(repo_copy)
    assert r.code == 2 and any("DNS-1035" in e for e in _errors(r.err)), r.err


def test_every_name_in_the_demo_render_fits():
    from generator.k8snames import name_problems
    from generator.pipeline import load_project
    from generator.render import render_env

    repo = Path(__file__).resolve().parent.parent
    platform = load_project(repo)
    assert [p for e in platform.environments for p in name_problems(render_env(platform, e).documents())] == []


# --- config values must be the text written -----------------------------------------------

COERCED = ["NO", "no", "Yes", "on", "OFF", "y", "0755", "0o17", "0x1F", "1:30", "1e3", "1.5e3", "1_000", "~", "null",
           "", ".nan", ".inf", "-.inf", "2026-01-31", "+12", "True"]


@pytest.mark.parametrize("value", COERCED)
def test_a_config_value_yaml_would_change_must_be_quoted(repo_copy: Path, value: str):
    _edit(repo_copy, "services/frontend.yaml", "LOG_FORMAT: json", f"LOG_FORMAT: {value}")
    r = _synth(repo_copy)
    errs = _errors(r.err)
    assert r.code == 2 and any("spec.config.LOG_FORMAT" in e and "services/frontend.yaml:25" in e for e in errs), r.err
    assert "quote it" in r.err


@pytest.mark.parametrize("value", COERCED[:8])
def test_the_same_values_in_a_per_env_override_must_be_quoted(repo_copy: Path, value: str):
    _edit(repo_copy, "services/frontend.yaml", "  businessMetrics:",
          f"  overrides:\n    dev:\n      config:\n        LOG_FORMAT: {value}\n  businessMetrics:")
    r = _synth(repo_copy)
    assert r.code == 2 and any("spec.overrides.dev.config.LOG_FORMAT" in e for e in _errors(r.err)), r.err


@pytest.mark.parametrize("value", ['"NO"', "'0755'", '"1:30"', "600", "0", "-3", "1.5", "true", "json", "http://a:8080/x"])
def test_config_values_every_reader_agrees_on_are_accepted(repo_copy: Path, value: str):
    _edit(repo_copy, "services/frontend.yaml", "LOG_FORMAT: json", f"LOG_FORMAT: {value}")
    assert _synth(repo_copy).code == 0


@pytest.mark.parametrize("field,old,new", [
    ("spec.tracingSampleRate", "  monitoring:", "  tracingSampleRate: .nan\n  monitoring:"),
    ("spec.tracingSampleRate", "  monitoring:", "  tracingSampleRate: .inf\n  monitoring:"),
    ("spec.addons.jaeger.values.x", "      enabled: false\n    opentelemetry", "      enabled: false\n      values:\n        x: -.inf\n    opentelemetry"),
])
def test_non_finite_numbers_are_refused_in_any_field(repo_copy: Path, field: str, old: str, new: str):
    _edit(repo_copy, "environments/dev.yaml", old, new)
    r = _synth(repo_copy)
    assert r.code == 2 and any(field in e and "not a finite number" in e for e in _errors(r.err)), r.err


# --- patterns: no trailing newline, human hints, keys of user maps ------------------------

def _patterns(node, path=()):
    if isinstance(node, dict):
        if isinstance(node.get("pattern"), str):
            yield path, node["pattern"], node.get("x-hint")
        for k, v in node.items():
            yield from _patterns(v, path + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _patterns(v, path + (i,))


ALL_PATTERNS = sorted({(k, p) for k in INPUT_KINDS for _, p, _ in _patterns(schema(k))})


def test_every_input_pattern_is_anchored_at_both_ends_and_has_a_human_hint():
    for kind in INPUT_KINDS:
        for path, pattern, hint in _patterns(schema(kind)):
            assert pattern.startswith("^") and pattern.endswith("$(?!\\n)"), (kind, path, pattern)
            assert hint and "^" not in hint, (kind, path)


@pytest.mark.parametrize("kind,pattern", ALL_PATTERNS)
@settings(max_examples=15, deadline=None)
@given(data=st.data())
def test_no_pattern_accepts_a_trailing_newline_in_either_validator(kind: str, pattern: str, data):
    # A value the pattern accepts, plus "\n": both the Python and the Rust validator refuse it.
    value = data.draw(st.from_regex(pattern[:-len("(?!\\n)")], fullmatch=True).filter(lambda v: "\n" not in v))
    sub = {"type": "string", "pattern": pattern}
    assert jsonschema.Draft202012Validator(sub).is_valid(value)
    assert jsonschema_rs.validator_for(sub).is_valid(value)
    for bad in (value + "\n", value + "\r\n"):
        assert not jsonschema.Draft202012Validator(sub).is_valid(bad)
        assert not jsonschema_rs.validator_for(sub).is_valid(bad)


def test_a_trailing_newline_in_a_value_is_refused_with_a_human_hint(repo_copy: Path):
    _edit(repo_copy, "services/frontend.yaml", "image: registry.example.com/ecommerce/frontend",
          'image: "registry.example.com/ecommerce/frontend\\n"')
    r = _synth(repo_copy)
    assert r.code == 2 and any("spec.image" in e and "services/frontend.yaml:9" in e for e in _errors(r.err)), r.err
    fix = next(ln for ln in r.err.splitlines() if ln.startswith("  fix:"))
    assert "image repository" in fix and "[a-z" not in fix  # words, not the regex


def test_override_config_keys_are_validated(repo_copy: Path):
    _edit(repo_copy, "services/frontend.yaml", "  businessMetrics:",
          "  overrides:\n    dev:\n      config:\n        log-format: json\n  businessMetrics:")
    r = _synth(repo_copy)
    assert r.code == 2 and any("spec.overrides.dev.config.log-format" in e and "services/frontend.yaml:32" in e
                               for e in _errors(r.err)), r.err
    assert "environment variable name" in r.err


def test_unknown_keys_get_a_did_you_mean(repo_copy: Path):
    _edit(repo_copy, "services/frontend.yaml", "  businessMetrics:", "  overrides:\n    dev:\n      replica: 2\n  businessMetrics:")
    r = _synth(repo_copy)
    assert r.code == 2 and "did you mean 'replicas'?" in r.err, r.err


def test_did_you_mean_uses_edit_distance():
    assert did_you_mean("replcias", ["replicas", "resources"]) == "did you mean 'replicas'?"  # a swap is one edit
    assert did_you_mean("dependson", ["dependsOn", "database"]) == "did you mean 'dependsOn'?"
    assert did_you_mean("zzz", ["replicas", "resources"]) is None


# --- held-out: numbers readers disagree on, credentials in any field, registry prefixes -------

@pytest.mark.parametrize("written", ["0x1F90", "8_080", "2:14:40", "017620"])
def test_a_number_yaml_readers_disagree_on_is_refused(repo_copy: Path, written: str):
    """`port: 017620` is 8080 to YAML 1.1 (octal) and 17620 to YAML 1.2; `8_080` a string to 1.2."""
    _edit(repo_copy, "services/frontend.yaml", "port: 8080", f"port: {written}")
    r = _synth(repo_copy)
    assert r.code == 2 and any("spec.ports[0].port" in e and "services/frontend.yaml:12" in e for e in _errors(r.err)), r.err
    assert "plain decimal number" in r.err


def test_helm_values_keep_yaml_1_1_numbers(repo_copy: Path):
    """Add-on values are the chart's and Helm reads them as YAML 1.1 like us (defaultMode: 0644)."""
    _edit(repo_copy, "environments/dev.yaml", "      enabled: false\n    opentelemetry",
          "      enabled: false\n      values:\n        defaultMode: 0644\n    opentelemetry")
    assert _synth(repo_copy).code == 0


@pytest.mark.parametrize("rel,old,new,field", [
    ("environments/dev.yaml", "repoURL: https://github.com/example/", "repoURL: https://ci:s3cr%2Ft@github.com/example/",
     "spec.argocd.repoURL"),
    ("services/frontend.yaml", "description: Web storefront", "description: uses postgres://app:Hunter2@db/shop, Web storefront",
     "metadata.description"),
    ("services/frontend.yaml", "description: Web storefront", "description: key AKIAIOSFODNN7EXAMPLE for the Web storefront",
     "metadata.description"),
])
def test_a_credential_in_any_other_field_is_refused(repo_copy: Path, rel: str, old: str, new: str, field: str):
    _edit(repo_copy, rel, old, new)
    r = _synth(repo_copy)
    assert r.code == 2 and any(field in e and "holds a credential" in e for e in _errors(r.err)), r.err
    assert "Hunter2" not in r.err and "s3cr" not in r.err and "AKIAIOSFODNN7EXAMPLE" not in r.err


def test_a_registry_without_a_trailing_slash_trusts_only_what_is_under_it(repo_copy: Path):
    from generator.core import Document
    from generator.gate.engines.rego import evaluate
    from generator.model.loader import load_project

    _edit(repo_copy, "environments/dev.yaml", "registries: [registry.example.com/ecommerce/]",
          "registries: [registry.example.com]")
    env = load_project(repo_copy).environments["dev"]
    assert env.registries == ("registry.example.com/",)

    def pod(image: str) -> Document:
        obj = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "ecommerce"},
               "spec": {"containers": [{"name": "c", "image": image}]}}
        return Document("p.yaml", 1, obj)

    def flagged(image: str) -> bool:
        return any(f.rule_id == "DD-WKL-010" for f in evaluate([pod(image)], env.gate_data()))

    assert flagged("registry.example.com.evil.io/shop/app:1.0")
    assert flagged("registry.example.com-mirror/shop/app:1.0")
    assert not flagged("registry.example.com/shop/app:1.0")
