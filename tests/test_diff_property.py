"""Property tests: the diff never crashes on arbitrary YAML and diff(a, a) is empty."""
from __future__ import annotations

import json

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from generator.diff import DiffResult, diff_trees, render_diff

# Slow (deselect with -m 'not slow'): hypothesis properties; the unmarked ones are the quick cases.

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
)
keys = st.one_of(st.text(min_size=1, max_size=12), st.integers(min_value=-5, max_value=5), st.booleans())
values = st.recursive(
    scalars,
    lambda children: st.one_of(st.lists(children, max_size=4), st.dictionaries(keys, children, max_size=4)),
    max_leaves=20,
)
kinds = st.sampled_from(["Deployment", "Secret", "ConfigMap", "SealedSecret", "Role", "Ingress", "Thing", None, 7])
names = st.one_of(st.sampled_from(["a", "b", "c"]), st.none(), st.integers(0, 3))


@st.composite
def resource(draw):
    obj = draw(st.dictionaries(keys, values, max_size=5))
    kind = draw(kinds)
    if kind is not None:
        obj["kind"] = kind
    if draw(st.booleans()):
        obj["apiVersion"] = draw(st.sampled_from(["v1", "apps/v1", "x/v1"]))
    meta = draw(st.one_of(st.dictionaries(keys, values, max_size=3), st.text(max_size=3)))
    if isinstance(meta, dict):
        meta["name"] = draw(names)
    obj["metadata"] = meta
    return obj


@st.composite
def tree(draw):
    files = {}
    for i in range(draw(st.integers(0, 4))):
        env = draw(st.sampled_from(["dev", "prod"]))
        app = draw(st.sampled_from(["a", "b"]))
        docs = draw(st.lists(st.one_of(resource(), values), min_size=0, max_size=3))
        text = "# Source: services/x.yaml\n" + yaml.safe_dump_all(docs, sort_keys=False, allow_unicode=True)
        files[f"rendered/{env}/{app}/f{i}.yaml"] = text.encode("utf-8")
    if draw(st.booleans()):
        files["rendered/dev/a/broken.yaml"] = draw(st.text(max_size=20)).encode("utf-8")
    return files


def _render_all(changes, warnings):
    res = DiffResult("base", "head", "0" * 40, "1" * 40, changes=changes, warnings=warnings)
    for fmt in ("markdown", "text", "json"):
        parts = render_diff(res, fmt)
        assert parts and all(isinstance(p, str) for p in parts)
    json.loads(render_diff(res, "json")[0])
    return res


@pytest.mark.slow
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tree())
def test_diff_with_itself_is_empty(files):
    assert diff_trees(files, files) == []
    # also when nothing can be skipped by byte identity: the same objects re-serialised
    respelled = {p: b.replace(b"# Source: services/x.yaml\n", b"# other comment\n") for p, b in files.items()}
    assert diff_trees(files, respelled) == []


@pytest.mark.slow
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tree(), tree())
def test_diff_never_crashes(a, b):
    warnings: list[str] = []
    changes = diff_trees(a, b, warnings)
    _render_all(changes, warnings)
    back = diff_trees(b, a)
    flip = {"added": "removed", "removed": "added", "changed": "changed", "moved": "moved"}
    assert sorted((c.key, flip[c.status]) for c in changes) == sorted((c.key, c.status) for c in back)


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tree(), tree())
def test_diff_never_crashes_quick(a, b):
    """The inner loop's sample of the property above (same body, fewer examples)."""
    test_diff_never_crashes.hypothesis.inner_test(a, b)
