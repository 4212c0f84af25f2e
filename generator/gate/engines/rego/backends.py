"""The local Rego backends: embedded regorus (default) and the `opa` CLI.

Both answer `evaluate(input) -> value of data.drydock.rules`; `results.findings_from_result`
turns that into Findings the same way whichever backend spoke. The OPA server client is in
`opa_server.py`.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
from typing import Protocol

from ....errors import EngineError
from .bundle import QUERY, PolicyBundle
from .results import engine_error, query_value

DEFAULT_OPA_TIMEOUT = 30.0  # seconds; env DRYDOCK_OPA_TIMEOUT


class RegoEngine(Protocol):
    name: str

    def evaluate(self, input_doc: dict) -> dict:
        """The value of `data.drydock.rules` for input_doc (already null-free)."""



class RegorusEngine:
    """Embedded regorus: all modules added once; a cheap clone per evaluation."""

    name = "regorus"

    def __init__(self, bundle: PolicyBundle):
        import regorus

        self.bundle = bundle
        self._base = regorus.Engine()
        for m in bundle.modules:
            try:
                self._base.add_policy(str(m.path), m.text)
            except Exception as e:  # regorus raises RuntimeError with `--> file:line:col`
                raise engine_error(self.name, str(e), bundle, "policy does not parse") from None
        # Compile-time problems (unknown functions, conflicts) surface on the first
        # evaluation: do one now so a broken bundle fails at load, not mid-run.
        self.evaluate({"documents": [], "env": {}})

    def evaluate(self, input_doc: dict) -> dict:
        engine = self._base.clone()
        try:
            engine.set_input_json(json.dumps(input_doc))
            raw = engine.eval_query_as_json(QUERY)
        except Exception as e:
            raise engine_error(self.name, str(e), self.bundle, "policy evaluation failed") from None
        return query_value(json.loads(raw), self.name)



class OpaCliEngine:
    """`opa eval` from PATH, input on stdin, one process per evaluation."""

    name = "opa"

    def __init__(self, bundle: PolicyBundle, opa: str | None = None, timeout: float | None = None):
        self.bundle = bundle
        self.opa = opa or shutil.which("opa")
        if not self.opa:
            raise EngineError("opa engine: the `opa` binary is not on PATH",
                              hint="install OPA (https://www.openpolicyagent.org/docs/#running-opa) or use --engine regorus")
        self.timeout = timeout or env_timeout()
        self.evaluate({"documents": [], "env": {}})

    def evaluate(self, input_doc: dict) -> dict:
        cmd = [self.opa, "eval", "--format", "json", "--stdin-input"]
        for m in self.bundle.modules:
            cmd += ["--data", str(m.path)]
        cmd.append(QUERY)
        try:
            proc = subprocess.run(cmd, input=json.dumps(input_doc), capture_output=True, text=True,
                                  timeout=self.timeout)
        except subprocess.TimeoutExpired:
            raise EngineError(f"opa engine: `opa eval` did not finish within {self.timeout:g}s",
                              hint="set DRYDOCK_OPA_TIMEOUT to a larger value, or use --engine regorus") from None
        except OSError as e:
            raise EngineError(f"opa engine: cannot run {self.opa}: {e}", hint="check the opa binary, or use --engine regorus") from None
        try:
            out = json.loads(proc.stdout) if proc.stdout.strip() else {}
        except json.JSONDecodeError:
            out = {}
        if proc.returncode != 0 or out.get("errors"):
            raise self._error(out, proc.stderr or proc.stdout)
        return query_value(out, self.name)

    def _error(self, out: dict, text: str) -> EngineError:
        errors = out.get("errors") or []
        if errors and isinstance(errors[0], dict):
            e = errors[0]
            loc = e.get("location") or {}
            if loc.get("file"):
                return engine_error(self.name, f"--> {loc['file']}:{loc.get('row', 0)}\nerror: {e.get('message', '')}",
                                    self.bundle)
            return engine_error(self.name, f"error: {e.get('message', '')}", self.bundle)
        return engine_error(self.name, text or "opa eval failed without a message", self.bundle)


def env_timeout() -> float:
    try:
        return float(os.environ.get("DRYDOCK_OPA_TIMEOUT") or DEFAULT_OPA_TIMEOUT)
    except ValueError:
        return DEFAULT_OPA_TIMEOUT
