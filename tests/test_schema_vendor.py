"""The vendored schemas are exactly what scripts/vendor_schemas.py regenerates."""
from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SCHEMAS = REPO / "generator" / "schemas"
CRD_SRC = REPO.parent / "shared" / "schemas" / "crds"


def _vendored_files() -> dict[str, str]:
    return {p.relative_to(SCHEMAS).as_posix(): p.read_text(encoding="utf-8")
            for sub in ("k8s", "crds") for p in sorted((SCHEMAS / sub).rglob("*")) if p.is_file()}


@pytest.mark.skipif(importlib.util.find_spec("kubernetes_validate") is None,
                    reason="kubernetes-validate is not installed (pip install -e '.[bench]' to run this check)")
@pytest.mark.skipif(not CRD_SRC.is_dir(), reason=f"CRD catalog copy not found at {CRD_SRC}")
def test_vendored_schemas_match_a_fresh_regeneration(tmp_path):
    proc = subprocess.run([sys.executable, str(REPO / "scripts" / "vendor_schemas.py"), str(CRD_SRC), "--out", str(tmp_path)],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    fresh = {p.relative_to(tmp_path).as_posix(): p.read_text(encoding="utf-8")
             for p in sorted(tmp_path.rglob("*")) if p.is_file()}
    vendored = _vendored_files()
    assert sorted(fresh) == sorted(vendored)
    stale = [name for name in fresh if fresh[name] != vendored[name]]
    assert not stale, f"stale vendored schemas {stale}: run python scripts/vendor_schemas.py"


def test_vendored_schemas_are_compact_and_indexed():
    total = sum(len(t.encode()) for t in _vendored_files().values())
    assert total < 3 * 1024 * 1024
    k8s = json.loads((SCHEMAS / "k8s" / "index.json").read_text())
    assert k8s["kubernetesVersion"].startswith("1.31") and k8s["flavour"] == "strict"
    defs = json.loads((SCHEMAS / "k8s" / "definitions.json").read_text())["$defs"]
    for per in k8s["kinds"].values():
        for name in per.values():
            assert name in defs
    # strict flavour: objects that list their properties reject unknown ones
    assert defs["io.k8s.api.apps.v1.DeploymentSpec"]["additionalProperties"] is False
    crds = json.loads((SCHEMAS / "crds" / "index.json").read_text())["kinds"]
    assert sum(len(v) for v in crds.values()) == 16
    for per in crds.values():
        for entry in per.values():
            assert (SCHEMAS / "crds" / entry["file"]).is_file()
    assert (SCHEMAS / "PROVENANCE.md").read_text().count("License") >= 3


def test_strip_keeps_properties_named_description():
    sys.path.insert(0, str(REPO / "scripts"))
    try:
        from vendor_schemas import strip_annotations
    finally:
        sys.path.pop(0)
    s = {"description": "x", "x-kubernetes-list-type": "map", "properties": {"description": {"type": "string", "description": "d"}},
         "items": {"description": "i", "type": "object"}, "enum": [{"description": "data"}]}
    assert strip_annotations(s) == {"properties": {"description": {"type": "string"}}, "items": {"type": "object"},
                                    "enum": [{"description": "data"}]}
