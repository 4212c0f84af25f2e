"""Property tests (hypothesis), in-process through the library:

* random valid inputs (services with random DNS-1123 names, ports, a dependency DAG and config
  maps) render deterministically: two renders, and a render after a fresh load, give the same bytes;
* random mutations of a valid service file (drop a line, change a value's type, insert garbage
  bytes, truncate) make `load_project` succeed or raise `InputError`, never anything else;
* the rendered-tree diff never crashes on random YAML mappings (and garbage) at rendered paths.
"""
from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from generator.errors import InputError
from generator.model import load_project

from .conftest import REPO, copy_inputs

# Slow (deselect with -m 'not slow'): hypothesis properties; the unmarked ones are the quick cases.

SETTINGS = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
                derandomize=True)

# -- random valid inputs --------------------------------------------------------------------
dns = st.from_regex(r"\A[a-z][a-z0-9]{0,6}(-[a-z0-9]{1,5})?\Z", fullmatch=True)
port_names = st.from_regex(r"\A[a-z][a-z0-9]{0,5}\Z", fullmatch=True)
config_keys = st.from_regex(r"\A[A-Z][A-Z0-9_]{0,10}\Z", fullmatch=True)
config_values = st.one_of(st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs", "Cc"]), max_size=20),
                          st.integers(-10**6, 10**6), st.booleans())


@st.composite
def services(draw):
    names = draw(st.lists(dns, min_size=1, max_size=3, unique=True))
    out = []
    for i, name in enumerate(names):
        pnames = draw(st.lists(port_names, min_size=1, max_size=3, unique=True))
        numbers = draw(st.lists(st.integers(1024, 65535), min_size=len(pnames), max_size=len(pnames), unique=True))
        deps = draw(st.lists(st.sampled_from(names[:i]), unique=True, max_size=2)) if i else []
        spec = {
            "component": draw(st.sampled_from(["frontend", "gateway", "admin", "backend"])),
            "image": f"registry.example.com/ecommerce/{name}",
            "ports": [{"name": n, "port": p} for n, p in zip(pnames, numbers)],
            "config": draw(st.dictionaries(config_keys, config_values, max_size=4)),
        }
        if deps:
            spec["dependsOn"] = {"services": deps}
        out.append({"apiVersion": "drydock/v1", "kind": "Service", "metadata": {"name": name}, "spec": spec})
    return out


def _dev_env_text() -> str:
    """environments/dev.yaml with image versions that fit any service set (a default)."""
    text = (REPO / "environments" / "dev.yaml").read_text()
    text, n = re.subn(r"(\n    versions:\n)(      [^\n]*\n)+", r'\1      default: "1.0.0"\n', text)
    assert n == 1, "environments/dev.yaml changed shape: update _dev_env_text"
    return text


def _write_project(root: Path, svcs: list[dict]) -> None:
    shutil.rmtree(root, ignore_errors=True)
    (root / "services").mkdir(parents=True)
    (root / "environments").mkdir()
    (root / "environments" / "dev.yaml").write_text(_dev_env_text())
    for s in svcs:
        (root / "services" / f"{s['metadata']['name']}.yaml").write_text(yaml.safe_dump(s, sort_keys=False))


def _render_bytes(root: Path) -> dict[str, bytes]:
    from generator.render import render_env

    platform = load_project(root)
    env = render_env(platform, "dev")
    return {f.path: f.text.encode() for f in env.files}


@pytest.mark.slow
@settings(max_examples=15, **SETTINGS)
@given(svcs=services())
def test_random_valid_inputs_render_deterministically(tmp_path_factory, svcs):
    root = tmp_path_factory.mktemp("prop")
    _write_project(root, svcs)
    first = _render_bytes(root)
    second = _render_bytes(root)
    assert first == second
    # Every service shows up, and the bytes are what the YAML loader reads back.
    for s in svcs:
        assert any(p.startswith(s["metadata"]["name"] + "/") for p in first)
    for path, data in first.items():
        assert data.startswith(b"# Source: ")
        assert isinstance(yaml.safe_load(data), dict), path
    shutil.rmtree(root)


# -- mutations of a valid service file ---------------------------------------------------------
@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Path:
    return copy_inputs(tmp_path_factory.mktemp("mut") / "repo")


