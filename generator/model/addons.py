"""The add-on catalogue (generator/addons.yaml) as frozen, schema-checked data.

Loaded and validated once per file (`catalogue()`); errors are InputErrors with the
file and line, like the other inputs. The Helm values that depend on the environment
(replicas, monitoring level, endpoints) are generated in constructs/addons.py and
merged over the catalogue's `values`.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Any, Mapping

from ..errors import InputError, Problem

# Named ignoreDifferences presets: fields that controllers write after the chart is applied,
# ignored so the Application does not flap OutOfSync.
IGNORE_PRESETS: Mapping[str, tuple[dict, ...]] = MappingProxyType({
    "webhook-ca-bundle": (
        {"group": "admissionregistration.k8s.io", "kind": "ValidatingWebhookConfiguration",
         "jqPathExpressions": [".webhooks[]?.clientConfig.caBundle"]},
        {"group": "admissionregistration.k8s.io", "kind": "MutatingWebhookConfiguration",
         "jqPathExpressions": [".webhooks[]?.clientConfig.caBundle"]},
    ),
    "crd-conversion-ca-bundle": (
        {"group": "apiextensions.k8s.io", "kind": "CustomResourceDefinition",
         "jqPathExpressions": [".spec.conversion.webhook.clientConfig.caBundle"]},
    ),
})


@dataclass(frozen=True)
class CatalogueEntry:
    """One add-on of the catalogue: a public chart at a default pinned version."""

    name: str
    repo: str
    chart: str
    version: str
    namespace: str
    summary: str
    enabled: bool = True
    crds: bool = False
    cluster_kinds: tuple[tuple[str, str], ...] = ()  # (group, kind)
    needs: tuple[str, ...] = ()
    monitored: bool = False
    ignore_differences: tuple[dict, ...] = ()
    system_namespaces: tuple[str, ...] = ()
    images: tuple[str, ...] = ()  # image prefixes its pods may pull (DD-WKL-010 for its Application's objects)
    host_paths: tuple[tuple[str, bool], ...] = ()  # (path, read-only) its pods mount by design (DD-PSS-019)
    line: int | None = None  # where the entry is written in the catalogue file
    _values: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))

    @property
    def values(self) -> dict:
        """The static default values (a fresh copy: callers may merge into it)."""
        return copy.deepcopy(dict(self._values))


def default_path() -> Path:
    return Path(str(resources.files("generator").joinpath("addons.yaml")))


def catalogue(path: Path | str | None = None) -> Mapping[str, CatalogueEntry]:
    """The catalogue by add-on name; `path` overrides the packaged generator/addons.yaml."""
    return _load(str(Path(path) if path else default_path()))


@lru_cache(maxsize=8)
def _load(path: str) -> Mapping[str, CatalogueEntry]:
    from .inputschema import schema_problems  # imports jsonschema: only when needed
    from .yamlload import load_document, read_text

    p = Path(path)
    display = _display(p)
    data, lines = load_document(read_text(p, display), display)
    problems = schema_problems(data, lines, "addons", display)
    if not problems:
        problems = _cross_check(data, lines, display)
    if problems:
        raise InputError(problems)
    out = {}
    for name, d in sorted(data["addons"].items()):
        out[name] = CatalogueEntry(
            name=name, repo=d["repo"], chart=d["chart"], version=str(d["version"]), namespace=d["namespace"],
            summary=d["summary"], enabled=d.get("enabled", True), crds=d.get("crds", False),
            cluster_kinds=tuple(_kind(k) for k in d.get("clusterKinds", ())),
            needs=tuple(d.get("needs", ())), monitored=d.get("monitored", False),
            ignore_differences=tuple(x for preset in d.get("ignoreDifferences", ()) for x in IGNORE_PRESETS[preset]),
            system_namespaces=tuple(d.get("systemNamespaces", ())), images=tuple(d.get("images", ())),
            host_paths=tuple((h["path"], h["readOnly"]) for h in d.get("hostPaths", ())),
            line=lines.get(("addons", name), (None,))[0], _values=MappingProxyType(copy.deepcopy(d.get("values", {}))))
    return MappingProxyType(out)


def _kind(text: str) -> tuple[str, str]:
    group, _, kind = text.rpartition("/")
    return group, kind


def _cross_check(data: dict, lines: dict, display: str) -> list[Problem]:
    names = set(data["addons"])
    out = []
    for name, d in sorted(data["addons"].items()):
        for i, need in enumerate(d.get("needs", ())):
            if need not in names:
                line, col = lines.get(("addons", name, "needs", i), (None, None))
                out.append(Problem(f"add-on '{name}' needs '{need}', which is not in the catalogue", display, line, col,
                                   f"addons.{name}.needs[{i}]", f"use one of: {', '.join(sorted(names))}"))
    return out


def _display(p: Path) -> str:
    try:
        return str(p.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(p)
