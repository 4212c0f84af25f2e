"""`drydock validate services/x.yaml environments/y.yaml waivers.yaml`: check drydock's own inputs.

The document's `kind` decides the schema (Service, Environment, WaiverList). Each file is
checked on its own, as far as one file can be: its schema, scalars YAML would change, its
name against its file name, and references to sibling files that exist in the repo
(dependencies, override envs, waiver envs). `drydock synth` still cross-checks the whole
project. Rendered manifests keep the Kubernetes schema validation.
"""
from __future__ import annotations

import re
from pathlib import Path

from ..errors import InputError, Problem
from .inputschema import KINDS, did_you_mean, input_problems
from .versions import upgrade
from .yamlload import load_document, read_text

_INPUT_HEAD = re.compile(rb"^apiVersion:\s*[\"']?drydock/v\d+\b", re.M)  # any spec version, known or not


def is_input_file(path: Path, root: Path) -> bool:
    """A drydock input (not a Kubernetes manifest): by folder, by name, or by its apiVersion."""
    path = Path(path)
    try:
        rel = path.resolve().relative_to(Path(root).resolve()).parts
    except ValueError:
        rel = ()
    if rel[:1] in (("services",), ("environments",), ("waivers",)) or path.name in ("waivers.yaml", "waivers.yml"):
        return True
    try:
        if not path.is_file():
            return False
        with open(path, "rb") as fh:
            return bool(_INPUT_HEAD.search(fh.read(4096)))
    except OSError:
        return False


def _stems(folder: Path) -> set[str]:
    return {p.stem for p in folder.glob("*.y*ml")} if folder.is_dir() else set()


def validate_input(path: Path, root: Path) -> tuple[str | None, list[Problem]]:
    """(kind, problems) for one input file; no problems means valid."""
    from .loader import _check_addons, _check_service, _display

    root = Path(root)
    display = _display(Path(path), root)
    try:
        data, lines = load_document(read_text(Path(path), display, root=root), display)
    except InputError as exc:
        return None, exc.problems
    data, problems = upgrade(data, lines, display)
    if problems:
        return (data.get("kind") if isinstance(data, dict) else None), problems
    kind = data.get("kind") if isinstance(data, dict) else None
    if kind not in KINDS:
        line = lines.get(("kind",), (1, None))[0]
        close = did_you_mean(str(kind), KINDS) if isinstance(kind, str) else None
        return None, [Problem(f"kind {kind!r} is not a drydock input", display, line, field="kind",
                              hint=close or f"use one of: {', '.join(KINDS)} (Kubernetes manifests: drydock validate rendered/)")]
    envs = _stems(root / "environments")
    if kind == "WaiverList":
        from ..gate.waivers import parse_waivers
        try:
            parse_waivers(data, lines, display, envs=sorted(envs) or None)
        except InputError as exc:
            return kind, exc.problems
        return kind, []
    problems = input_problems(data, lines, KINDS[kind], display)
    if problems:
        return kind, problems
    if kind == "Environment":
        problems += _check_addons(data, lines, display)
    else:
        known = _stems(root / "services") | {data["metadata"]["name"]}
        problems += _check_service(data, lines, display, known, envs or None)
    name = data["metadata"]["name"]
    if name != Path(path).stem:
        line, col = lines[("metadata", "name")]
        problems.append(Problem(f"name '{name}' does not match the file name '{Path(path).name}'", display, line, col,
                                "metadata.name", f"rename the file to {name}{Path(path).suffix} or change the name"))
    return kind, problems
