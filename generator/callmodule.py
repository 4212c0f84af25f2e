"""A module that is also a function of the public API.

`generator.diff` (the diff package) and `generator.promote` (the promotion module) share
their names with the API functions `generator.api.diff` / `generator.api.promote`. Python
binds a package attribute to a submodule whenever the submodule is imported, so a plain
function of that name in `generator/__init__.py` would be replaced mid-run. Instead the
two modules make themselves callable: `generator.diff(...)` runs `generator.api.diff(...)`
and `generator.diff.DiffResult` is still the module's class.
"""
from __future__ import annotations

import sys
from importlib import import_module
from types import ModuleType


class CallableModule(ModuleType):
    def __call__(self, *args, **kwargs):
        # By name at call time: the API sits above these modules and must not be imported by them.
        return getattr(import_module("generator.api"), self.__name__.rpartition(".")[2])(*args, **kwargs)


def make_callable(module_name: str) -> None:
    """Called at the end of the module `module_name`: from now on it can be called like the API function."""
    sys.modules[module_name].__class__ = CallableModule
