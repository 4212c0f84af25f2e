"""Malformed manifests (fields of the wrong type) never crash the connectivity check.

The schema gate reports such documents; the platform engine sees the same documents and
must still answer (an exception there would turn a finding into exit 2).
"""
from __future__ import annotations

import copy
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from generator.core import Document
from generator.platform.network import check
from generator.yamlio import parse_manifests

BASE = parse_manifests((Path(__file__).parent / "fixtures" / "network" / "shop.yaml").read_text(), "shop.yaml")
WEIRD = st.sampled_from([None, 1, -1, True, "x", "", "http://api:notaport", "api:99999", [], {}, [None], [1],
                         {"a": None}, {"matchLabels": "x"}, [{"port": []}]])


def _paths(obj, prefix=()):
    yield prefix
    items = obj.items() if isinstance(obj, dict) else enumerate(obj) if isinstance(obj, list) else ()
    for k, v in items:
        yield from _paths(v, prefix + (k,))


PATHS = [(i, p) for i, d in enumerate(BASE) for p in _paths(d.obj) if p]


@pytest.mark.slow  # hypothesis property: its 10-example sample at the end of this file runs in the inner loop
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.sampled_from(PATHS), WEIRD), min_size=1, max_size=4))
def test_wrong_types_anywhere_never_crash(edits):
    docs = [Document(d.file, d.line, copy.deepcopy(d.obj), d.source, d.text) for d in BASE]
    for (i, path), value in edits:
        node = docs[i].obj
        try:
            for key in path[:-1]:
                node = node[key]
            node[path[-1]] = value
        except (KeyError, IndexError, TypeError):
            continue
    findings, extras = check(docs, {"services": {"web": {"namespace": "shop", "dependsOn": ["api"]}}}, "t")
    assert isinstance(findings, list) and "t" in extras["reachability"]


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.sampled_from(PATHS), WEIRD), min_size=1, max_size=4))
def test_wrong_types_anywhere_never_crash_quick(edits):
    """The inner loop's sample of the property above (same body, fewer examples)."""
    test_wrong_types_anywhere_never_crash.hypothesis.inner_test(edits)
