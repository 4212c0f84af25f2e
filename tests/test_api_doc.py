"""docs/api.md's script runs as written against a copy of the demo repo: the public API is what the docs say."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import generator

from .conftest import REPO, copy_inputs

BLOCK = re.compile(r"```python\n(.*?)```", re.S)


def test_the_script_in_docs_api_md_runs(tmp_path: Path):
    blocks = BLOCK.findall((REPO / "docs" / "api.md").read_text(encoding="utf-8"))
    assert len(blocks) == 1, "docs/api.md should show one script"
    repo = copy_inputs(tmp_path / "repo", with_rendered=True)
    (repo / "example.py").write_text(blocks[0], encoding="utf-8")
    proc = subprocess.run([sys.executable, "example.py"], cwd=repo, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    assert "refused: unknown engine(s) in --engines: nope" in proc.stdout
    assert re.search(r"^DD-\S+ (HIGH|CRITICAL) pod\.yaml:\d+ ", proc.stdout, re.M), proc.stdout
    assert (repo / "rendered" / "dev" / ".index.json").is_file()


def test_the_public_names_are_exported_and_documented():
    for name in ("synth", "check", "validate", "diff", "promote", "explain", "rules"):
        assert callable(getattr(generator, name)), name
        assert getattr(generator.api, name).__doc__, name
    for name in ("Document", "SourceRef", "Severity", "Finding", "Resource", "Report"):
        assert getattr(generator, name).__module__ == "generator.core"


def test_import_generator_stays_cheap():
    # The command line's start-up: importing the package or the CLI must not load cdk8s, YAML parsing
    # of inputs, the gates or git plumbing.
    code = ("import sys, generator, generator.cli; heavy = [m for m in ('cdk8s', 'regorus', 'jsonschema', "
            "'generator.pipeline', 'generator.gate.runner', 'generator.diff.git', 'generator.gate.engines.rego.bundle') "
            "if m in sys.modules]; print(heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_diff_and_promote_are_modules_and_functions():
    import generator.diff as diff_pkg  # importing the subpackage must not shadow the API function

    assert generator.diff is diff_pkg and callable(generator.diff)
    assert diff_pkg.DiffResult.__name__ == "DiffResult"
    assert callable(generator.promote) and hasattr(generator.promote, "PromoteResult")
