"""Input spec versions (generator/model/versions.py): unknown apiVersions are exit 2 naming the
supported ones; a registered older version is upgraded on load with a deprecation warning."""
from __future__ import annotations

import warnings
from pathlib import Path

import pytest

from generator.errors import InputError
from generator.model import versions
from generator.model.loader import load_project

from .conftest import run_drydock


def _set_api_version(path: Path, value: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert "apiVersion: drydock/v1\n" in text
    path.write_text(text.replace("apiVersion: drydock/v1\n", f"apiVersion: {value}\n", 1), encoding="utf-8")


def test_an_unknown_api_version_is_exit_2_naming_the_supported_ones(repo_copy: Path):
    _set_api_version(repo_copy / "services" / "order-service.yaml", "drydock/v9")
    r = run_drydock("synth", "--env", "dev", "--no-gate", cwd=repo_copy)
    assert r.code == 2, r.err
    assert "Traceback" not in r.err
    assert "error: apiVersion: apiVersion 'drydock/v9' is not supported by this drydock (services/order-service.yaml:1" in r.err
    assert "fix: use one of: drydock/v1" in r.err
    r = run_drydock("validate", "services/order-service.yaml", cwd=repo_copy)
    assert r.code == 1 and "'drydock/v9' is not supported" in r.err, r.err


def _v0_service(doc: dict) -> dict:
    # The made-up old form: the image was `spec.container.image`.
    spec = dict(doc["spec"])
    spec["image"] = spec.pop("container")["image"]
    return {**doc, "spec": spec}


@pytest.fixture
def fake_v0(monkeypatch):
    monkeypatch.setitem(versions.VERSIONS, "drydock/v0", versions.SpecVersion(
        "drydock/v0", upgrade=_v0_service, deprecation="drydock/v0 is deprecated; write apiVersion: drydock/v1 "
        "and move spec.container.image to spec.image"))


def _write_v0(repo: Path) -> Path:
    path = repo / "services" / "order-service.yaml"
    _set_api_version(path, "drydock/v0")
    text = path.read_text(encoding="utf-8")
    lines = text.splitlines(keepends=True)
    at = next(i for i, ln in enumerate(lines) if ln.startswith("  image:"))
    lines[at] = "  container:\n  " + lines[at]
    path.write_text("".join(lines), encoding="utf-8")
    return path


def test_a_deprecated_version_loads_upgraded_with_a_warning(repo_copy: Path, fake_v0):
    before = load_project(repo_copy).services["order-service"].image
    _write_v0(repo_copy)
    with pytest.warns(versions.DeprecatedInput, match=r"services/order-service.yaml:\d+: drydock/v0 is deprecated"):
        platform = load_project(repo_copy)
    assert platform.services["order-service"].image == before


def test_without_the_upgrade_registered_the_same_file_is_refused(repo_copy: Path):
    _write_v0(repo_copy)
    with pytest.raises(InputError, match="'drydock/v0' is not supported"):
        load_project(repo_copy)


def test_the_cli_prints_the_deprecation_as_a_warning_line(repo_copy: Path, fake_v0, capsys, monkeypatch):
    from generator import cli

    _write_v0(repo_copy)
    with warnings.catch_warnings():
        with pytest.raises(SystemExit) as done:
            cli.main(["-C", str(repo_copy), "validate", str(repo_copy / "services" / "order-service.yaml")])
    err = capsys.readouterr().err
    assert done.value.code == 0, err
    assert "warning: services/order-service.yaml:1: drydock/v0 is deprecated; write apiVersion: drydock/v1" in err
    assert "valid Service" in err


def test_waivers_follow_the_same_versions(repo_copy: Path):
    path = repo_copy / "waivers.yaml"
    _set_api_version(path, "drydock/v7")
    r = run_drydock("synth", "--env", "dev", cwd=repo_copy)
    assert r.code == 2, r.err
    assert "'drydock/v7' is not supported" in r.err and "waivers.yaml:" in r.err, r.err