VALID = (REPO / "services" / "frontend.yaml").read_bytes()
TYPES = [b"[1, 2]", b"{a: b}", b"42", b"true", b"null", b'"text"', b"-", b"~", b"3.5", b"!!binary aGk=", b"&x 1", b"*x"]


@st.composite
def mutated(draw):
    data = VALID
    for _ in range(draw(st.integers(1, 3))):
        how = draw(st.sampled_from(["drop-line", "retype", "garbage", "truncate", "duplicate-line", "indent"]))
        lines = data.split(b"\n")
        i = draw(st.integers(0, max(len(lines) - 1, 0)))
        if how == "drop-line" and lines:
            del lines[i]
        elif how == "retype" and b":" in lines[i]:
            key = lines[i].split(b":", 1)[0]
            lines[i] = key + b": " + draw(st.sampled_from(TYPES))
        elif how == "duplicate-line":
            lines.insert(i, lines[i])
        elif how == "indent":
            lines[i] = draw(st.sampled_from([b" ", b"\t", b"    "])) + lines[i]
        data = b"\n".join(lines)
        if how == "garbage":
            pos = draw(st.integers(0, len(data)))
            data = data[:pos] + draw(st.binary(min_size=1, max_size=8)) + data[pos:]
        elif how == "truncate":
            data = data[: draw(st.integers(0, len(data)))]
    return data


@pytest.mark.slow
@settings(max_examples=400, **SETTINGS)
@given(data=mutated())
def test_mutated_service_file_is_loaded_or_refused_with_input_error(demo, data):
    (demo / "services" / "frontend.yaml").write_bytes(data)
    try:
        load_project(demo)
    except InputError as exc:
        assert exc.problems and all(p.message for p in exc.problems)
        for p in exc.problems:
            assert "\n" not in p.render(), p.render()  # one error line per problem


def test_mutation_property_can_fail(demo):
    """Guard: the property above sees real errors (a broken file is not silently accepted)."""
    (demo / "services" / "frontend.yaml").write_bytes(VALID.replace(b"port: 8080", b"port: [8080]"))
    with pytest.raises(InputError):
        load_project(demo)
    (demo / "services" / "frontend.yaml").write_bytes(VALID)
    load_project(demo)


# -- diff on random YAML -------------------------------------------------------------------------
scalars = st.one_of(st.none(), st.booleans(), st.integers(-2**40, 2**40), st.text(max_size=12))
trees = st.recursive(scalars, lambda c: st.one_of(st.lists(c, max_size=3), st.dictionaries(st.text(max_size=8), c, max_size=3)),
                     max_leaves=12)
kinds = st.sampled_from(["Deployment", "Secret", "ConfigMap", "Service", "Role", "Ingress", "Application", "Thing"])


@st.composite
def rendered_file(draw):
    obj = draw(st.dictionaries(st.text(max_size=8), trees, max_size=4))
    if draw(st.booleans()):
        obj.update(apiVersion="v1", kind=draw(kinds), metadata={"name": draw(st.sampled_from(["a", "b"])),
                                                                "namespace": draw(st.sampled_from(["x", "y"]))})
    if draw(st.integers(0, 9)) == 0:
        return draw(st.binary(max_size=40))  # not even YAML
    return ("# Source: services/a.yaml (generated by drydock; do not edit)\n" + yaml.safe_dump(obj)).encode()


paths = st.builds(lambda env, app, f: f"rendered/{env}/{app}/{f}.yaml",
                  st.sampled_from(["dev", "prod"]), st.sampled_from(["a", "b"]), st.sampled_from(["x", "y", "z"]))


@pytest.mark.slow
@settings(max_examples=150, **SETTINGS)
@given(base=st.dictionaries(paths, rendered_file(), max_size=4), head=st.dictionaries(paths, rendered_file(), max_size=4))
def test_diff_never_crashes_on_random_yaml(base, head):
    from generator.diff import DiffResult, diff_trees, render_diff

    warnings: list[str] = []
    changes = diff_trees(base, head, warnings)
    assert diff_trees(base, base, []) == []
    result = DiffResult(base="base", head="head", base_sha="0" * 40, head_sha=None, changes=changes, warnings=warnings)
    for fmt in ("markdown", "text", "json"):
        assert render_diff(result, fmt)
