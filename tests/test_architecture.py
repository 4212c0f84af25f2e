"""The import rules of docs/architecture.md, checked over every module of generator/.

Layers, lowest first. A module may import its own layer and the layers below it, never one
above: the core model knows nothing of YAML files, the gates know nothing of cdk8s, and only
the command line knows about click. Imports inside functions count too (they are how a lower
layer would sneak a dependency in).
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[1] / "generator"

# module or package prefix (dotted, below `generator`) -> layer number
LAYERS: list[tuple[str, int]] = [
    # 0: shared vocabulary, no drydock imports but each other
    ("core", 0), ("errors", 0), ("exitcodes", 0), ("callmodule", 0), ("lazy", 0), ("cdk8s_runtime", 0), ("k8snames", 0),
    ("credentials", 0), ("children", 0),
    # 1: reading and writing files, the input model
    ("yamlio", 1), ("writer", 1), ("model", 1),
    ("platform.rules", 1),  # rule declarations (data + core): input checks in model/ declare rules too
    ("gate.cache", 2),  # the content-addressed result store the gates and the helm expansion share
    # 2: turning the model into documents; platform knowledge (helm, ArgoCD, network simulation)
    ("constructs", 2), ("platform", 2),
    # 3: rendering and judging documents
    ("render", 3), ("render_cache", 3), ("render_worker", 3), ("gate", 3),
    ("model.validate", 3),  # `drydock validate` of one input file; waivers.yaml is parsed by gate.waivers
    # 4: whole workflows over a repo (promote sits with pipeline: synth repairs a cut-short promotion)
    ("diff", 4), ("pipeline", 4), ("scaffold", 4), ("promote", 4),
    # 5: the public API
    ("api", 5), ("__init__", 5),
    # 6: the command line
    ("cli", 6), ("__main__", 6),
]


def layer_of(module: str) -> int:
    best = None
    for prefix, layer in LAYERS:
        if module == prefix or module.startswith(prefix + "."):
            if best is None or len(prefix) > len(best[0]):
                best = (prefix, layer)
    assert best is not None, f"generator.{module} has no layer: add it to LAYERS and docs/architecture.md"
    return best[1]


def modules() -> list[tuple[str, Path]]:
    out = []
    for path in sorted(PKG.rglob("*.py")):
        rel = path.relative_to(PKG).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] == "__init__" and len(parts) > 1:
            parts.pop()
        out.append((".".join(parts), path))
    return out


def _runtime_nodes(tree: ast.AST):
    """Every node except the bodies of `if TYPE_CHECKING:` (annotations only: no dependency at run time)."""
    stack = [tree]
    while stack:
        node = stack.pop()
        yield node
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and isinstance(child.test, ast.Name) and child.test.id == "TYPE_CHECKING":
                stack.extend(child.orelse)
                continue
            stack.append(child)


def imports_of(module: str, path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    is_pkg = path.name == "__init__.py"
    here = module.split(".") if module != "__init__" else []
    base = here if is_pkg else here[:-1]
    found = set()
    for node in _runtime_nodes(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                anchor = base[: len(base) - (node.level - 1)] if node.level > 1 else base
                target = anchor + (node.module.split(".") if node.module else [])
                if node.module is None:  # from . import x: each name may be a submodule
                    found.update(".".join(target + [a.name]) for a in node.names)
                    continue
                found.add(".".join(target))
            elif node.module and node.module.startswith("generator."):
                found.add(node.module.removeprefix("generator."))
        elif isinstance(node, ast.Import):
            found.update(a.name.removeprefix("generator.") for a in node.names if a.name.startswith("generator."))
    return {m for m in found if m and m != module}


def test_no_lower_layer_imports_a_higher_one():
    bad = []
    for module, path in modules():
        mine = layer_of(module)
        for target in imports_of(module, path):
            if layer_of(target) > mine:
                bad.append(f"generator.{module} (layer {mine}) imports generator.{target} (layer {layer_of(target)})")
    assert not bad, "\n".join(bad)


def test_only_the_command_line_imports_click():
    users = [m for m, p in modules() if "import click" in p.read_text(encoding="utf-8") and layer_of(m) < 6]
    assert users == []


@pytest.mark.parametrize("module,path", modules(), ids=[m for m, _ in modules()])
def test_modules_stay_under_600_lines(module, path):
    lines = path.read_text(encoding="utf-8").count("\n")
    assert lines <= 600, f"generator/{path.relative_to(PKG)} has {lines} lines: split it by job"


def test_the_rule_itself_catches_an_upward_import(tmp_path):
    # A made-up core module importing the gate must be flagged: the check is not vacuous.
    fake = tmp_path / "core.py"
    fake.write_text("from .gate.runner import run_gates\n", encoding="utf-8")
    assert any(layer_of(t) > layer_of("core") for t in imports_of("core", fake))


def test_the_command_line_exits_in_one_place_through_named_codes():
    text = (PKG / "cli.py").read_text(encoding="utf-8")
    assert text.count("sys.exit(") == 1, "cli.py exits only in main(); commands return or raise Blocked"
    assert "sys.exit(1)" not in text and "rc = 2" not in text and "rc = 130" not in text
    for reach in ("gate.engines.schema", "gate.engines.rego", "gate.cache", "gate.policy_tests", "gate.runner",
                  "ALL_ENGINES", "FORMATS = (", "ENGINE_CHOICES"):
        assert reach not in text, f"cli.py reaches past the API: {reach}"


def test_report_formats_are_the_files_of_the_reporters_folder():
    from generator.gate.reporters import FORMATS, REPORTERS

    files = {p.stem for p in (PKG / "gate" / "reporters").glob("*.py") if not p.stem.startswith("_")}
    assert set(FORMATS) == files == set(REPORTERS)
    assert FORMATS[0] == "text"  # the default view first
    assert all(callable(REPORTERS[f]) for f in FORMATS)
