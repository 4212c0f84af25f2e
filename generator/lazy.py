"""Package namespaces that import a name's module only when the name is first used.

`generator`, `generator.diff` and `generator.gate.engines.rego` re-export names from their
modules; importing every module up front would make `drydock --help` pay for cdk8s, git
plumbing and the Rego engine. Each package hands its {name: module} table to `exports`.
"""
from __future__ import annotations

from importlib import import_module
from typing import Callable


def exports(package: str, table: dict[str, str], namespace: dict,
            submodules: tuple[str, ...] = ()) -> tuple[Callable[[str], object], Callable[[], list[str]]]:
    """(__getattr__, __dir__) for `package`: a name is loaded from `package.<table[name]>` and kept.

    A name in `submodules` is the submodule of that name itself (not an attribute of it).
    """
    def __getattr__(name: str):
        module = table.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        if name in submodules:
            return import_module(f"{package}.{name}")
        value = getattr(import_module(f"{package}.{module}"), name)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted(set(namespace) | set(table))

    return __getattr__, __dir__
