"""The platform gate: one env's whole render (with expanded Helm add-ons) as the system it becomes.

`PlatformGate.run(docs, ctx)` builds the System once (generator/platform/system.py) and
runs every check in CHECKS over it. A check is `check(system, ctx) -> (findings, extras)`;
extras (e.g. a reachability matrix) become top-level keys of the JSON report. Adding a
check = one line in `_checks()`.

Fail closed: a check that crashes is an EngineError (exit 2) naming the check, never a pass.
"""
from __future__ import annotations

import importlib
from typing import Callable, Sequence

from ...core import Document, Finding
from ...errors import EngineError
from . import EngineResult

Check = Callable[..., "tuple[list[Finding], dict]"]

# Modules with a `check(system, ctx)`, in report order. A module that does not exist is
# skipped (a trimmed install); one that fails is an error.
CHECK_MODULES = ("generator.platform.argo", "generator.platform.identity", "generator.platform.network")


def _checks() -> list[tuple[str, Check]]:
    out = []
    for name in CHECK_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as e:
            if e.name == name:
                continue
            raise EngineError(f"platform: cannot import {name}: {e}", hint="reinstall drydock (pip install -e .)") from e
        out.append((name.rsplit(".", 1)[1], module.check))
    return out


class PlatformGate:
    name = "platform"

    def run(self, docs: Sequence[Document], ctx) -> EngineResult:
        from ...platform.system import build_system

        env = getattr(ctx, "env", None)
        try:
            system = build_system(docs, env)
        except Exception as e:  # an unforeseen input shape must not pass silently
            raise EngineError(f"platform: cannot model the render of env '{env}': {type(e).__name__}: {e}",
                              hint="report this with the manifest that triggers it") from e
        result = EngineResult()
        for name, check in _checks():
            try:
                findings, extras = check(system, ctx)
            except EngineError:
                raise
            except Exception as e:
                raise EngineError(f"platform: check '{name}' failed on env '{env}': {type(e).__name__}: {e}",
                                  hint="report this with the manifest that triggers it") from e
            result.findings += findings
            result.extras.update(extras or {})
        return result
